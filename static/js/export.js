// Files the Output step can save: snapshot JSON and CSV, the run as NDJSON.

/** Offer `text` as a download named `filename`. */
export function download(filename, text, type) {
  const blob = new Blob([text], { type: type || "text/plain" });
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// A spreadsheet runs a cell that starts with one of these as a formula (OWASP's list).
const FORMULA_START = /^[=+\-@\t\r]/;
const PLAIN_NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** One CSV cell, quoted when needed.  Any cell may hold traced text (keys, string values,
 * the names a script gave its maps), so text a spreadsheet would run as a formula gets a
 * leading apostrophe; a number (-5, 1e-7) stays a number. */
export function csvCell(value) {
  if (value === null || value === undefined) return "";
  let s = String(value);
  if (FORMULA_START.test(s) && !PLAIN_NUMBER.test(s)) s = "'" + s;
  return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

function bucketLabel(value) {
  return value === null || value === undefined ? "" : value;
}

/** A snapshot as CSV: one line per scalar row, one line per bucket of a distribution. */
export function snapshotCsv(snapshot) {
  const lines = [["aggregation", "function", "key", "value", "bucket_low", "bucket_high", "count"]];
  for (const agg of snapshot?.aggregations || []) {
    for (const row of agg.rows || []) {
      const key = (row.key || []).join(", ");
      if (row.buckets) {
        for (const b of row.buckets) {
          lines.push([agg.name, agg.function, key, "", bucketLabel(b.lo), bucketLabel(b.hi), b.count]);
        }
      } else if (row.stats) {
        const s = row.stats;
        lines.push([agg.name, agg.function, key, s.average ?? row.value ?? "", "", "", s.count ?? ""]);
      } else {
        lines.push([agg.name, agg.function, key, row.value, "", "", ""]);
      }
    }
  }
  return lines.map((cells) => cells.map(csvCell).join(",")).join("\r\n") + "\r\n";
}

/** A file name for this run's exports: dtrace-ide-<id>-<suffix>. */
export function exportName(runId, suffix) {
  const safe = String(runId || "run").replace(/[^A-Za-z0-9_-]/g, "");
  return `dtrace-ide-${safe}-${suffix}`;
}
