// The panels grid: one card per aggregation, drawn from the server's panels (figure, series
// over time, table) with Plotly.react, or as a table.

import { button, el } from "../dom.js";
import { exportName } from "../export.js";
import { applyTools, newTools, rangeSummary, toolControls } from "./figure-tools.js";
import { newTableState, tableNodes } from "./data-table.js";
import { bindDrill, drillRow, rowOf } from "./drill.js";
import { tableFromAggregation } from "./format.js";

// Figure text from the server is already plotly text (ide/charts/text.py); $...$ in a key
// is never TeX.
const PLOT_CONFIG = { responsive: true, displaylogo: false, showLink: false, showSendToCloud: false, showEditInChartStudio: false, typesetMath: false };
const SLOW_DRAW_MS = 300; // redrawn less often past this
const SLOW_NOTE_MS = 1000; // ... and the panel says so past this
const SLOW_NOTE = "redrawn less often: this browser draws it slowly";
const FULL_WIDTH_KINDS = new Set(["bars3d", "flame"]);
const MODE_LABEL = { heatmap: "Heatmap", chart: "Chart", series: "Over time", table: "Table" };
const CHART_MODES = new Set(["heatmap", "chart", "series"]);

/** Plotly keeps an open hover label's old numbers across a redraw (a pie's slices are drawn
 * anew, the label is not): hover the same place again so the label shows the new data. */
function rehover(div) {
  const at = div._lastPointer;
  if (!at || !div.isConnected || !div.querySelector(".hoverlayer .hovertext")) return;
  const target = document.elementFromPoint(at.x, at.y);
  if (!target || !div.contains(target)) return;
  for (const type of ["mouseout", "mouseover", "mousemove"]) {
    target.dispatchEvent(new MouseEvent(type, { bubbles: true, clientX: at.x, clientY: at.y, view: window }));
  }
}

export class PanelsGrid {
  /** `view` says what is drawn: {drawCharts, snapshot, runId}. */
  constructor(root, { panels, empty }, view) {
    this.root = root;
    this.grid = panels;
    this.empty = empty;
    this.view = view;
    this.cards = new Map();
    this.panels = null;
    this.renderPending = false;
  }

  reset() {
    for (const card of this.cards.values()) this.removeCard(card);
    this.cards.clear();
    this.panels = null;
  }

  get shown() {
    return Boolean(this.panels && this.panels.length);
  }

  showEmpty(title, text) {
    this.empty.replaceChildren(el("p", "empty-title", title), el("p", "", text));
    this.empty.hidden = false;
  }

  show(panels) {
    this.panels = panels;
    this.scheduleRender();
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
    this.empty.hidden = true;
    this.grid.dataset.count = String(panels.length);
    const seen = new Set();
    let previous = this.empty;
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
    const order = panel.kind === "bars3d" ? ["heatmap", "chart", "series", "table"] : ["chart", "heatmap", "series", "table"];
    for (const mode of order) {
      // A keyed lhist shows its heatmap first; its 3D bars are the "3D" view.
      const label = mode === "chart" && panel.kind === "bars3d" ? "3D" : MODE_LABEL[mode];
      const b = button(label, "toggle", () => {
        card.mode = mode;
        card.userMode = mode;
        this.updateCard(card);
        if (this.panels) this.layoutCards(this.panels);
      });
      b.dataset.mode = mode;
      buttons[mode] = b;
      modes.append(b);
    }
    const full = button("⤢", "btn btn-small panel-full-btn", () => this.toggleFull(card), `Show ${panel.name} full screen`);
    const png = button("PNG", "btn btn-small", () => this.downloadPng(card));
    png.title = "Download this chart as a PNG image";
    png.setAttribute("aria-label", `Download ${panel.name} as PNG`);
    const tools = el("span", "panel-tools");
    head.append(title, note, el("span", "spacer"), tools, modes, png, full);
    const chart = el("div", "chart");
    chart.addEventListener("mousemove", (ev) => (chart._lastPointer = { x: ev.clientX, y: ev.clientY }));
    chart.addEventListener("mouseleave", () => (chart._lastPointer = null));
    const tableWrap = el("div", "table-wrap");
    node.append(head, chart, tableWrap);
    const card = { node, note, buttons, png, full, tools, toolState: newTools(), toolKind: null, chart, tableWrap, panel, mode: null, userMode: null, drawn: {} };
    this.chartResizer().observe(chart);
    return card;
  }

