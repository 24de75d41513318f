// Step 3, "Output": one live run over its websocket — state, panels, console, banners,
// exports.  Shared by the wizard and the read-only viewer page.  Each concern has its
// module in run/: the run bar and clock, the console, the panels grid, the problems
// banner, the websocket client.
//
// Everything that comes from the tracer (keys, output lines, messages) is untrusted and is
// only ever inserted as text.

import { api } from "./api.js";
import { byId } from "./dom.js";
import { download, exportName, snapshotCsv } from "./export.js";
import { loadPlotly } from "./plotly-loader.js";
import { FleetView } from "./fleet/strip.js";
import { Banners } from "./run/banners.js";
import { RunConsole } from "./run/console.js";
import { tablePanels } from "./run/format.js";
import { PanelsGrid } from "./run/panels.js";
import { LivePause } from "./run/pause.js";
import { RunBar, TERMINAL, stateLabel } from "./run/run-bar.js";
import { showCost } from "./run/cost.js";
import { Scrubber } from "./run/scrubber.js";
import { StreamClient } from "./run/stream.js";
import { ViewerLinkRow } from "./run/viewer-link.js";

export { formatClock, tableFromAggregation } from "./run/format.js";

const MAX_RECORDED_CHARS = 64 * 1024 * 1024; // NDJSON export kept in memory

export class RunView {
  /**
   * @param root the element that holds the Output markup (templates/_output.html)
   * @param options.readOnly hide the controls that change the run
   * @param options.onState called with each state message
   * @param options.drill the drilldown menu a click on a key opens (run/drill.js), or null
   * @param options.crumbs the drilldown breadcrumb (run/crumbs.js), or null
   */
  constructor(root, { readOnly = false, onState = () => {}, drill = null, crumbs = null } = {}) {
    this.root = root;
    this.readOnly = readOnly;
    this.onState = onState;
    this.drill = drill;
    this.crumbs = crumbs;
    const $ = (id) => byId(id, root);
    this.els = {
      stop: $("stop-run"),
      exportMenu: $("export-menu"),
    };
    this.bar = new RunBar({ state: $("run-state"), progress: $("run-progress"), clock: $("run-clock"), stop: $("stop-run") });
    this.banners = new Banners($("banners"));
    this.viewerLink = new ViewerLinkRow(root, { readOnly, onError: (message) => this.banners.show("error", message, null) });
    this.pauseButton = $("pause-view");
    this.pause = new LivePause(this.pauseButton, $("pause-note"), (held) => {
      if (held.snapshot) this.handle(held.snapshot);
      if (held.lines.length || held.dropped) this.console.append(held.lines, held.dropped);
    });
    this.console = new RunConsole({
      console: $("console"),
      consoleCount: $("console-count"),
      consoleDropped: $("console-dropped"),
      consoleWrap: $("console-wrap"),
      consoleClear: $("console-clear"),
    });
    this.grid = new PanelsGrid(root, { panels: $("panels"), empty: $("panels-empty") }, this);
    this.fleet = new FleetView(root, (msg) => this.send(msg));
    const scrub = { box: $("scrubber"), range: $("scrub-range"), time: $("scrub-time"), play: $("scrub-play"), speed: $("scrub-speed"), live: $("scrub-live") };
    this.costEl = $("run-cost");
    this.scrubber = new Scrubber(scrub, (msg) => this.sendSeek(msg), () => TERMINAL.has(this.state));
    this.baseTitle = document.title;
    this.stream = null;
    this.timer = null;
    this.reset();
    this.bind();
  }

