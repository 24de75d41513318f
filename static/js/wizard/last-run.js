// The run this browser started last, so a reload (or a new tab) can reach it again and
// stop it while it runs; the viewer link is kept with it (GET /api/runs does not give it).

import { api } from "../api.js";
import { byId as $, bannerNode, button } from "../dom.js";

const RUN_KEY = "dtrace-ide.last-run";

export function rememberRun(run) {
  try {
    localStorage.setItem(RUN_KEY, JSON.stringify({ id: run.id, viewerUrl: run.viewer_url }));
  } catch {
    /* storage full or off: the run is only reachable from this page */
  }
}

/** A run this browser started that is still going comes back to the Output step.
 * `host`: {busy(), attach(run, viewerUrl), openOutput()}. */
export async function reattachRun(host) {
  let kept;
  try {
    kept = JSON.parse(localStorage.getItem(RUN_KEY) || "null");
  } catch {
    return;
  }
  if (!kept?.id || host.busy()) return;
  const run = await api("GET", `/api/runs/${encodeURIComponent(kept.id)}`).catch(() => null);
  if (!run || (run.state !== "running" && run.state !== "starting") || host.busy()) return;
  host.attach(run, kept.viewerUrl || "");
  const note = bannerNode("warn", "A run you started is still going.", "Watch it or stop it in the Output step.", "status");
  note.id = "run-still-going";
  const open = button("Open Output", "btn btn-small", () => {
    note.remove();
    host.openOutput();
  });
  note.insertBefore(open, note.lastChild);
  $("app-banners").append(note);
}
