// How the Output step writes numbers, times and tables.

/** "1:05", "1:02:03" */
export function formatClock(seconds) {
  const s = Math.max(0, Math.floor(seconds || 0));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

export function formatNumber(v) {
  if (typeof v === "number") return Number.isInteger(v) ? v.toLocaleString("en-US") : v.toPrecision(6).replace(/\.?0+$/, "");
  return v === null || v === undefined ? "" : String(v);
}

function bucketRange(b) {
  const lo = b.lo === null ? "-∞" : b.lo;
  const hi = b.hi === null ? "+∞" : b.hi;
  return lo === hi ? String(lo) : `${lo} … ${hi}`;
}

/** A table from a raw aggregation (docs/api.md, Snapshot), for when the server sent no
 * panel for it. */
export function tableFromAggregation(agg) {
  const rows = [];
  let columns;
  const keyOf = (r) => r.key.join(", ");
  if (agg.rows.some((r) => r.buckets)) {
    columns = ["key", "range", "count"];
    for (const r of agg.rows) for (const b of r.buckets || []) rows.push([keyOf(r), bucketRange(b), b.count]);
  } else {
    columns = ["key", agg.function];
    for (const r of agg.rows) rows.push([keyOf(r), r.stats ? JSON.stringify(r.stats) : r.value]);
  }
  return { columns, rows, total_rows: agg.total_rows ?? null };
}

/** Every aggregation of `snapshot` as a table panel: what a viewer without charts sees. */
export function tablePanels(snapshot) {
  return snapshot.aggregations.map((agg) => ({
    name: agg.name, function: agg.function, kind: "table", figure: null, series: null,
    table: tableFromAggregation(agg), note: null,
  }));
}
