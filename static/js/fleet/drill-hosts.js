// Where a drilldown of a fleet run runs (docs/fleet.md, "Drilling down").  A key of a panel
// by host is [HOST, ...the script's key]: the host is not a key of the script, so the
// drilldown is derived for the rest and runs on that host alone.  A key of the total is
// the script's own, and its drilldown runs on every host of the run that is online.

/** What a click on `panel` is about, for the drill menu: null for a local run, else
 * {hostFirst} (whether the panel's keys start with the host). */
export function fleetScope(fleet, panel) {
  if (!fleet?.active) return null;
  return { hostFirst: fleet.hostFirst(panel) };
}

/** `target` with the host taken out of its key when the key starts with it. */
export function splitHost(target) {
  if (!target.fleet?.hostFirst || !target.key?.length || target.host !== undefined) return target;
  const [host, ...key] = target.key;
  return { ...target, key, host: String(host) };
}

/** "on web-1", "on every host of the run"; null for a local run. */
export function hostsLabel(target) {
  if (!target.fleet) return null;
  return target.host !== undefined ? `on ${target.host}` : "on every host of the run";
}

/** The `hosts` of POST /api/runs for the drilldown: the clicked key's host, or none (the
 * server then runs it on the parent's online hosts). */
export function drillHosts(target) {
  return target.host !== undefined ? { hosts: [target.host] } : {};
}
