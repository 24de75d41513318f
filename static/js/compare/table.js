// A difference table: Key, A, B, B−A, B/A, the rows as the server ranked them (largest
// change first). Keys are traced text: they go in as text only.

import { button, el } from "../dom.js";
import { formatNumber } from "../run/format.js";

const ROWS_SHOWN = 50; // more on request: a table of thousands of rows is slow to scroll
const MINUS = "\u2212";

/** "+5", "−2", "0" (and "" when there is no difference to show). */
export function formatDelta(delta) {
  if (typeof delta !== "number") return "";
  if (delta === 0) return "0";
  return (delta > 0 ? "+" : MINUS) + formatNumber(Math.abs(delta));
}

/** "1.5×", "new" (not in A), "gone" (not in B), "—" (A is 0). */
export function formatRatio(row) {
  if (row.a === null && row.b !== null) return "new";
  if (row.b === null && row.a !== null) return "gone";
  if (typeof row.ratio !== "number") return "—";
  const r = row.ratio;
  const text = r >= 100 ? Math.round(r).toLocaleString("en-US") : r.toPrecision(3).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "");
  return text + "×";
}

export function direction(delta) {
  if (typeof delta !== "number" || delta === 0) return "same";
  return delta > 0 ? "up" : "down";
}

/** A bar from the middle of the cell: right (up) or left (down), to the scale of `max`. */
export function deltaBar(delta, max) {
  const td = el("td", "delta-viz");
  td.setAttribute("aria-hidden", "true");
  const track = el("div", "delta-track");
  const dir = direction(delta);
  if (dir !== "same" && max > 0) {
    const bar = el("span", "delta-bar delta-bar-" + dir);
    bar.style.width = Math.max(0.5, (50 * Math.abs(delta)) / max).toFixed(2) + "%";
    track.append(bar);
  }
  td.append(track);
  return td;
}

/** The largest |delta| of `rows` (what their bars are drawn to the scale of). */
export function largestDelta(rows) {
  return rows.reduce((m, r) => (typeof r.delta === "number" ? Math.max(m, Math.abs(r.delta)) : m), 0);
}

export function numberCell(value, className = "num") {
  const td = el("td", className, value === null || value === undefined ? "" : formatNumber(value));
  if (value === null) {
    td.classList.add("missing");
    td.textContent = "–";
    td.title = "no such key in this run";
  }
  return td;
}

function keyTitle(row) {
  return row.key.map((part) => String(part)).join(", ");
}

/** The B−A cell: an arrow and the signed difference, coloured by its direction. */
export function deltaCell(delta) {
  const dir = direction(delta);
  const td = el("td", "num delta delta-" + dir);
  if (dir !== "same") td.append(el("span", "delta-arrow", dir === "up" ? "▲" : "▼"));
  td.append(document.createTextNode(formatDelta(delta)));
  return td;
}

function rowNode(row, index, distribution, onPick, max) {
  const tr = el("tr", "compare-row");
  tr.dataset.index = String(index);
  tr.dataset.change = direction(row.delta);
  const key = el("td", "compare-key", row.label ?? keyTitle(row));
  key.title = keyTitle(row);
  tr.append(key, numberCell(row.a), numberCell(row.b), deltaCell(row.delta), el("td", "num ratio", formatRatio(row)));
  if (distribution) tr.append(numberCell(row.change, "num moved"));
  else tr.append(deltaBar(row.delta, max));
  if (onPick) {
    tr.classList.add("has-chart");
    tr.tabIndex = 0;
    tr.title = "Show this key's distributions, bucket by bucket";
    tr.addEventListener("click", () => onPick(index));
    tr.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        onPick(index);
      }
    });
  }
  return tr;
}

function headRow(distribution) {
  const tr = el("tr");
  const columns = [["Key", ""], ["A", "num"], ["B", "num"], ["B" + MINUS + "A", "num"], ["B/A", "num"]];
  columns.push(distribution ? ["Moved", "num"] : ["", "delta-viz"]);
  for (const [name, className] of columns) {
    const th = el("th", className, name);
    th.scope = "col";
    if (!name) th.setAttribute("aria-hidden", "true");
    if (name === "Moved") th.title = `each bucket's |B${MINUS}A| added up: how far the distribution moved; rows are sorted by it`;
    if (distribution && (name === "A" || name === "B")) th.title = "every event of the key, all buckets together";
    tr.append(th);
  }
  return tr;
}

/** The table of `agg` (one aggregation of GET /api/compare); `onPick(index)` selects a
 * distribution row's chart. */
export function differenceTable(agg, onPick) {
  const wrap = el("div", "table-wrap compare-table-wrap");
  const table = el("table", "data-table compare-table");
  const caption = el("caption", "visually-hidden", `${agg.name}: A, B and their difference per key, largest change first`);
  const head = el("thead");
  head.append(headRow(agg.distribution));
  const body = el("tbody");
  table.append(caption, head, body);
  wrap.append(table);
  const more = el("div", "compare-more");
  const max = largestDelta(agg.rows);
  const showRows = (n) => {
    body.replaceChildren(...agg.rows.slice(0, n).map((row, i) => rowNode(row, i, agg.distribution, onPick, max)));
    more.replaceChildren();
    if (agg.rows.length > n) {
      more.append(button(`Show all ${agg.rows.length.toLocaleString("en-US")} keys`, "btn btn-small", () => showRows(agg.rows.length)));
    }
  };
  showRows(ROWS_SHOWN);
  if (!agg.rows.length) body.append(emptyRow());
  return [wrap, more];
}

function emptyRow() {
  const tr = el("tr");
  const td = el("td", "compare-none muted", "Neither run has a key in this aggregation yet.");
  td.colSpan = 6;
  tr.append(td);
  return tr;
}

/** Marks the row whose chart is shown. */
export function markPicked(wrap, index) {
  for (const tr of wrap.querySelectorAll("tr.compare-row")) tr.classList.toggle("picked", tr.dataset.index === String(index));
}
