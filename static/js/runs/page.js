// The Runs place: every run, live and recorded, newest first (GET /api/runs, docs/api.md
// "Recorded runs"), with search, filters, paging ("Load more"), two runs picked to compare,
// and each run's actions.  The rows are in row.js, the search and filters in toolbar.js.
// While the place shows it asks again every few seconds, so runs starting and ending appear.

import { api } from "../api.js";
import { bannerNode, button, el } from "../dom.js";
import { ACTIVE, keptFor, runTitle } from "./format.js";
import { RunRow } from "./row.js";
import { RunsToolbar } from "./toolbar.js";

const PAGE = 50;
const MAX_LISTED = 1000; // what one GET /api/runs answers at most
const POLL_MS = 3000;
const STATUS_MS = 6000;
const COLUMNS = [["", "Select"], ["Title"], ["Started"], ["Duration"], ["State"], ["Host"], ["Size"], ["", "Actions"]];

/** Mount the Runs place in `panel`.  `host`: {attach(run, viewerUrl), openOutput(),
 * current() -> {id, state}, limits} (app.js; attach is how the Output step follows a run). */
export function mountRuns(panel, host) {
  return new RunsPage(panel, host);
}

/** What a failed GET /api/runs means, and how to get past it. */
function explain(err) {
  if (err.code === "not_recorded") {
    return ["Runs are not recorded on this server (record_runs).", "Start dtrace-ide with DTRACE_IDE_RECORD_RUNS=1 (the default) to keep every run."];
  }
  if (err.status === 0) return ["The server cannot be reached.", "Check that dtrace-ide is still running; the list tries again every few seconds."];
  if (err.status === 401 || err.status === 403) {
    return ["This browser's session has ended.", "Open the URL dtrace-ide printed when it started (the one with ?token=) again."];
  }
  return [`The runs could not be read: ${err.message}`, "Press Retry; if it goes on failing, the server's log says why."];
}

class RunsPage {
  constructor(panel, host) {
    this.panel = panel;
    this.host = host;
    this.recording = host.limits?.record_runs !== false;
    this.runs = []; // newest first, as the server answered
    this.rows = new Map(); // run id -> RunRow
    this.selected = new Set(); // ids picked to compare (two at most)
    this.more = false;
    this.asked = 0; // the number of the last request: older answers are dropped
    this.waiting = false; // a request is on its way
    this.timer = null;
    this.build();
    new MutationObserver(() => this.visibilityChanged()).observe(panel, { attributes: true, attributeFilter: ["hidden"] });
    document.addEventListener("visibilitychange", () => this.visibilityChanged());
    this.visibilityChanged(); // the tab may have been chosen before the page was ready
  }

  build() {
    const box = el("div", "runs card");
    const head = el("div", "runs-head");
    const heading = el("h2", "runs-heading", "Runs");
    heading.id = "runs-heading";
    this.count = el("span", "runs-count muted");
    this.count.id = "runs-count";
    const kept = keptFor(this.host.limits?.archive_max_age_s);
    const note = this.recording
      ? `Every run is kept here for ${kept}; pinned runs are never expired. Open one to see its charts again.`
      : "This server does not record runs: only the runs still in its memory are listed.";
    head.append(heading, this.count, el("p", "runs-note muted", note));

    this.toolbar = new RunsToolbar({
      changed: () => this.reload(),
      imported: (run) => this.imported(run),
      say: (text, kind) => this.say(text, kind),
    });
    this.banners = el("div", "banners runs-banners");
    this.status = el("div", "runs-status");
    this.status.id = "runs-status";
    this.status.setAttribute("role", "status");

    const table = el("table", "runs-table");
    table.setAttribute("aria-labelledby", "runs-heading");
    const tr = el("tr");
    for (const [label, hidden] of COLUMNS) {
      const th = el("th", "", label);
      th.scope = "col";
      if (hidden) th.append(el("span", "runs-sr", hidden));
      tr.append(th);
    }
    const thead = el("thead");
    thead.append(tr);
    this.body = el("tbody");
    this.body.id = "runs-body";
    table.append(thead, this.body);
    this.empty = el("div", "runs-empty");
    this.empty.id = "runs-empty";
    this.empty.hidden = true;
    const wrap = el("div", "runs-table-wrap");
    wrap.append(table, this.empty);

    const foot = el("div", "runs-foot");
    this.moreButton = button("Load more", "btn runs-more", () => this.loadMore(), "Load older runs");
    this.moreButton.id = "runs-more";
    this.moreButton.hidden = true;
    foot.append(this.moreButton);
    box.append(head, this.toolbar.box, this.banners, this.status, wrap, foot);
    this.panel.replaceChildren(box);
  }