  bind() {
    const e = this.els;
    e.stop?.addEventListener("click", () => this.stop());
    for (const radio of this.root.querySelectorAll('input[name="view-mode"]')) {
      radio.addEventListener("change", () => this.setPerInterval(radio.value === "interval" && radio.checked));
    }
    e.exportMenu.addEventListener("click", (ev) => {
      const button = ev.target.closest("button[data-export]");
      if (!button) return;
      this.export(button.dataset.export);
      e.exportMenu.open = false;
    });
    document.addEventListener("click", (ev) => {
      if (e.exportMenu.open && !e.exportMenu.contains(ev.target)) e.exportMenu.open = false;
    });
    e.exportMenu.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape") {
        e.exportMenu.open = false;
        e.exportMenu.querySelector("summary").focus();
      }
    });
  }

  get state() {
    return this.bar.state;
  }

  /** Forget the previous run: empty panels, console and banners. */
  reset() {
    this.drill?.close();
    this.stream?.close();
    this.stream = null;
    clearInterval(this.timer);
    this.runId = null;
    this.snapshot = null;
    this.messages = [];
    this.snapshots = 0;
    this.recordedChars = 0;
    this.unrecorded = 0;
    this.grid.reset();
    this.fleet.reset();
    this.pause.reset();
    this.scrubber.reset();
    showCost(this.costEl, null);
    this.pauseButton.disabled = true;
    this.banners.clear();
    this.console.clear();
    this.grid.showEmpty("Waiting for the first snapshot…", "Charts appear here once the tracer reports its aggregations.");
    this.bar.reset();
    this.viewerLink.hide();
    this.root.dataset.runId = "";
    this.root.dataset.state = "";
    this.root.dataset.snapshots = "0";
    document.title = this.baseTitle;
  }

  /** Follow run `id`.  `viewerUrl` is shown for copying (`viewerLink`: the link's fields,
   * docs/api.md); `drawCharts` false keeps tables. */
  start({ id, viewerUrl = null, viewerLink = null, streamUrl = null, drawCharts = true, duration = 0, hosts = null }) {
    this.reset();
    this.runId = id;
    this.fleet.reset(id);
    this.fleet.heard({ hosts }); // a fleet run's hosts, from POST /api/runs
    this.root.dataset.runId = id;
    this.crumbs?.show(id);
    this.drawCharts = drawCharts;
    this.perInterval = this.root.querySelector('input[name="view-mode"][value="interval"]')?.checked || false;
    this.applyState({ state: "starting", elapsed: 0, duration, error: null });
    // The signed-in page shows the row even without a working link: it can make a new one.
    if (viewerUrl || viewerLink || !this.readOnly) this.viewerLink.show(id, viewerLink || { viewer_url: viewerUrl });
    if (drawCharts) {
      loadPlotly().then(
        () => this.grid.scheduleRender(),
        (err) => {
          this.drawCharts = false;
          this.send({ type: "view", per_interval: this.perInterval, charts: false });
          this.banners.show("charts", "Charts cannot be drawn: " + err.message, "Every aggregation is shown as a table instead.");
          this.grid.scheduleRender();
        },
      );
    }
    this.timer = setInterval(() => this.bar.tick(), 250);
    this.stream = new StreamClient(id, streamUrl, this.streamHandlers());
    this.stream.connect();
  }

  streamHandlers() {
    return {
      state: () => this.state,
      onCannotOpen: (err) => this.banners.show("error", "The live stream cannot be opened: " + err.message, null),
      onOpen: (again) => {
        // A joining viewer is sent the recent output again: start the console afresh.
        if (again) this.console.clear();
        this.banners.remove("connection");
        if (this.perInterval || !this.drawCharts) {
          this.send({ type: "view", per_interval: this.perInterval, charts: this.drawCharts });
        }
        this.fleet.reopened();
      },
      onRaw: (raw) => this.record(raw),
      onMessage: (msg) => this.handle(msg),
      onRun: (run) => this.applyFinalRun(run),
      onGone: () => this.applyState({ state: "failed", error: "the run no longer exists on the server" }),
      onLost: (final) =>
        final
          ? this.banners.show("connection", "Lost the connection to the live stream.", "Reload the page to try again; the last snapshot stays on screen.")
          : this.banners.show("connection", "Connection to the live stream lost; reconnecting…", null),
    };
  }

  send(msg) {
    this.stream?.send(msg);
  }

  /** A Run from GET/DELETE /api/runs/ID: its state, and its last snapshot if none shown. */
  applyFinalRun(run) {
    if (!this.grid.panels && run.snapshot) {
      this.snapshot = run.snapshot;
      this.grid.show(tablePanels(run.snapshot));
    }
    if (!this.console.lines && run.output.length) this.console.append(run.output, 0);
    if (run.cost) showCost(this.costEl, run.cost);
    this.fleet.heard(run);
    this.applyState(run);
  }

  record(raw) {
    if (this.recordedChars + raw.length > MAX_RECORDED_CHARS) {
      this.unrecorded += 1;
      return;
    }
    this.recordedChars += raw.length;
    this.messages.push(raw);
  }

  handle(msg) {
    if (this.pause.hold(msg)) return;
    this.fleet.heard(msg); // a fleet run's state, snapshot and replay carry its hosts
    switch (msg.type) {
      case "state":
        this.applyState(msg);
        break;
      case "snapshot":
        // bench/bench_page.py reads these marks: message in, to chart repainted.
        performance.mark("dtrace-ide:snapshot");
        this.snapshots += 1;
        this.root.dataset.snapshots = String(this.snapshots);
        this.snapshot = msg.snapshot;
        this.bar.reached(msg.snapshot.t);
        this.scrubber.reached(msg.snapshot.t);
        showCost(this.costEl, msg.cost);
        // Without "panels" (charts switched off) every aggregation is shown as a table.
        this.grid.show(Array.isArray(msg.panels) ? msg.panels : tablePanels(msg.snapshot));
        break;
      case "replay":
        this.showMoment(msg);
        break;
      case "output":
        if (msg.reset) this.console.clear();
        this.console.append(msg.lines, msg.dropped);
        break;
      case "error":
        if (msg.code === "not_recorded") this.scrubber.disable(msg.message);
        if (msg.code === "link_refused") this.stream?.close(); // revoked or expired: no retrying
        this.banners.show(msg.severity === "note" ? "note" : "error", msg.message, msg.fix, msg.count);
        break;
      case "note":
        this.banners.show("note", msg.message, msg.fix, msg.count);
        break;
      default:
        break;
    }
  }

  // --- scrubbing back ------------------------------------------------------------------

  /** A seek or live message from the scrubber: a paused view is let go without its held
   * messages (the moment asked for replaces them). */
  sendSeek(msg) {
    if (this.pause.paused) this.pause.reset();
    this.send(msg);
  }

  /** A `replay` message: the run as it was at moment `msg.t`. */
  showMoment(msg) {
    // Not shown: answers to a moment left behind, or that came after the user went live.
    if (!this.scrubber.answered(msg)) return;
    this.snapshot = msg.snapshot;
    if (msg.snapshot) {
      this.grid.show(Array.isArray(msg.panels) ? msg.panels : tablePanels(msg.snapshot));
    } else {
      this.grid.showEmpty("Nothing had been reported yet at this moment.", "Drag the slider to the right to see the first snapshot.");
    }
    this.console.clear();
    this.console.append(msg.output, 0);
  }

  // --- state ----------------------------------------------------------------------------

  /** A state message or a Run (docs/protocol.md, docs/api.md): both carry `state`. */
  applyState(msg) {
    const state = msg.state;
    this.bar.update(state, msg, !this.readOnly);
    this.root.dataset.state = state;
    this.pauseButton.disabled = state !== "running";
    this.scrubber.show();
    // The run is over: what it ended with is shown, paused or not.
    if (TERMINAL.has(state)) this.pause.play();
    if (state === "failed") {
      const kept = this.grid.shown ? "The last snapshot received stays on screen. " : "";
      const again = this.readOnly ? "" : "Edit the script or press Run again.";
      this.banners.show("failed", "The run failed" + (msg.error ? ": " + msg.error : "."), (kept + again).trim() || null);
    }
    document.title = `${stateLabel(state)} · ${this.baseTitle}`;
    if (TERMINAL.has(state)) {
      clearInterval(this.timer);
      this.timer = null;
      if (!this.readOnly) this.fleet.ended();
      if (!this.grid.panels) {
        this.grid.showEmpty(
          state === "failed" ? "The tracer ended before reporting any data." : "The run ended with no aggregations.",
          "Scripts that use aggregations (@name = count(), lhist(), …) get charts here; text they print is in the console below.",
        );
      }
    }
    this.onState(msg);
  }

  async stop() {
    if (!this.runId || this.readOnly) return;
    const runId = this.runId;
    this.bar.stopping();
    try {
      const run = await api("DELETE", `/api/runs/${encodeURIComponent(runId)}`);
      if (this.runId === runId) this.applyFinalRun(run);
    } catch (err) {
      if (this.runId !== runId) return;
      this.banners.show("error", "Stopping failed: " + err.message, null);
      this.bar.stopFailed();
    }
  }

  setPerInterval(on) {
    this.perInterval = on;
    this.send({ type: "view", per_interval: on, charts: this.drawCharts });
  }

  // --- exports (the viewer link's row is run/viewer-link.js) ----------------------------

  export(kind) {
    if (kind === "ndjson") {
      if (!this.messages.length) return this.banners.show("notice", "Nothing to export yet.", "Start a run first.");
      let text = this.messages.join("\n") + "\n";
      if (this.unrecorded) text += JSON.stringify({ type: "export_note", messages_not_kept: this.unrecorded }) + "\n";
      download(exportName(this.runId, "run.ndjson"), text, "application/x-ndjson");
      return;
    }
    if (!this.snapshot) {
      this.banners.show("notice", "There is no snapshot to export yet.", "Wait for the first snapshot of the run.");
      return;
    }
    if (kind === "json") {
      download(exportName(this.runId, "snapshot.json"), JSON.stringify(this.snapshot, null, 2) + "\n", "application/json");
    } else if (kind === "csv") {
      download(exportName(this.runId, "snapshot.csv"), snapshotCsv(this.snapshot), "text/csv");
    }
  }

  /** Leave the run: close the stream (a run that is not kept running stops soon after). */
  detach() {
    this.stream?.close();
    this.stream = null;
    clearInterval(this.timer);
  }
}
