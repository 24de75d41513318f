// A unified diff (the server's, of an original and a derived script) laid out side by side:
// rows of {left, right}, each side {n, text, kind} or null where the other side has a line
// the first does not. Unchanged lines between hunks come from the original.

const HUNK = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;

function lines(text) {
  const out = text.split("\n");
  if (out.length && out[out.length - 1] === "") out.pop();
  return out;
}

/** Rows for `original` and `derived`, aligned by `diff` (unified, as difflib writes it). */
export function sideBySide(original, derived, diff) {
  const left = lines(original);
  const right = lines(derived);
  const rows = [];
  let a = 0; // next original line (0-based)
  let b = 0;
  const same = (untilA) => {
    while (a < untilA && a < left.length) {
      rows.push({ left: { n: a + 1, text: left[a], kind: "same" }, right: { n: b + 1, text: right[b] ?? "", kind: "same" } });
      a += 1;
      b += 1;
    }
  };
  let removed = [];
  let added = [];
  const flush = () => {
    for (let i = 0; i < Math.max(removed.length, added.length); i += 1) {
      rows.push({ left: removed[i] || null, right: added[i] || null });
    }
    removed = [];
    added = [];
  };
  let inHunk = false; // before the first hunk: the "--- original" / "+++ drilldown" names
  for (const line of lines(diff)) {
    const hunk = HUNK.exec(line);
    if (hunk) {
      inHunk = true;
      flush();
      // "-0,0" is an empty original; otherwise the hunk starts at line `start`.
      const start = Number(hunk[1]) - (hunk[2] === "0" ? 0 : 1);
      same(start);
      continue;
    }
    if (!inHunk) continue;
    const mark = line[0];
    const text = line.slice(1);
    if (mark === "-") {
      removed.push({ n: a + 1, text, kind: "removed" });
      a += 1;
    } else if (mark === "+") {
      added.push({ n: b + 1, text, kind: "added" });
      b += 1;
    } else if (mark === " ") {
      flush();
      rows.push({ left: { n: a + 1, text, kind: "same" }, right: { n: b + 1, text, kind: "same" } });
      a += 1;
      b += 1;
    }
  }
  flush();
  same(left.length);
  while (b < right.length) {
    rows.push({ left: null, right: { n: b + 1, text: right[b], kind: "added" } });
    b += 1;
  }
  return rows;
}