  /** Full screen and back (the button, or Escape); the chart is laid out again to fit. */
  toggleFull(card) {
    const on = !card.node.classList.contains("panel-full");
    if (this.leaveFull) document.removeEventListener("keydown", this.leaveFull);
    this.leaveFull = null;
    for (const other of this.cards.values()) {
      other.node.classList.remove("panel-full");
      other.full.textContent = "⤢";
    }
    card.node.classList.toggle("panel-full", on);
    document.body.classList.toggle("has-full-panel", on);
    card.full.textContent = on ? "×" : "⤢";
    card.full.title = on ? "Leave full screen (Esc)" : `Show ${card.panel.name} full screen`;
    card.full.setAttribute("aria-label", card.full.title);
    card.full.setAttribute("aria-pressed", String(on));
    if (on) {
      this.leaveFull = (ev) => ev.key === "Escape" && this.toggleFull(card);
      document.addEventListener("keydown", this.leaveFull);
    }
    if (window.Plotly && card.chart.data) window.Plotly.Plots.resize(card.chart);
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
          const laid = target._fullLayout; // the size plotly last laid the chart out at
          if (!contentRect.width || !laid?.width || !window.Plotly) continue;
          if (Math.abs(laid.width - contentRect.width) < 2 && Math.abs(laid.height - contentRect.height) < 2) continue;
          window.Plotly.Plots.resize(target);
        }
      });
    }
    return this.resizer;
  }

  availableModes(panel) {
    const modes = [];
    const charts = this.view.drawCharts && window.Plotly;
    // The first is the default: a keyed lhist's heatmap; a distribution's own chart.
    if (charts && panel.heatmap && panel.kind === "bars3d") modes.push("heatmap");
    if (charts && panel.figure) modes.push("chart");
    if (charts && panel.heatmap && panel.kind !== "bars3d") modes.push("heatmap");
    if (charts && panel.series) modes.push("series");
    modes.push("table");
    return modes;
  }

  showNote(card) {
    const note = card.mode === "heatmap" ? card.panel.heatmap_note : card.panel.note;
    // A heatmap over time zoomed to a time range says what that range holds.
    const range = card.mode === "series" ? rangeSummary(card.chart) : "";
    card.note.textContent = [note, range, card.slow ? SLOW_NOTE : ""].filter(Boolean).join(" · ");
    card.note.hidden = !card.note.textContent;
  }

  updateCard(card) {
    const panel = card.panel;
    const modes = this.availableModes(panel);
    let mode = card.userMode && modes.includes(card.userMode) ? card.userMode : modes[0];
    if (this.view.drawCharts && !window.Plotly && panel.figure && !card.userMode) mode = "loading";
    card.mode = mode;
    card.node.dataset.kind = panel.kind;
    card.node.dataset.mode = mode;
    card.node.classList.toggle("panel-wide", FULL_WIDTH_KINDS.has(panel.kind) && (mode === "chart" || mode === "heatmap" || mode === "loading"));
    for (const [m, b] of Object.entries(card.buttons)) {
      b.hidden = !modes.includes(m) || modes.length === 1;
      b.setAttribute("aria-pressed", String(m === mode));
    }
    card.png.hidden = !CHART_MODES.has(mode);
    if (!CHART_MODES.has(mode)) this.showTools(card, null);
    this.showNote(card);
    const isChart = CHART_MODES.has(mode);
    card.chart.hidden = !(isChart || mode === "loading");
    card.tableWrap.hidden = mode !== "table";
    if (mode === "loading") {
      if (!card.chart.firstChild) card.chart.append(el("div", "chart-loading", "Loading charts…"));
    } else if (isChart) {
      const figure = mode === "chart" ? panel.figure : mode === "heatmap" ? panel.heatmap : panel.series;
      this.showTools(card, figure?.data?.[0]?.type === "icicle" ? "flame" : figure?.data?.[0]?.type);
      this.drawChart(card, applyTools(figure, card.toolState), mode);
    } else {
      this.drawTable(card, panel.table);
    }
  }

  /** The card's own controls (heatmap colour; flame search, reset, frameless samples),
   * built again only when the kind of figure changes, so typing in them is not lost. */
  showTools(card, kind) {
    if (card.toolKind === kind) return;
    card.toolKind = kind;
    const redraw = () => {
      card.busyUntil = 0;
      this.updateCard(card);
    };
    card.tools.replaceChildren(...toolControls(kind, card.toolState, redraw, card.panel.name));
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
    const layout = { ...figure.layout };
    // Keeps the user's zoom and 3D camera while the data changes under it.
    if (layout.uirevision === undefined) layout.uirevision = card.panel.name + ":" + mode;
    layout.autosize = true;
    if (!layout.height) delete layout.height;
    const switched = card.drawnMode !== mode;
    card.drawnMode = mode;
    if (switched && div.data) {
      Plotly.purge(div); // its event handlers go too
      div._sharesTime = false;
      div._drills = false;
    }
    delete card.node.dataset.pending;
    const started = performance.now();
    Promise.resolve(Plotly.react(div, figure.data, layout, PLOT_CONFIG)).then(() => {
      rehover(div);
      bindDrill(card, this.view);
      if (mode === "series") this.shareTime(card);
      requestAnimationFrame(() => requestAnimationFrame(() => {
        const took = performance.now() - started;
        performance.measure("dtrace-ide:draw:" + card.panel.kind, { start: started, duration: took });
        // The first draw of a chart also sets plotly up: it says little about the next ones.
        card.draws = (card.draws || 0) + 1;
        const steady = card.draws > 1;
        card.busyUntil = steady && took > SLOW_DRAW_MS ? performance.now() + 2 * took : 0;
        card.slow = steady && took > SLOW_NOTE_MS;
        this.showNote(card);
      }));
    });
  }

  /** One time across the "Over time" charts of the run: hovering a moment in one shows
   * the same moment in the others. */
  shareTime(card) {
    const div = card.chart;
    if (div._sharesTime) return;
    div._sharesTime = true;
    div.on("plotly_relayout", () => this.showNote(card));
    const others = () =>
      [...this.cards.values()].filter((c) => c !== card && c.drawnMode === "series" && c.chart.data && !c.chart.hidden);
    div.on("plotly_hover", (ev) => {
      if (this.sharing || card.drawnMode !== "series" || !ev.points?.length) return;
      this.sharing = true;
      try {
        for (const c of others()) window.Plotly.Fx.hover(c.chart, { xval: ev.points[0].x }, "xy");
      } finally {
        this.sharing = false;
      }
    });
    div.on("plotly_unhover", () => {
      if (this.sharing) return;
      for (const c of others()) window.Plotly.Fx.unhover(c.chart);
    });
  }

  drawTable(card, table) {
    if (!table) {
      const agg = this.view.snapshot?.aggregations.find((a) => a.name === card.panel.name);
      table = agg ? tableFromAggregation(agg) : { columns: [], rows: [] };
    }
    card.tableState ||= newTableState();
    const onRow = this.view.drill ? (rank, tr) => drillRow(card, rank, tr, this.view) : null;
    const redraw = ({ keepFocus }) => {
      const active = document.activeElement;
      const row = active?.classList.contains("drill-row") && card.tableWrap.contains(active);
      const focusedKey = row ? card.shownKeys?.[Number(active.dataset.rank)] : undefined;
      const { parts, filter } = tableNodes(table, card.tableState, redraw, card.panel.name, onRow);
      card.tableWrap.replaceChildren(...parts);
      card.shownKeys = card.panel.keys;
      if (focusedKey !== undefined) rowOf(card, focusedKey)?.focus({ preventScroll: true });
      if (keepFocus) {
        filter.focus();
        filter.setSelectionRange(filter.value.length, filter.value.length);
      }
    };
    // A snapshot's redraw keeps the filter's focus while the user types in it.
    redraw({ keepFocus: card.tableWrap.contains(document.activeElement) && document.activeElement.classList.contains("table-filter") });
  }

  downloadPng(card) {
    if (!window.Plotly || card.chart.hidden) return;
    const safe = card.panel.name.replace(/[^A-Za-z0-9_-]/g, "") || "chart";
    window.Plotly.downloadImage(card.chart, {
      format: "png",
      filename: exportName(this.view.runId, safe + (card.mode === "series" ? "-over-time" : "")),
      width: card.chart.clientWidth || 1000,
      height: card.chart.clientHeight || 500,
    });
  }
}
