// Step 3, "Output": one live run over its websocket — state, panels, console, banners,
// exports.  Shared by the wizard and the read-only viewer page.
//
// Everything that comes from the tracer (keys, output lines, messages) is untrusted and is
// only ever inserted as text.

import { api } from "./api.js";
import { download, exportName, snapshotCsv } from "./export.js";
import { loadPlotly } from "./plotly-loader.js";

const TERMINAL = new Set(["finished", "stopped", "failed"]);
const STATE_LABEL = {
  starting: "Starting",
  running: "Running",
  finished: "Finished",
  stopped: "Stopped",
  failed: "Failed",
};
const MAX_CONSOLE_LINES = 5000;
const MAX_TABLE_ROWS = 1000;
const MAX_RECORDED_CHARS = 64 * 1024 * 1024; // NDJSON export kept in memory
// Figure text from the server is already plotly text (ide/plotly_text.py); $...$ in a key
// is never TeX.
const PLOT_CONFIG = { responsive: true, displaylogo: false, showLink: false, showSendToCloud: false, showEditInChartStudio: false, typesetMath: false };
const SLOW_DRAW_MS = 300; // redrawn less often past this
const SLOW_NOTE_MS = 1000; // ... and the panel says so past this
const FULL_WIDTH_KINDS = new Set(["bars3d", "flame"]);
const MODE_LABEL = { chart: "Chart", series: "Over time", table: "Table" };

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** "1:05", "1:02:03" */
export function formatClock(seconds) {
  const s = Math.max(0, Math.floor(seconds || 0));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

function formatNumber(v) {
  if (typeof v === "number") return Number.isInteger(v) ? v.toLocaleString("en-US") : v.toPrecision(6).replace(/\.?0+$/, "");
  return v === null || v === undefined ? "" : String(v);
}

function bucketRange(b) {
  const lo = b.lo === null || b.lo === undefined ? "-∞" : b.lo;
  const hi = b.hi === null || b.hi === undefined ? "+∞" : b.hi;
  return lo === hi ? String(lo) : `${lo} … ${hi}`;
}

/** A table from a raw aggregation, for when the server sent no panel for it. */
export function tableFromAggregation(agg) {
  const rows = [];
  let columns;
  const keyOf = (r) => (r.key || []).join(", ");
  if ((agg.rows || []).some((r) => r.buckets)) {
    columns = ["key", "range", "count"];
    for (const r of agg.rows) for (const b of r.buckets || []) rows.push([keyOf(r), bucketRange(b), b.count]);
  } else {
    columns = ["key", agg.function || "value"];
    for (const r of agg.rows || []) rows.push([keyOf(r), r.stats ? JSON.stringify(r.stats) : r.value]);
  }
  return { columns, rows, total_rows: agg.total_rows ?? null };
}

function tablePanels(snapshot) {
  return (snapshot?.aggregations || []).map((agg) => ({
    name: agg.name, function: agg.function, kind: "table", figure: null, series: null,
    table: tableFromAggregation(agg), note: null,
  }));
}

export class RunView {
  /**
   * @param root the element that holds the Output markup (templates/_output.html)
   * @param options.readOnly hide the controls that change the run
   * @param options.onState called with each state message
   */
  constructor(root, { readOnly = false, onState = () => {} } = {}) {
    this.root = root;
    this.readOnly = readOnly;
    this.onState = onState;
    const $ = (id) => root.querySelector("#" + id);
    this.els = {
      state: $("run-state"),
      progress: $("run-progress"),
      clock: $("run-clock"),
      stop: $("stop-run"),
      banners: $("banners"),
      panels: $("panels"),
      empty: $("panels-empty"),
      console: $("console"),
      consoleCount: $("console-count"),
      consoleDropped: $("console-dropped"),
      consoleWrap: $("console-wrap"),
      consoleClear: $("console-clear"),
      linkRow: $("viewer-link-row"),
      link: $("viewer-link"),
      copyLink: $("copy-viewer-link"),
      exportMenu: $("export-menu"),
    };
    this.cards = new Map();
    this.baseTitle = document.title;
    this.ws = null;
    this.timer = null;
    this.renderPending = false;
    this.reset();
    this.bind();
  }

  bind() {
    const e = this.els;
    e.stop?.addEventListener("click", () => this.stop());
    e.consoleClear.addEventListener("click", () => this.clearConsole());
    e.consoleWrap.addEventListener("change", () => e.console.classList.toggle("wrap", e.consoleWrap.checked));
    e.copyLink.addEventListener("click", () => this.copyLink());
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

  /** Forget the previous run: empty panels, console and banners. */
  reset() {
    this.closeSocket();
    clearInterval(this.timer);
    this.runId = null;
    this.state = null;
    this.elapsed = 0;
    this.elapsedAt = performance.now();
    this.duration = 0;
    this.snapshot = null;
    this.panels = null;
    this.messages = [];
    this.snapshots = 0;
    this.recordedChars = 0;
    this.unrecorded = 0;
    this.reconnects = 0;
    this.consoleLines = 0;
    this.dropped = 0;
    for (const card of this.cards.values()) this.removeCard(card);
    this.cards.clear();
    this.els.banners.replaceChildren();
    this.clearConsole();
    this.showEmpty("Waiting for the first snapshot…", "Charts appear here once the tracer reports its aggregations.");
    this.setStateLabel("idle", "No run");
    this.els.clock.textContent = "0:00";
    this.els.progress.hidden = true;
    this.els.linkRow.hidden = true;
    this.root.dataset.runId = "";
    this.root.dataset.state = "";
    this.root.dataset.snapshots = "0";
    document.title = this.baseTitle;
    if (this.els.stop) this.els.stop.disabled = true;
  }

  /** Follow run `id`.  `viewerUrl` is shown for copying; `drawCharts` false keeps tables. */
  start({ id, viewerUrl = null, streamUrl = null, drawCharts = true, duration = 0 }) {
    this.reset();
    this.runId = id;
    this.root.dataset.runId = id;
    this.drawCharts = drawCharts;
    this.duration = duration;
    this.streamUrl = streamUrl;
    this.perInterval = this.root.querySelector('input[name="view-mode"][value="interval"]')?.checked || false;
    this.applyState({ state: "starting", elapsed: 0, duration, error: null });
    if (viewerUrl) {
      this.els.link.value = new URL(viewerUrl, location.href).href;
      this.els.linkRow.hidden = false;
    }
    if (drawCharts) {
      loadPlotly().then(
        () => this.scheduleRender(),
        (err) => {
          this.drawCharts = false;
          this.send({ type: "view", per_interval: this.perInterval, charts: false });
          this.banner("charts", "Charts cannot be drawn: " + err.message, "Every aggregation is shown as a table instead.");
          this.scheduleRender();
        },
      );
    }
    this.timer = setInterval(() => this.tick(), 250);
    this.connect();
  }

  streamAddress() {
    if (this.streamUrl) return new URL(this.streamUrl, location.href.replace(/^http/, "ws")).href;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}/api/runs/${encodeURIComponent(this.runId)}/stream`;
  }

  connect() {
    const runId = this.runId;
    let ws;
    try {
      ws = new WebSocket(this.streamAddress());
    } catch (err) {
      this.banner("error", "The live stream cannot be opened: " + err.message, null);
      return;
    }
    this.ws = ws;
    const again = this.reconnects > 0;
    ws.onopen = () => {
      this.reconnects = 0;
      // A joining viewer is sent the recent output again: start the console afresh.
      if (again) this.clearConsole();
      this.clearBanner("connection");
      if (this.perInterval || !this.drawCharts) {
        this.send({ type: "view", per_interval: this.perInterval, charts: this.drawCharts });
      }
    };
    ws.onmessage = (ev) => {
      if (this.runId !== runId) return;
      this.record(ev.data);
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      this.handle(msg);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.runId === runId && !TERMINAL.has(this.state)) this.recover(runId);
    };
  }

  closeSocket() {
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000);
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  /** The stream closed before the run ended: ask the API how it is, then reconnect. */
  async recover(runId) {
    try {
      const run = await api("GET", `/api/runs/${encodeURIComponent(runId)}`);
      if (this.runId !== runId) return;
      this.applyFinalRun(run);
      if (TERMINAL.has(run.state)) return;
    } catch (err) {
      if (this.runId !== runId) return;
      if (err.status === 404) {
        this.applyState({ state: "failed", elapsed: this.elapsed, duration: this.duration, error: "the run no longer exists on the server" });
        return;
      }
    }
    this.reconnects += 1;
    if (this.reconnects > 10) {
      this.banner("connection", "Lost the connection to the live stream.", "Reload the page to try again; the last snapshot stays on screen.");
      return;
    }
    this.banner("connection", "Connection to the live stream lost; reconnecting…", null);
    setTimeout(() => this.runId === runId && !this.ws && this.connect(), Math.min(500 * this.reconnects, 3000));
  }

  /** A run object from GET/DELETE /api/runs/ID: state, and the last snapshot if none shown. */
  applyFinalRun(run) {
    if (!run) return;
    if (!this.panels && run.snapshot && run.snapshot.aggregations) {
      this.snapshot = run.snapshot;
      this.panels = tablePanels(run.snapshot);
      this.scheduleRender();
    }
    if (!this.consoleLines && Array.isArray(run.output) && run.output.length) this.appendOutput(run.output, 0);
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
        // Without "panels" (charts switched off) every aggregation is shown as a table.
        this.panels = Array.isArray(msg.panels) ? msg.panels : tablePanels(msg.snapshot);
        if (msg.snapshot && typeof msg.snapshot.t === "number" && !TERMINAL.has(this.state)) {
          this.elapsed = Math.max(this.elapsed, msg.snapshot.t);
        }
        this.scheduleRender();
        break;
      case "output":
        this.appendOutput(msg.lines || [], msg.dropped || 0);
        break;
      case "error":
        this.banner("error", msg.message || "tracer error", msg.fix);
        break;
      case "note":
        this.banner("note", msg.message, msg.fix);
        break;
      default:
        break;
    }
  }

  // --- state, clock, progress -----------------------------------------------------------

  applyState(msg) {
    const state = msg.state || this.state;
    this.state = state;
    if (typeof msg.elapsed === "number") {
      this.elapsed = msg.elapsed;
      this.elapsedAt = performance.now();
    }
    if (typeof msg.duration === "number") this.duration = msg.duration;
    this.root.dataset.state = state;
    this.setStateLabel(state, STATE_LABEL[state] || state);
    if (this.els.stop) this.els.stop.disabled = this.readOnly || TERMINAL.has(state);
    if (state === "failed") {
      const kept = this.panels && this.panels.length ? "The last snapshot received stays on screen. " : "";
      const again = this.readOnly ? "" : "Edit the script or press Run again.";
      this.banner("failed", "The run failed" + (msg.error ? ": " + msg.error : "."), (kept + again).trim() || null);
    }
    document.title = `${STATE_LABEL[state] || state} · ${this.baseTitle}`;
    if (TERMINAL.has(state)) {
      clearInterval(this.timer);
      this.timer = null;
      if (!this.panels) {
        this.showEmpty(
          state === "failed" ? "The tracer ended before reporting any data." : "The run ended with no aggregations.",
          "Scripts that use aggregations (@name = count(), lhist(), …) get charts here; text they print is in the console below.",
        );
      }
    }
    this.tick();
    this.onState(msg);
  }

  currentElapsed() {
    if (this.state === "running") return this.elapsed + (performance.now() - this.elapsedAt) / 1000;
    return this.elapsed;
  }

  tick() {
    const elapsed = this.currentElapsed();
    const timed = this.duration > 0;
    if (timed) {
      const shown = Math.min(elapsed, this.duration);
      const fraction = this.state === "finished" ? 1 : Math.min(1, shown / this.duration);
      if (TERMINAL.has(this.state)) this.els.progress.firstElementChild.style.transition = "none";
      this.els.progress.hidden = false;
      this.els.progress.firstElementChild.style.width = (fraction * 100).toFixed(1) + "%";
      this.els.progress.setAttribute("aria-valuenow", String(Math.round(fraction * 100)));
      this.els.clock.textContent = `${formatClock(shown)} / ${formatClock(this.duration)}`;
    } else {
      this.els.progress.hidden = true;
      this.els.clock.textContent = formatClock(elapsed) + (this.state === "running" ? " · continuous" : "");
    }
  }

  setStateLabel(state, label) {
    this.els.state.textContent = label;
    this.els.state.className = "pill pill-" + state;
  }

  async stop() {
    if (!this.runId || this.readOnly) return;
    const runId = this.runId;
    this.els.stop.disabled = true;
    this.setStateLabel("stopping", "Stopping…");
    try {
      const run = await api("DELETE", `/api/runs/${encodeURIComponent(runId)}`);
      if (this.runId === runId) this.applyFinalRun(run);
    } catch (err) {
      if (this.runId !== runId) return;
      this.banner("error", "Stopping failed: " + err.message, null);
      this.els.stop.disabled = false;
      this.setStateLabel(this.state, STATE_LABEL[this.state] || this.state);
    }
  }

  setPerInterval(on) {
    this.perInterval = on;
    this.send({ type: "view", per_interval: on, charts: this.drawCharts });
  }

  // --- banners --------------------------------------------------------------------------

  /** Show (or count again) a banner; `kind` "connection"/"failed" banners are replaced. */
  banner(kind, message, fix) {
    const box = this.els.banners;
    const id = kind === "error" || kind === "note" ? kind + ":" + message : kind;
    let node = [...box.children].find((n) => n.dataset.id === id);
    if (node) {
      if (kind === "error" || kind === "note") {
        const count = Number(node.dataset.count || 1) + 1;
        node.dataset.count = String(count);
        node.querySelector(".banner-count").textContent = "×" + count;
        return;
      }
      node.remove();
    }
    const severe = kind === "error" || kind === "failed";
    node = el("div", "banner " + (severe ? "banner-error" : "banner-warn"));
    node.dataset.id = id;
    node.setAttribute("role", severe ? "alert" : "status");
    const body = el("div", "banner-body");
    body.append(el("strong", "banner-message", message));
    if (fix) body.append(el("div", "banner-fix", (kind === "error" ? "Fix: " : "") + fix));
    const count = el("span", "banner-count", "");
    const close = el("button", "btn-close", "×");
    close.type = "button";
    close.setAttribute("aria-label", "Dismiss");
    close.addEventListener("click", () => node.remove());
    node.append(body, count, close);
    box.append(node);
  }

  clearBanner(kind) {
    for (const n of [...this.els.banners.children]) if (n.dataset.id === kind) n.remove();
  }

  // --- console --------------------------------------------------------------------------

  clearConsole() {
    const c = this.els.console;
    c.replaceChildren(el("span", "console-empty", "Nothing printed yet. Text from printf(), print() and trace() appears here."));
    this.consoleLines = 0;
    this.dropped = 0;
    this.els.consoleCount.textContent = "0 lines";
    this.els.consoleDropped.hidden = true;
  }

  appendOutput(lines, dropped) {
    const c = this.els.console;
    if (dropped) {
      this.dropped += dropped;
      this.els.consoleDropped.hidden = false;
      this.els.consoleDropped.textContent = `${this.dropped.toLocaleString("en-US")} lines dropped (too fast)`;
    }
    if (!lines.length) return;
    const atBottom = c.scrollHeight - c.scrollTop - c.clientHeight < 24;
    if (!this.consoleLines) c.replaceChildren();
    const frag = document.createDocumentFragment();
    for (const line of lines) {
      const text = String(line);
      frag.append(document.createTextNode(text.endsWith("\n") ? text : text + "\n"));
    }
    c.append(frag);
    this.consoleLines += lines.length;
    while (c.childNodes.length > MAX_CONSOLE_LINES) c.firstChild.remove();
    this.els.consoleCount.textContent = `${this.consoleLines.toLocaleString("en-US")} line${this.consoleLines === 1 ? "" : "s"}`;
    if (atBottom) c.scrollTop = c.scrollHeight;
  }

  // --- panels ---------------------------------------------------------------------------

  showEmpty(title, text) {
    const e = this.els.empty;
    e.replaceChildren(el("p", "empty-title", title), el("p", "", text));
    e.hidden = false;
  }

  scheduleRender() {
    if (this.renderPending) return;
    this.renderPending = true;
    this.root.dataset.rendering = "1";
    requestAnimationFrame(() => {
      this.renderPending = false;
      this.render();
      delete this.root.dataset.rendering;
      // The frame after this one is painted with the new charts.
      requestAnimationFrame(() => {
        if (performance.getEntriesByName("dtrace-ide:snapshot", "mark").length) {
          performance.measure("dtrace-ide:repaint", "dtrace-ide:snapshot");
          performance.clearMarks("dtrace-ide:snapshot");
        }
      });
    });
  }

  render() {
    const panels = this.panels;
    if (!panels) return;
    if (!panels.length) {
      this.showEmpty(
        "This script has no aggregations.",
        "What it prints appears in the console below. Add one, e.g. @calls[comm] = count(), to get a chart.",
      );
      return;
    }
    this.els.empty.hidden = true;
    this.els.panels.dataset.count = String(panels.length);
    const seen = new Set();
    let previous = this.els.empty;
    for (const panel of panels) {
      seen.add(panel.name);
      let card = this.cards.get(panel.name);
      if (!card) {
        card = this.createCard(panel);
        this.cards.set(panel.name, card);
      }
      if (previous.nextSibling !== card.node) previous.after(card.node);
      previous = card.node;
      card.panel = panel;
      this.updateCard(card);
    }
    for (const [name, card] of this.cards) {
      if (!seen.has(name)) {
        this.removeCard(card);
        this.cards.delete(name);
      }
    }
    this.layoutCards(panels);
  }

  /** Two columns; a half-width card left alone in its row (before a wide one, or last)
   * takes the whole row instead of leaving a hole. */
  layoutCards(panels) {
    let run = [];
    const close = () => {
      run.forEach((card, i) => card.node.classList.toggle("panel-span", i === run.length - 1 && run.length % 2 === 1));
      run = [];
    };
    for (const panel of panels) {
      const card = this.cards.get(panel.name);
      if (card.node.classList.contains("panel-wide")) {
        card.node.classList.remove("panel-span");
        close();
      } else run.push(card);
    }
    close();
  }

  createCard(panel) {
    const node = el("article", "panel card");
    node.dataset.name = panel.name;
    const head = el("header", "panel-head");
    const title = el("h3", "panel-title");
    title.append(el("span", "agg-name", panel.name), el("span", "agg-fn", `${panel.function}()`));
    const note = el("span", "panel-note");
    const modes = el("div", "toggle-group");
    modes.setAttribute("role", "group");
    modes.setAttribute("aria-label", `View of ${panel.name}`);
    const buttons = {};
    for (const mode of ["chart", "series", "table"]) {
      const b = el("button", "toggle", MODE_LABEL[mode]);
      b.type = "button";
      b.dataset.mode = mode;
      b.addEventListener("click", () => {
        card.mode = mode;
        card.userMode = mode;
        this.updateCard(card);
        if (this.panels) this.layoutCards(this.panels);
      });
      buttons[mode] = b;
      modes.append(b);
    }
    const png = el("button", "btn btn-small", "PNG");
    png.type = "button";
    png.title = "Download this chart as a PNG image";
    png.setAttribute("aria-label", `Download ${panel.name} as PNG`);
    png.addEventListener("click", () => this.downloadPng(card));
    head.append(title, note, el("span", "spacer"), modes, png);
    const chart = el("div", "chart");
    const tableWrap = el("div", "table-wrap");
    node.append(head, chart, tableWrap);
    const card = { node, note, buttons, png, chart, tableWrap, panel, mode: null, userMode: null, drawn: {} };
    this.chartResizer().observe(chart);
    return card;
  }

  removeCard(card) {
    this.chartResizer().unobserve(card.chart);
    card.node.remove();
  }

  /** Plotly sizes a chart when it draws it and on window resizes only; a card that changes
   * width afterwards (it takes a whole row once the layout is known, a table turns into a
   * chart) gets its chart resized to fit. */
  chartResizer() {
    if (!this.resizer) {
      this.resizer = new ResizeObserver((entries) => {
        for (const { target, contentRect } of entries) {
          const drawn = target._fullLayout?.width; // the width plotly last laid the chart out at
          if (!contentRect.width || !drawn || !window.Plotly || Math.abs(drawn - contentRect.width) < 2) continue;
          window.Plotly.Plots.resize(target);
        }
      });
    }
    return this.resizer;
  }

  availableModes(panel) {
    const modes = [];
    const charts = this.drawCharts && window.Plotly;
    if (charts && panel.figure) modes.push("chart");
    if (charts && panel.series) modes.push("series");
    modes.push("table");
    return modes;
  }

  updateCard(card) {
    const panel = card.panel;
    const modes = this.availableModes(panel);
    let mode = card.userMode && modes.includes(card.userMode) ? card.userMode : modes[0];
    if (this.drawCharts && !window.Plotly && panel.figure && !card.userMode) mode = "loading";
    card.mode = mode;
    card.node.dataset.kind = panel.kind || "table";
    card.node.dataset.mode = mode;
    card.node.classList.toggle("panel-wide", FULL_WIDTH_KINDS.has(panel.kind) && (mode === "chart" || mode === "loading"));
    for (const [m, b] of Object.entries(card.buttons)) {
      b.hidden = !modes.includes(m) || modes.length === 1;
      b.setAttribute("aria-pressed", String(m === mode));
    }
    card.png.hidden = !(mode === "chart" || mode === "series");
    card.note.textContent = [panel.note, card.slow ? "redrawn less often: this browser draws it slowly" : ""].filter(Boolean).join(" · ");
    card.note.hidden = !card.note.textContent;
    const isChart = mode === "chart" || mode === "series";
    card.chart.hidden = !(isChart || mode === "loading");
    card.tableWrap.hidden = mode !== "table";
    if (mode === "loading") {
      if (!card.chart.firstChild) card.chart.append(el("div", "chart-loading", "Loading charts…"));
    } else if (isChart) {
      this.drawChart(card, mode === "chart" ? panel.figure : panel.series, mode);
    } else {
      this.drawTable(card, panel.table);
    }
  }

  drawChart(card, figure, mode) {
    const Plotly = window.Plotly;
    const div = card.chart;
    // A chart that took long to draw (3D without a GPU) is redrawn less often, so the
    // page stays responsive; the newest data is drawn when its turn comes.
    const now = performance.now();
    if (card.drawnMode === mode && card.busyUntil > now) {
      card.node.dataset.pending = "1";
      clearTimeout(card.deferTimer);
      card.deferTimer = setTimeout(() => this.cards.get(card.panel.name) === card && this.updateCard(card), card.busyUntil - now);
      return;
    }
    const loading = div.querySelector(".chart-loading");
    if (loading) loading.remove();
    const layout = { ...(figure.layout || {}) };
    // Keeps the user's zoom and 3D camera while the data changes under it.
    if (layout.uirevision === undefined) layout.uirevision = card.panel.name + ":" + mode;
    layout.autosize = true;
    if (!layout.height) delete layout.height;
    const switched = card.drawnMode !== mode;
    card.drawnMode = mode;
    if (switched && div.data) Plotly.purge(div);
    delete card.node.dataset.pending;
    const started = performance.now();
    Promise.resolve(Plotly.react(div, figure.data || [], layout, PLOT_CONFIG)).then(() =>
      requestAnimationFrame(() => requestAnimationFrame(() => {
        const took = performance.now() - started;
        performance.measure("dtrace-ide:draw:" + (card.panel.kind || "chart"), { start: started, duration: took });
        // The first draw of a chart also sets plotly up: it says little about the next ones.
        card.draws = (card.draws || 0) + 1;
        const steady = card.draws > 1;
        card.busyUntil = steady && took > SLOW_DRAW_MS ? performance.now() + 2 * took : 0;
        card.slow = steady && took > SLOW_NOTE_MS;
        card.note.textContent = [card.panel.note, card.slow ? "redrawn less often: this browser draws it slowly" : ""].filter(Boolean).join(" · ");
        card.note.hidden = !card.note.textContent;
      })),
    );
  }

  drawTable(card, table) {
    if (!table) {
      const agg = this.snapshot?.aggregations?.find((a) => a.name === card.panel.name);
      table = agg ? tableFromAggregation(agg) : { columns: [], rows: [] };
    }
    const t = el("table", "data-table");
    const thead = el("thead");
    const hr = el("tr");
    for (const c of table.columns || []) hr.append(el("th", "", String(c)));
    thead.append(hr);
    const tbody = el("tbody");
    const rows = table.rows || [];
    for (const row of rows.slice(0, MAX_TABLE_ROWS)) {
      const tr = el("tr");
      for (const cell of row) tr.append(el("td", typeof cell === "number" ? "num" : "", formatNumber(cell)));
      tbody.append(tr);
    }
    t.append(thead, tbody);
    const parts = [t];
    const total = table.total_rows ?? rows.length;
    if (!rows.length) parts.unshift(el("p", "muted table-note", "No rows yet."));
    else if (total > Math.min(rows.length, MAX_TABLE_ROWS)) {
      parts.push(el("p", "muted table-note", `Showing ${Math.min(rows.length, MAX_TABLE_ROWS).toLocaleString("en-US")} of ${total.toLocaleString("en-US")} rows.`));
    }
    card.tableWrap.replaceChildren(...parts);
  }

  downloadPng(card) {
    if (!window.Plotly || card.chart.hidden) return;
    const safe = card.panel.name.replace(/[^A-Za-z0-9_-]/g, "") || "chart";
    window.Plotly.downloadImage(card.chart, {
      format: "png",
      filename: exportName(this.runId, safe + (card.mode === "series" ? "-over-time" : "")),
      width: card.chart.clientWidth || 1000,
      height: card.chart.clientHeight || 500,
    });
  }

  // --- exports and the viewer link ------------------------------------------------------

  export(kind) {
    if (kind === "ndjson") {
      if (!this.messages.length) return this.banner("notice", "Nothing to export yet.", "Start a run first.");
      let text = this.messages.join("\n") + "\n";
      if (this.unrecorded) text += JSON.stringify({ type: "export_note", messages_not_kept: this.unrecorded }) + "\n";
      download(exportName(this.runId, "run.ndjson"), text, "application/x-ndjson");
      return;
    }
    if (!this.snapshot) {
      this.banner("notice", "There is no snapshot to export yet.", "Wait for the first snapshot of the run.");
      return;
    }
    if (kind === "json") {
      download(exportName(this.runId, "snapshot.json"), JSON.stringify(this.snapshot, null, 2) + "\n", "application/json");
    } else if (kind === "csv") {
      download(exportName(this.runId, "snapshot.csv"), snapshotCsv(this.snapshot), "text/csv");
    }
  }

  async copyLink() {
    const input = this.els.link;
    try {
      await navigator.clipboard.writeText(input.value);
    } catch {
      input.select();
      document.execCommand("copy");
    }
    const b = this.els.copyLink;
    b.textContent = "Copied";
    setTimeout(() => (b.textContent = "Copy"), 1500);
  }

  /** Leave the run: close the stream (a run that is not kept running stops soon after). */
  detach() {
    this.closeSocket();
    clearInterval(this.timer);
  }
}
