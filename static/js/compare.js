// The compare page: two runs (live or recorded) as a difference, from GET /api/compare
// (docs/api.md, "Compare"). /compare?a=RUN&b=RUN[&t_a=S&t_b=S]; the Runs list links here.

import { api } from "./api.js";
import { byId, el } from "./dom.js";
import { aggregationCard } from "./compare/cards.js";
import { RunPicker } from "./compare/picker.js";
import { sideCards, commonNote } from "./compare/sides.js";

const root = byId("compare-root");
const status = byId("compare-status");
const sides = byId("compare-sides");
const aggs = byId("compare-aggs");
const params = new URLSearchParams(location.search);
const picked = { a: params.get("a") || "", b: params.get("b") || "" };

function say(title, text, kind = "empty") {
  status.replaceChildren();
  if (!title) return;
  const box = el("div", "compare-message compare-" + kind);
  box.append(el("p", "empty-title", title));
  if (text) box.append(el("p", "", text));
  status.append(box);
}

/** What an API failure means on this page, and what to do about it. */
function explain(err) {
  if (err.code === "no_snapshot") return ["A run has no data yet", err.message];
  if (err.code === "no_such_run") return ["A run is not known here", err.message + ". Pick another run above."];
  if (err.code === "network") return ["The server cannot be reached", err.message];
  return ["These runs cannot be compared", err.message];
}

function compareUrl() {
  const q = new URLSearchParams({ a: picked.a, b: picked.b, charts: "1" });
  for (const t of ["t_a", "t_b"]) if (params.get(t)) q.set(t, params.get(t));
  return "/api/compare?" + q.toString();
}

async function load() {
  if (!picked.a || !picked.b) {
    sides.replaceChildren();
    aggs.replaceChildren();
    say("Pick two runs to compare", "Choose run A and run B above (the same script before and after a change, or any two runs with an aggregation in common), then Compare.");
    return;
  }
  root.dataset.loading = "1";
  say("Comparing…", null, "loading");
  let result;
  try {
    result = await api("GET", compareUrl());
  } catch (err) {
    sides.replaceChildren();
    aggs.replaceChildren();
    say(...explain(err), "error");
    delete root.dataset.loading;
    return;
  }
  sides.replaceChildren(...sideCards(result));
  if (!result.aggregations.length) {
    aggs.replaceChildren();
    say("These runs have no aggregation in common", commonNote(result) + " Compare runs of the same script, or runs whose scripts share an aggregation name.");
  } else {
    say(null);
    aggs.replaceChildren(...result.aggregations.map((agg) => aggregationCard(agg)));
    const note = commonNote(result);
    if (note) aggs.append(el("p", "compare-note muted", note));
  }
  delete root.dataset.loading;
  root.dataset.loaded = "1";
}

const picker = new RunPicker(byId("compare-pick"), picked, (a, b) => {
  picked.a = a;
  picked.b = b;
  for (const t of ["t_a", "t_b"]) params.delete(t); // times belong to the runs they were picked for
  const q = new URLSearchParams({ a, b });
  history.replaceState(null, "", "/compare?" + q.toString());
  load();
});
byId("compare-refresh").addEventListener("click", () => load());
picker.fill();
load();
