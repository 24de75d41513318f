// A panel's table: sortable by any column, filtered by text, copied as TSV. Cells are
// set as text, never markup (traced keys are untrusted). The sort and the filter belong to
// the card and survive each snapshot's redraw.

import { button, el } from "../dom.js";
import { formatNumber } from "./format.js";

export const MAX_TABLE_ROWS = 1000;

export function newTableState() {
  return { sortColumn: null, descending: true, filter: "" };
}

function compare(a, b) {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (a === null || a === undefined) return b === null || b === undefined ? 0 : -1;
  if (b === null || b === undefined) return 1;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

/** Which rows the state shows (their indices): filtered by its text, sorted by its column. */
export function shownRows(rows, state) {
  const term = state.filter.trim().toLowerCase();
  let out = rows.map((_, n) => n);
  if (term) out = out.filter((n) => rows[n].some((cell) => String(cell ?? "").toLowerCase().includes(term)));
  if (state.sortColumn !== null) {
    const i = state.sortColumn;
    out.sort((a, b) => (state.descending ? -1 : 1) * compare(rows[a][i], rows[b][i]));
  }
  return out;
}

/** Tab-separated text of the columns and rows; tabs and newlines inside cells become spaces. */
export function tsv(columns, rows) {
  const cell = (c) => String(c ?? "").replace(/[\t\r\n]+/g, " ");
  return [columns, ...rows].map((row) => row.map(cell).join("\t")).join("\n") + "\n";
}

/** The table's nodes; `redraw` draws it again after the state changed. With `onRow`, a
 * row that names a key (`table.ranks`) is focusable and a click or Enter on it calls
 * `onRow(rank, row)` (the drilldown menu). */
export function tableNodes(table, state, redraw, name, onRow = null) {
  const tools = el("div", "table-tools");
  const filter = el("input", "table-filter");
  filter.type = "search";
  filter.placeholder = "Filter rows";
  filter.setAttribute("aria-label", `Filter the rows of ${name}`);
  filter.value = state.filter;
  filter.addEventListener("input", () => {
    state.filter = filter.value;
    redraw({ keepFocus: true });
  });
  const shown = shownRows(table.rows, state);
  const rows = shown.map((n) => table.rows[n]);
  const copy = button("Copy as TSV", "btn btn-small", async () => {
    try {
      await navigator.clipboard.writeText(tsv(table.columns, rows));
      copy.textContent = "Copied";
    } catch {
      copy.textContent = "Copy failed";
    }
    setTimeout(() => (copy.textContent = "Copy as TSV"), 1500);
  });
  copy.dataset.tsv = "1";
  tools.append(filter, copy);

  const t = el("table", "data-table");
  const hr = el("tr");
  table.columns.forEach((c, i) => {
    const th = el("th");
    const sorted = state.sortColumn === i;
    th.setAttribute("aria-sort", sorted ? (state.descending ? "descending" : "ascending") : "none");
    const b = button(String(c) + (sorted ? (state.descending ? " ▾" : " ▴") : ""), "th-sort", () => {
      state.descending = state.sortColumn === i ? !state.descending : true;
      state.sortColumn = i;
      redraw({});
    });
    th.append(b);
    hr.append(th);
  });
  const thead = el("thead");
  thead.append(hr);
  const tbody = el("tbody");
  for (const n of shown.slice(0, MAX_TABLE_ROWS)) {
    const tr = el("tr");
    for (const cell of table.rows[n]) tr.append(el("td", typeof cell === "number" ? "num" : "", formatNumber(cell)));
    const rank = table.ranks?.[n];
    if (onRow && rank !== undefined) {
      tr.tabIndex = 0;
      tr.className = "drill-row";
      tr.dataset.rank = String(rank);
      tr.title = "Click or press Enter to drill into this key";
      tr.addEventListener("click", () => onRow(rank, tr));
      tr.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter" || ev.key === " ") {
          ev.preventDefault();
          onRow(rank, tr);
        }
      });
    }
    tbody.append(tr);
  }
  t.append(thead, tbody);
  const parts = [tools, t];
  const total = table.total_rows ?? table.rows.length;
  if (!table.rows.length) parts.splice(1, 0, el("p", "muted table-note", "No rows yet."));
  else if (!rows.length) parts.push(el("p", "muted table-note", "No row matches the filter."));
  else if (total > Math.min(rows.length, MAX_TABLE_ROWS)) {
    const n = Math.min(rows.length, MAX_TABLE_ROWS).toLocaleString("en-US");
    parts.push(el("p", "muted table-note", `Showing ${n} of ${total.toLocaleString("en-US")} rows.`));
  }
  return { parts, filter };
}
