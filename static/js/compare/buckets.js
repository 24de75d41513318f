// One distribution key compared bucket by bucket: Range, A, B, B−A, B/A, the buckets in
// their order (the ranges as the tracer prints them, from the server).

import { el } from "../dom.js";
import { deltaBar, deltaCell, formatRatio, largestDelta, numberCell } from "./table.js";

const MINUS = "\u2212";

function headRow() {
  const tr = el("tr");
  for (const [name, className] of [["Range", ""], ["A", "num"], ["B", "num"], ["B" + MINUS + "A", "num"], ["B/A", "num"], ["", "delta-viz"]]) {
    const th = el("th", className, name);
    th.scope = "col";
    if (!name) th.setAttribute("aria-hidden", "true");
    tr.append(th);
  }
  return tr;
}

/** The bucket table of `row` (a distribution row of GET /api/compare). */
export function bucketTable(row) {
  const box = el("div", "compare-buckets");
  box.append(el("h3", "compare-buckets-title", row.key.length ? "Buckets of " + row.label : "Buckets"));
  const wrap = el("div", "table-wrap compare-table-wrap");
  const table = el("table", "data-table compare-table compare-bucket-table");
  const head = el("thead");
  head.append(headRow());
  const body = el("tbody");
  const max = largestDelta(row.buckets);
  for (const bucket of row.buckets) {
    const tr = el("tr", "compare-bucket");
    tr.append(
      el("td", "compare-range", bucket.range ?? `${bucket.lo} … ${bucket.hi}`),
      numberCell(bucket.a),
      numberCell(bucket.b),
      deltaCell(bucket.delta),
      el("td", "num ratio", formatRatio(bucket)),
      deltaBar(bucket.delta, max),
    );
    body.append(tr);
  }
  table.append(head, body);
  wrap.append(table);
  box.append(wrap);
  return box;
}