  // --- when to ask ----------------------------------------------------------------------

  get showing() {
    return !this.panel.hidden && document.visibilityState !== "hidden";
  }

  visibilityChanged() {
    clearInterval(this.timer);
    this.timer = null;
    if (!this.showing) return;
    this.refresh();
    this.timer = setInterval(() => this.refresh({ polled: true }), POLL_MS);
  }

  /** The list as it is now, from the top, as many runs as are shown (or one page). */
  refresh({ polled = false } = {}) {
    const limit = Math.min(MAX_LISTED, Math.max(PAGE, this.runs.length));
    const take = (runs) => {
      this.runs = runs;
      this.more = runs.length >= limit && limit < MAX_LISTED;
    };
    return this.fetch({ limit }, take, polled);
  }

  /** The filters changed: the list starts again from the top (what was on its way answered
   * the old filters, and is dropped). */
  reload() {
    this.runs = [];
    return this.fetch({ limit: PAGE }, (runs) => {
      this.runs = runs;
      this.more = runs.length >= PAGE;
    });
  }

  /** The next page: runs started before the oldest one shown.  `before` is a second after
   * its start (times have whole seconds), and what is already shown is left out. */
  loadMore() {
    const last = this.runs[this.runs.length - 1];
    if (!last) return this.reload();
    const before = Date.parse(last.started_at) / 1000 + 1;
    this.moreButton.disabled = true;
    return this.fetch({ limit: PAGE, before: String(before) }, (runs) => {
      const known = new Set(this.runs.map((r) => r.id));
      const fresh = runs.filter((r) => !known.has(r.id));
      this.runs = this.runs.concat(fresh);
      this.more = runs.length >= PAGE && fresh.length > 0;
    }).finally(() => (this.moreButton.disabled = false));
  }

  /** GET /api/runs with the filters and `params`, then `take` the runs and show them.  A
   * `polled` request is not made while another is on its way, and gives way to a newer one. */
  async fetch(params, take, polled = false) {
    if (polled && this.waiting) return;
    const ask = ++this.asked;
    this.waiting = true;
    const query = new URLSearchParams({ ...this.toolbar.filters(), ...params });
    let answer;
    try {
      answer = await api("GET", `/api/runs?${query}`);
    } catch (err) {
      if (ask === this.asked) this.failed(err);
      return;
    } finally {
      if (ask === this.asked) this.waiting = false;
    }
    if (ask !== this.asked) return; // a newer request is on its way
    this.banners.querySelector('[data-key="list"]')?.remove();
    take(answer.runs || []);
    this.render();
  }

  failed(err) {
    const [message, fix] = explain(err);
    this.banners.querySelector('[data-key="list"]')?.remove();
    const note = bannerNode("error", message, fix);
    note.dataset.key = "list";
    note.insertBefore(button("Retry", "btn btn-small", () => this.refresh()), note.lastChild);
    this.banners.append(note);
    if (!this.runs.length) this.render();
  }

  // --- the list -------------------------------------------------------------------------

  render() {
    const now = Date.now();
    const ids = new Set(this.runs.map((r) => r.id));
    for (const [id, row] of this.rows) {
      if (ids.has(id)) continue;
      row.tr.remove();
      this.rows.delete(id);
    }
    for (const id of [...this.selected]) if (!ids.has(id)) this.selected.delete(id);
    let at = this.body.firstChild;
    for (const run of this.runs) {
      let row = this.rows.get(run.id);
      if (!row) {
        row = new RunRow(run, this.actions());
        this.rows.set(run.id, row);
      } else if (!row.busy) {
        row.update(run, now);
      }
      if (row.tr === at) at = at.nextSibling;
      else this.body.insertBefore(row.tr, at); // moved only when out of place: focus stays
    }
    this.renderSelection();
    this.renderEmpty();
    const n = this.runs.length;
    this.count.textContent = n ? `${n} run${n === 1 ? "" : "s"}${this.more ? " shown" : ""}` : "";
    this.moreButton.hidden = !this.more;
  }

