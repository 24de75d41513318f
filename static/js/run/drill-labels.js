// How a drilldown's key and the drilldown itself read, in the menu, the dialog and the crumbs.

/** "nginx", "bash, 1234": a key as text (its parts as traced); a stack part (null in a
 * panel's keys, "" in a run's drill) is "any stack". */
export function keyText(key) {
  return key.map((p) => (p === null || p === "" ? "any stack" : String(p))).join(", ");
}

/** What a drill is called in the breadcrumb and the dialog: "nginx › by pid". */
export function drillLabel(drill) {
  const key = keyText(drill.key);
  if (drill.mode === "exclude") return `not ${key}`;
  if (drill.mode === "latency") return `latency of ${key}`;
  return drill.by ? `${key} › by ${drill.by}` : `only ${key}`;
}
