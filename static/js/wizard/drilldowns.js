// The wizard's drilldowns: the menu a click on a key opens and the breadcrumb, over the runs
// this page has seen (their script and options, from GET /api/runs/ID or as started).

import { api } from "../api.js";
import { Crumbs } from "../run/crumbs.js";
import { DrillMenu } from "../run/drill.js";

/** `follow(run, script)` shows a run in the Output step; `banner(message, fix)` says why not. */
export function mountDrilldowns(nav, { follow, banner }) {
  const sources = new Map();
  const source = (id) => {
    if (!sources.has(id)) {
      const ask = api("GET", `/api/runs/${encodeURIComponent(id)}`);
      ask.catch(() => sources.delete(id));
      sources.set(id, ask);
    }
    return sources.get(id);
  };
  const started = (run, script) => sources.set(run.id, Promise.resolve({ ...run, script }));
  const menu = new DrillMenu({
    source,
    startChild(run, script) {
      started(run, script);
      follow(run, script);
    },
  });
  const crumbs = new Crumbs(nav, {
    source,
    async open(id) {
      const run = await source(id).catch(() => null);
      if (run) follow(run, run.script);
      else banner("That run is no longer kept by the server.", "Finished runs are kept for a while; start it again from the Write step.");
    },
  });
  return { menu, crumbs, started };
}
