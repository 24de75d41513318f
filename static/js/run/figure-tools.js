// What a panel's own controls do to a figure from the server before it is drawn: the
// heatmap's colour scale, and the flame graph's search, reset and frameless samples.
// The figures are the server's (ide/charts); these only recolour or drop what is there.

import { button, el } from "../dom.js";

export const COLOUR_SCALES = { log: "Log", linear: "Linear", rank: "Rank" };
const DIMMED = "hsl(0, 0%, 88%)";
const MATCHED = "hsl(300, 60%, 62%)"; // FlameGraph's search colour

/** The panel's tool state: {colour, search, hideFrameless, zoomReset}. */
export function newTools() {
  return { colour: "log", search: "", hideFrameless: false, zoomReset: 0 };
}

/** The figure as the tools say; the server's figure is never changed in place. */
export function applyTools(figure, tools) {
  const [first, ...rest] = figure.data;
  if (!first) return figure;
  let trace = first;
  if (trace.type === "heatmap" && trace.customdata) trace = recolour(trace, tools.colour);
  if (trace.type === "icicle") trace = flameView(trace, tools);
  const layout = { ...figure.layout };
  if (trace.type === "icicle" && tools.zoomReset) layout.uirevision = `${layout.uirevision}:${tools.zoomReset}`;
  return { data: [trace, ...rest], layout };
}

function recolour(trace, scale) {
  if (scale === "log") return trace;
  const counts = trace.customdata;
  if (scale === "linear") {
    const { tickvals, ticktext, ...bar } = trace.colorbar || {};
    return { ...trace, z: counts, colorbar: bar };
  }
  // Rank: each cell coloured by its place among the non-empty cells, as the appliance
  // Analytics offered, so the distribution's shape shows whatever the outliers.
  const sorted = counts.flat().filter((c) => c > 0).sort((a, b) => a - b);
  const rank = new Map(sorted.map((c, i) => [c, (i + 1) / sorted.length]));
  const { tickvals, ticktext, ...bar } = trace.colorbar || {};
  return { ...trace, z: counts.map((row) => row.map((c) => (c > 0 ? rank.get(c) : 0))), zmax: 1, colorbar: { ...bar, tickformat: ".0%" } };
}

function flameView(trace, tools) {
  let out = { ...trace, pathbar: { visible: true, side: "bottom", thickness: 18 } };
  if (tools.hideFrameless && trace.meta?.no_frames?.length) out = withoutNodes(out, new Set(trace.meta.no_frames));
  const term = tools.search.trim().toLowerCase();
  if (term) {
    const colors = out.labels.map((label, i) => (label.toLowerCase().includes(term) ? MATCHED : i === 0 ? out.marker.colors[i] : DIMMED));
    out = { ...out, marker: { ...out.marker, colors } };
  }
  return out;
}

/** The icicle without the given nodes (and their subtrees): their values come off every
 * ancestor, so the rest fills the width. */
function withoutNodes(trace, dropped) {
  const index = new Map(trace.ids.map((id, i) => [id, i]));
  const values = trace.values.slice();
  const gone = new Set();
  trace.ids.forEach((id, i) => {
    const parent = trace.parents[i];
    if (gone.has(parent)) gone.add(id); // inside a dropped subtree: already taken off
    else if (dropped.has(id)) {
      gone.add(id);
      for (let p = parent; p !== ""; p = trace.parents[index.get(p)]) values[index.get(p)] -= trace.values[i];
    }
  });
  const keep = trace.ids.map((id, i) => i).filter((i) => !gone.has(trace.ids[i]));
  const pick = (list) => keep.map((i) => list[i]);
  return {
    ...trace,
    ids: pick(trace.ids),
    labels: pick(trace.labels),
    parents: pick(trace.parents),
    values: keep.map((i) => values[i]),
    customdata: trace.customdata ? pick(trace.customdata) : undefined,
    marker: { ...trace.marker, colors: pick(trace.marker.colors) },
  };
}

/** The controls for a card's current figure kind; `redraw` draws the card again. */
export function toolControls(kind, tools, redraw, name) {
  if (kind === "heatmap") {
    const select = el("select", "panel-tool");
    select.setAttribute("aria-label", `Colour scale of ${name}`);
    for (const [value, label] of Object.entries(COLOUR_SCALES)) {
      const option = el("option", "", `Colour: ${label}`);
      option.value = value;
      select.append(option);
    }
    select.value = tools.colour;
    select.addEventListener("change", () => {
      tools.colour = select.value;
      redraw();
    });
    return [select];
  }
  if (kind !== "flame") return [];
  const search = el("input", "panel-tool panel-search");
  search.type = "search";
  search.placeholder = "Search frames";
  search.setAttribute("aria-label", `Search the frames of ${name}`);
  search.value = tools.search;
  search.addEventListener("input", () => {
    tools.search = search.value;
    redraw();
  });
  const reset = button("Reset zoom", "btn btn-small", () => {
    tools.zoomReset += 1;
    redraw();
  });
  const hide = el("label", "panel-tool panel-check");
  const box = el("input");
  box.type = "checkbox";
  box.checked = tools.hideFrameless;
  box.addEventListener("change", () => {
    tools.hideFrameless = box.checked;
    redraw();
  });
  hide.append(box, " Hide samples without frames");
  return [search, reset, hide];
}

/** What a zoomed heatmap over time holds: the events in the time range the user dragged
 * out (all buckets together) and the bucket most of them fell in; "" when not zoomed. */
export function rangeSummary(gd) {
  const trace = gd?.data?.[0];
  const range = gd?._fullLayout?.xaxis?.range;
  if (!trace || trace.type !== "heatmap" || !range || !trace.customdata || gd.layout?.xaxis?.autorange !== false) return "";
  const [lo, hi] = range.map(Number);
  const xs = Array.from(trace.x);
  const inside = xs.map((x, i) => (x >= lo && x <= hi ? i : -1)).filter((i) => i >= 0);
  if (!inside.length || inside.length === xs.length) return "";
  const totals = trace.customdata.map((row) => inside.reduce((sum, i) => sum + (row[i] || 0), 0));
  const events = totals.reduce((a, b) => a + b, 0);
  const most = totals.indexOf(Math.max(...totals));
  const when = `${xs[inside[0]].toFixed(1)}–${xs[inside.at(-1)].toFixed(1)} s`;
  const summary = events ? `${when}: ${events.toLocaleString("en-US")} events, most in ${trace.y[most]}` : `${when}: no events`;
  return `${summary} (double-click: all)`;
}

