// A card per aggregation the two runs have in common: its name and what was compared, the
// difference table, and for a distribution the picked key's A and B overlaid and compared
// bucket by bucket.

import { el } from "../dom.js";
import { bucketTable } from "./buckets.js";
import { OverlayChart } from "./chart.js";
import { differenceTable, markPicked } from "./table.js";

function summary(agg) {
  const keys = agg.total_rows.toLocaleString("en-US");
  const changed = agg.rows.filter((r) => typeof r.delta === "number" && (r.delta !== 0 || r.change)).length;
  let text = `${keys} ${agg.total_rows === 1 ? "key" : "keys"} · `;
  text += changed ? `${changed.toLocaleString("en-US")} changed` : "none changed";
  if (changed && agg.total_rows > 1) text += " · largest change first";
  if (agg.left_out) text += ` · the ${agg.left_out.toLocaleString("en-US")} that changed least are left out`;
  return text;
}

function head(agg) {
  const node = el("header", "panel-head");
  const title = el("h2", "panel-title");
  title.append(el("span", "agg-name", agg.name), el("span", "agg-fn", agg.function + "()"));
  node.append(title, el("span", "compare-summary muted", summary(agg)));
  return node;
}

/** A distribution: the chart at the left; at the right the keys (when there are several)
 * and the picked key's buckets. */
function distributionBody(agg) {
  const body = el("div", "compare-agg-body compare-dist");
  const side = el("div", "compare-table-side");
  const buckets = el("div", "compare-buckets-host");
  let tableWrap = null;
  let chart = null;
  const pick = (index) => {
    const row = agg.rows[index];
    if (!row) return;
    chart.show(index);
    buckets.replaceChildren(bucketTable(row));
    if (tableWrap) markPicked(tableWrap, index);
  };
  chart = new OverlayChart(agg.rows, pick);
  if (agg.rows.length > 1) {
    const [wrap, more] = differenceTable(agg, pick);
    tableWrap = wrap;
    wrap.classList.add("compare-keys");
    side.append(wrap, more);
  }
  side.append(buckets);
  body.append(chart.node, side);
  requestAnimationFrame(() => pick(0));
  return body;
}

/** The card of one aggregation of GET /api/compare. */
export function aggregationCard(agg) {
  const card = el("article", "compare-agg card");
  card.dataset.name = agg.name;
  card.dataset.function = agg.function;
  card.append(head(agg));
  if (agg.partial) {
    card.append(el("p", "compare-partial", "A run kept only its busiest keys (the server's row cap): a key missing on one side may only be past that cap."));
  }
  if (agg.distribution && agg.rows.length) {
    card.append(distributionBody(agg));
  } else {
    card.append(...differenceTable(agg, null));
  }
  return card;
}