  renderEmpty() {
    const none = this.runs.length === 0 && !this.banners.querySelector('[data-key="list"]');
    this.empty.hidden = !none;
    this.panel.dataset.runs = String(this.runs.length);
    if (!none) return;
    if (this.toolbar.filtering()) {
      this.empty.replaceChildren(
        el("p", "runs-empty-title", "No run matches this search."),
        button("Show every run", "btn btn-small", () => this.toolbar.clear()),
      );
      return;
    }
    const kept = this.recording ? `every run is kept here for ${keptFor(this.host.limits?.archive_max_age_s)}` : "this server keeps only the runs in its memory";
    this.empty.replaceChildren(
      el("p", "runs-empty-title", `No runs yet: write a script and press Run; ${kept}.`),
      el("p", "muted", "Pin a run to keep it for good; pick two to compare them."),
    );
  }

  renderSelection() {
    const picked = this.runs.filter((r) => this.selected.has(r.id));
    for (const [id, row] of this.rows) row.setSelected(this.selected.has(id), picked.length >= 2);
    this.toolbar.showSelection(picked.reverse()); // older first: "before" and "after"
  }

  say(text, kind = "info") {
    this.status.textContent = text;
    this.status.className = `runs-status runs-status-${kind}`;
    clearTimeout(this.statusTimer);
    this.statusTimer = setTimeout(() => (this.status.textContent = ""), STATUS_MS);
  }

  // --- what a row does ------------------------------------------------------------------

  actions() {
    return {
      open: (run) => this.open(run),
      pin: (run) => this.pin(run),
      rename: (run, title) => this.patch(run, { title }, `Renamed to "${title}".`),
      remove: (run) => this.remove(run),
      select: (run, on) => {
        if (on && this.selected.size < 2) this.selected.add(run.id);
        else this.selected.delete(run.id);
        this.renderSelection();
      },
      say: (text) => this.say(text),
      titleOf: (id) => {
        const found = this.runs.find((r) => r.id === id);
        return found ? runTitle(found) : null;
      },
    };
  }

  async open(run) {
    const shown = this.host.current();
    if (shown.id && shown.id !== run.id && ACTIVE.has(shown.state)) {
      const leave = window.confirm(
        "The Output step is following a running run. Leave it for this one? (A run not started with \"Keep running\" stops soon after nobody watches it.)",
      );
      if (!leave) return;
    }
    let full;
    try {
      full = await api("GET", `/api/runs/${encodeURIComponent(run.id)}`);
    } catch (err) {
      this.say(err.status === 404 ? `"${runTitle(run)}" is gone: its record was deleted or expired.` : `Could not open "${runTitle(run)}": ${err.message}`, "error");
      this.refresh();
      return;
    }
    this.host.attach(full, full.viewer_url || "");
    this.host.openOutput();
  }

  pin(run) {
    const on = !run.pinned;
    const title = runTitle(run);
    return this.patch(run, { pinned: on }, on ? `Pinned "${title}": it is never expired.` : `Unpinned "${title}": it expires like the others.`);
  }

  /** PATCH the run's record; the row shows the answer.  Resolves to true when it was done. */
  async patch(run, body, done) {
    let answer;
    try {
      answer = await api("PATCH", `/api/runs/${encodeURIComponent(run.id)}`, body);
    } catch (err) {
      this.say(`Not changed: ${err.message}`, "error");
      return false;
    }
    const kept = this.runs.find((r) => r.id === run.id);
    if (kept) Object.assign(kept, { pinned: answer.pinned, title: answer.title });
    this.say(done);
    this.render();
    return true;
  }

  async remove(run) {
    try {
      await api("DELETE", `/api/runs/${encodeURIComponent(run.id)}/record`);
    } catch (err) {
      this.say(err.code === "run_active" ? "The run is still going: stop it first, then delete its record." : `Not deleted: ${err.message}`, "error");
      return false;
    }
    this.runs = this.runs.filter((r) => r.id !== run.id);
    this.say(`Deleted the record of "${runTitle(run)}".`);
    this.render();
    return true;
  }

  async imported(run) {
    this.say(`Imported "${runTitle(run)}" as a new run.`);
    await this.reload();
    const row = this.rows.get(run.id);
    if (!row) return;
    row.tr.classList.add("runs-new");
    row.tr.scrollIntoView({ block: "nearest" });
  }
}
