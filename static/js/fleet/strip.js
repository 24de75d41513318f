// A fleet run in the Output step: the "Total / By host" toggle beside "Cumulative / Per
// interval", and the host strip under the run bar, a chip per host with its state in the
// run (docs/fleet.md, "Hosts: online, lost, returned").  A local run shows neither.
//
// Host names and errors come from the agents: they are set as text only.

import { api } from "../api.js";
import { byId, el } from "../dom.js";
import { hostStateLabel, secondsAgo } from "./hosts.js";

const STILL_RUNNING = new Set(["waiting", "online", "returned"]);
const ENDED_TRIES = 5;
const ENDED_RETRY_MS = 1500;

function lastT(t) {
  return typeof t === "number" && Number.isFinite(t) ? `${t.toFixed(1)} s` : "";
}

/** A chip's title: what its state means, how far its data goes, when it was last heard. */
function chipTitle(name, h, now) {
  const parts = [`${name}: ${hostStateLabel(h.state)}`];
  if (h.state === "failed" && h.error) parts.push(String(h.error));
  if (h.state === "lost") parts.push("Nothing heard from it lately: its charts keep the last data it sent.");
  if (h.state === "returned") parts.push("Heard from again after it was lost; its newer snapshots are merged.");
  if (h.state === "waiting") parts.push("Nothing heard from it in this run yet.");
  if (typeof h.last_t === "number") parts.push(`Its latest snapshot: ${lastT(h.last_t)} into the run.`);
  if (typeof h.last_seen === "number") parts.push(`Last heard from ${secondsAgo(h.last_seen, now)}.`);
  return parts.join("\n");
}

export class FleetView {
  /**
   * @param root the element that holds the Output markup (templates/_output.html)
   * @param send(msg) sends a message on the run's stream
   */
  constructor(root, send) {
    this.toggle = byId("host-view", root);
    this.strip = byId("host-strip", root);
    this.title = byId("host-strip-title", root);
    this.chips = byId("host-chips", root);
    this.send = send;
    this.radios = [...root.querySelectorAll('input[name="host-view"]')];
    for (const radio of this.radios) {
      radio.addEventListener("change", () => radio.checked && this.setByHost(radio.value === "by-host"));
    }
    this.reset();
  }

  /** A new run (`runId`, null for none): a local one until its hosts are heard of.  The
   * view chosen stays from run to run, as "Per interval" does. */
  reset(runId = null) {
    this.runId = runId;
    this.asking = false;
    this.active = false;
    this.replaying = false;
    this.byHost = this.radios.some((r) => r.checked && r.value === "by-host");
    this.toggle.hidden = true;
    this.strip.hidden = true;
    this.chips.replaceChildren();
    this.rows = new Map();
  }

  /** A message or a Run of this run: when it carries `hosts` the run is a fleet run. */
  heard(msg) {
    // A replay's panels are of the recorded snapshots, which are by host.
    if (msg?.type === "snapshot" || msg?.type === "replay") this.replaying = msg.type === "replay";
    const hosts = msg?.hosts;
    if (!hosts || typeof hosts !== "object") return;
    if (!this.active) {
      this.active = true;
      this.toggle.hidden = false;
      this.strip.hidden = false;
      this.reopened(); // a view by host asked for before the run was known to be a fleet's
    }
    this.show(hosts);
  }

  show(hosts, now = Date.now() / 1000) {
    const names = Object.keys(hosts).sort();
    for (const [name, chip] of this.rows) {
      if (!(name in hosts)) {
        chip.li.remove();
        this.rows.delete(name);
      }
    }
    const tally = new Map();
    names.forEach((name, i) => {
      const h = hosts[name] || {};
      tally.set(h.state, (tally.get(h.state) || 0) + 1);
      const chip = this.chip(name);
      chip.li.className = "host-chip host-" + (h.state || "unknown");
      chip.li.dataset.state = h.state || "";
      chip.state.textContent = hostStateLabel(h.state);
      chip.t.textContent = lastT(h.last_t);
      chip.li.title = chipTitle(name, h, now);
      if (this.chips.children[i] !== chip.li) this.chips.insertBefore(chip.li, this.chips.children[i] || null);
    });
    const summary = [...tally].map(([state, n]) => `${n} ${state || "unknown"}`);
    this.title.textContent = `${names.length} ${names.length === 1 ? "host" : "hosts"}`;
    this.title.title = summary.join(", ");
  }

  chip(name) {
    let chip = this.rows.get(name);
    if (chip) return chip;
    const li = el("li", "host-chip");
    li.dataset.host = name;
    chip = { li, state: el("span", "host-chip-state"), t: el("span", "host-chip-t") };
    li.append(el("span", "host-dot"), el("span", "host-chip-name", name), chip.state, chip.t);
    this.rows.set(name, chip);
    return chip;
  }

  /** Whether the keys of `panel` (as shown now) start with the host. */
  hostFirst(panel) {
    return this.active && (this.replaying || panel?.host_first === true);
  }

  setByHost(on) {
    this.byHost = on;
    if (this.active) this.send({ type: "view", by_host: on });
  }

  /** The stream opened (again): the server starts each viewer in the total view. */
  reopened() {
    if (this.active && this.byHost) this.send({ type: "view", by_host: true });
  }

  /** The run ended: its hosts' final states, asked of the API (the last snapshot may
   * predate them) until no host is still running, a few times at most. */
  async ended() {
    const runId = this.runId;
    if (!this.active || !runId || this.asking) return;
    this.asking = true;
    for (let i = 0; i < ENDED_TRIES && this.runId === runId; i++) {
      try {
        const run = await api("GET", `/api/runs/${encodeURIComponent(runId)}`);
        if (this.runId !== runId) break;
        this.heard(run);
        if (!Object.values(run?.hosts || {}).some((h) => STILL_RUNNING.has(h?.state))) break;
      } catch {
        break; // the strip keeps what the stream last said
      }
      await new Promise((done) => setTimeout(done, ENDED_RETRY_MS));
    }
    if (this.runId === runId) this.asking = false;
  }
}
