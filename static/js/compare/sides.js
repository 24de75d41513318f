// The two runs the page compares (A and B: title, start, state, the moment compared), and
// what they do not have in common.

import { el } from "../dom.js";

/** "2026-12-04 18:02:11 UTC", as the chooser writes it. */
function startedText(iso) {
  return iso ? iso.replace("T", " ").replace(/Z$/, " UTC") : "";
}

function sideCard(tag, run) {
  const card = el("article", "compare-side card");
  card.dataset.side = tag.toLowerCase();
  card.dataset.runId = run.id;
  const head = el("div", "compare-side-head");
  head.append(el("span", "side-tag side-" + tag.toLowerCase(), tag), el("h2", "compare-side-title", run.title || run.id));
  const meta = el("p", "compare-side-meta");
  const parts = [
    ["started", startedText(run.started_at)],
    ["state", run.state],
    ["at", typeof run.t === "number" ? `${run.t.toFixed(1)} s after attach` : ""],
    ["language", run.language],
  ];
  for (const [name, text] of parts) {
    if (!text) continue;
    const item = el("span", "compare-side-item");
    item.append(el("span", "muted", name + " "), el("span", "", text));
    meta.append(item);
  }
  const id = el("code", "compare-side-id", run.id);
  id.title = "run id";
  meta.append(id);
  card.append(head, meta);
  return card;
}

/** A's card and B's. */
export function sideCards(result) {
  return [sideCard("A", result.a), sideCard("B", result.b)];
}

/** "Only in A: @x. Only in B: @y. @f is count() in A and sum() in B." ("" when nothing). */
export function commonNote(result) {
  const parts = [];
  if (result.only_in_a?.length) parts.push("Only in A: " + result.only_in_a.join(", ") + ".");
  if (result.only_in_b?.length) parts.push("Only in B: " + result.only_in_b.join(", ") + ".");
  for (const m of result.mismatched || []) parts.push(`${m.name} is ${m.function_a}() in A and ${m.function_b}() in B.`);
  return parts.join(" ");
}
