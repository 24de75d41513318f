// One distribution key of A and of B, overlaid (two bar traces over the same buckets). The
// figure comes from the server with its text already plotly text (ide/charts/text.py).

import { el } from "../dom.js";
import { loadPlotly } from "../plotly-loader.js";

// $...$ in a key is never TeX, and plotly links nowhere.
const PLOT_CONFIG = { responsive: true, displaylogo: false, showLink: false, showSendToCloud: false, showEditInChartStudio: false, typesetMath: false };
const LOG_PAST = 20; // one side's peak this many times the other's: log scale at first

function peak(trace) {
  return Math.max(0, ...trace.y);
}

/** Whether A and B are so far apart that a linear scale would hide one of them. */
export function wantsLog(figure) {
  const [a, b] = figure.data.map(peak);
  const low = Math.min(a, b);
  return low > 0 && Math.max(a, b) / low > LOG_PAST;
}

export class OverlayChart {
  /** `rows` are the aggregation's rows; those with a `figure` can be drawn. */
  constructor(rows, onPick) {
    this.rows = rows;
    this.log = null; // null: chosen per key (wantsLog), until the user picks
    this.index = -1;
    this.node = el("div", "compare-chart");
    const bar = el("div", "compare-chart-bar");
    this.select = el("select", "compare-chart-key");
    this.select.setAttribute("aria-label", "The key whose distributions are shown");
    rows.forEach((row, i) => {
      const option = el("option", "", row.label);
      option.value = String(i);
      this.select.append(option);
    });
    this.select.addEventListener("change", () => onPick(Number(this.select.value)));
    const label = el("label", "compare-chart-label");
    label.append(el("span", "muted", "Key"), this.select);
    const logLabel = el("label", "check small");
    this.logBox = el("input");
    this.logBox.type = "checkbox";
    this.logBox.addEventListener("change", () => {
      this.log = this.logBox.checked;
      this.show(this.index);
    });
    logLabel.append(this.logBox, document.createTextNode("log scale"));
    bar.append(label, logLabel);
    if (rows.length < 2) label.hidden = true;
    this.plot = el("div", "chart compare-plot");
    this.plot.append(el("div", "chart-loading", "Loading the chart…"));
    this.note = el("div", "chart-loading compare-chart-none");
    this.note.hidden = true;
    this.node.append(bar, this.plot, this.note);
  }

  async show(index) {
    const row = this.rows[index];
    if (!row) return;
    this.index = index;
    this.select.value = String(index);
    if (!row.figure) {
      // Charts come for the keys that changed most; the bucket table has every key.
      this.plot.hidden = true;
      this.note.textContent = "Only the keys that changed most are charted: this key's buckets are in the table.";
      this.note.hidden = false;
      return;
    }
    this.plot.hidden = false;
    this.note.hidden = true;
    let Plotly;
    try {
      Plotly = await loadPlotly();
    } catch (err) {
      this.plot.replaceChildren(el("div", "chart-loading", "The chart cannot be drawn: " + err.message));
      return;
    }
    this.plot.querySelector(".chart-loading")?.remove();
    const log = this.log ?? wantsLog(row.figure);
    this.logBox.checked = log;
    const layout = { ...row.figure.layout, autosize: true };
    layout.yaxis = { ...layout.yaxis, type: log ? "log" : "linear" };
    await Plotly.react(this.plot, row.figure.data, layout, PLOT_CONFIG);
    this.node.dataset.drawn = String(index);
  }
}
