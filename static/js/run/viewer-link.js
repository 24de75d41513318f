// The Output step's viewer-link row: the run's read-only link to copy, when it expires, and
// (for the signed-in page) a new link with an expiry, or the link revoked
// (POST / DELETE /api/runs/ID/viewer-link, docs/api.md "Viewer links").

import { api } from "../api.js";
import { byId } from "../dom.js";

const REFRESH_MS = 30 * 1000; // how often "expires in …" is counted down

/** "3 days", "5 h 20 min", "12 min", "40 s": how long until `seconds` from now. */
export function formatLeft(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s >= 2 * 86400) return `${Math.floor(s / 86400)} days`;
  if (s >= 3600) {
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    return m ? `${h} h ${m} min` : `${h} h`;
  }
  if (s >= 60) return `${Math.floor(s / 60)} min`;
  return `${s} s`;
}

/** What the row says of a link: `fields` as runs carry them (viewer_url, viewer_revoked,
 * viewer_expires_in), `left` the seconds it has now (null: it never expires). */
export function linkStatus(fields, left) {
  if (fields.viewer_revoked) return { text: "revoked: make a new link to share the run again", kind: "warn" };
  if (!fields.viewer_url) return { text: "expired: make a new link to share the run again", kind: "warn" };
  if (left === null) return { text: "never expires", kind: "muted" };
  return { text: left > 0 ? "expires in " + formatLeft(left) : "expired", kind: left > 0 ? "muted" : "warn" };
}

export class ViewerLinkRow {
  /**
   * @param root the element holding the Output markup (templates/_output.html)
   * @param options.readOnly the viewer page: the link to copy, no controls
   * @param options.onError(message) a request that failed
   */
  constructor(root, { readOnly = false, onError = () => {} } = {}) {
    const $ = (id) => byId(id, root);
    this.els = {
      row: $("viewer-link-row"),
      input: $("viewer-link"),
      copy: $("copy-viewer-link"),
      status: $("viewer-link-status"),
      expiry: $("viewer-link-expiry"),
      renew: $("new-viewer-link"),
      revoke: $("revoke-viewer-link"),
    };
    this.readOnly = readOnly;
    this.onError = onError;
    this.runId = null;
    this.timer = null;
    this.els.copy.addEventListener("click", () => this.copy());
    this.els.renew?.addEventListener("click", () => this.change("POST"));
    this.els.revoke?.addEventListener("click", () => this.change("DELETE"));
  }

  /** Show run `runId`'s link from `fields` (a Run's, or {viewer_url} alone); the signed-in
   * page then asks the server for the link as it is now (another tab may have changed it). */
  show(runId, fields) {
    this.runId = runId;
    this.els.row.hidden = false;
    this.apply(fields);
    if (!this.readOnly) this.refresh(runId);
  }

  hide() {
    this.runId = null;
    clearInterval(this.timer);
    this.timer = null;
    this.els.row.hidden = true;
  }

  async refresh(runId) {
    try {
      const fields = await api("GET", `/api/runs/${encodeURIComponent(runId)}/viewer-link`);
      if (this.runId === runId) this.apply(fields);
    } catch {
      // The row keeps what it was given; the link is checked again on New link or Revoke.
    }
  }

  apply(fields) {
    const e = this.els;
    const url = fields.viewer_url;
    e.input.value = url ? new URL(url, location.href).href : "";
    e.input.placeholder = url ? "" : "no working link";
    e.copy.disabled = !url;
    if (e.revoke) e.revoke.disabled = !url;
    const expiresIn = typeof fields.viewer_expires_in === "number" ? fields.viewer_expires_in : null;
    const deadline = expiresIn === null ? null : performance.now() + expiresIn * 1000;
    const paint = () => {
      const left = deadline === null ? null : (deadline - performance.now()) / 1000;
      const { text, kind } = linkStatus(fields, left);
      e.status.textContent = text;
      e.status.className = "viewer-link-status " + (kind === "warn" ? "warn-text" : "muted");
      if (left !== null && left <= 0) {
        e.copy.disabled = true;
        if (e.revoke) e.revoke.disabled = true;
      }
    };
    clearInterval(this.timer);
    this.timer = deadline === null ? null : setInterval(paint, REFRESH_MS);
    paint();
  }

  /** POST: a new link (the old one stops working) with the expiry chosen; DELETE: revoke. */
  async change(method) {
    const runId = this.runId;
    if (!runId || this.readOnly) return;
    const e = this.els;
    const path = `/api/runs/${encodeURIComponent(runId)}/viewer-link`;
    const seconds = Number(e.expiry?.value || 0);
    e.renew.disabled = e.revoke.disabled = true;
    try {
      const fields = await api(method, path, method === "POST" ? { expires_in: seconds > 0 ? seconds : null } : undefined);
      if (this.runId === runId) this.apply(fields);
    } catch (err) {
      if (this.runId === runId) this.onError((method === "POST" ? "A new link could not be made: " : "The link could not be revoked: ") + err.message);
    } finally {
      e.renew.disabled = false;
      if (this.runId === runId && !e.copy.disabled) e.revoke.disabled = false;
    }
  }

  async copy() {
    const input = this.els.input;
    try {
      await navigator.clipboard.writeText(input.value);
    } catch {
      input.select();
      document.execCommand("copy");
    }
    const b = this.els.copy;
    b.textContent = "Copied";
    setTimeout(() => (b.textContent = "Copy"), 1500);
  }
}
