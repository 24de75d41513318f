// What the tracing costs, in the run bar: the tracer's CPU, the server's CPU for this run,
// events lost and the snapshot's size (the `cost` of snapshot messages and Runs).

import { formatBytes } from "../runs/format.js";

function pct(v) {
  return typeof v === "number" ? `${v.toFixed(1)} %` : "–";
}

/** Show `cost` in `el` (hidden while there is nothing measured). */
export function showCost(el, cost) {
  if (!el) return;
  if (!cost || (cost.tracer_cpu_pct == null && cost.server_cpu_pct == null && !cost.snapshot_bytes)) {
    el.hidden = true;
    return;
  }
  const lost = Number(cost.events_lost) || 0;
  el.replaceChildren();
  const parts = [
    ["Tracer CPU", pct(cost.tracer_cpu_pct), "The tracer's CPU over its life, in % of one core (as ps counts it)"],
    ["Server", pct(cost.server_cpu_pct), "The CPU of dtrace-ide's thread that reads this run's tracer, in % of one core"],
    ["Lost", lost.toLocaleString("en-US"), "Events the tracer reported lost or dropped (a larger buffer option keeps them)"],
    ["Snapshot", formatBytes(cost.snapshot_bytes), "The size of the latest snapshot"],
  ];
  for (const [label, value, title] of parts) {
    const item = document.createElement("span");
    item.className = "cost-item" + (label === "Lost" && lost ? " cost-warn" : "");
    item.title = title;
    const name = document.createElement("span");
    name.className = "cost-label";
    name.textContent = label;
    item.append(name, " ", value);
    el.append(item);
  }
  el.hidden = false;
}
