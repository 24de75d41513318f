// The drilldown breadcrumb over the Output step: the run the drilldowns started from, then
// each drilldown ("syscalls by process › nginx › by pid"); a crumb reopens its run. Built
// from the runs' own `parent` and `drill` (GET /api/runs/ID), so a reload shows it again.
//
// `host`: {source(runId) -> Promise<run body>, open(runId)}.

import { button, el } from "../dom.js";
import { drillLabel } from "./drill-labels.js";

const MAX_DEPTH = 16;
const HEAD_LINES = 30; // where a `title:` line is looked for
const COMMENT_MARK = /^(\/\/|\/\*+|\*+|#)/;

function short(text) {
  return text.length > 48 ? text.slice(0, 47) + "…" : text;
}

/** A run's name in the breadcrumb: the `title:` line of its header comment (the shipped
 * examples have one), or its first line of code. */
export function scriptTitle(script) {
  const lines = script.split("\n", HEAD_LINES).map((l) => l.trim());
  for (const line of lines) {
    const text = line.replace(COMMENT_MARK, "").trim();
    if (text.startsWith("title:")) return short(text.slice(6).replace(/\*\/$/, "").trim());
  }
  return short(lines.find((l) => l && !COMMENT_MARK.test(l)) || "run");
}

export class Crumbs {
  constructor(nav, host) {
    this.nav = nav;
    this.host = host;
    this.trail = []; // run bodies, the first without a parent (or whose parent is gone)
  }

  /** Show the path to run `id`; a run already on the path keeps the crumbs after it, so
   * going back to the parent leaves the way forward. */
  async show(id) {
    this.current = id;
    const at = this.trail.findIndex((r) => r.id === id);
    if (at < 0) {
      const run = await this.host.source(id).catch(() => null);
      if (!run || this.current !== id) return;
      const parent = this.trail.findIndex((r) => r.id === run.parent);
      this.trail = parent >= 0 ? [...this.trail.slice(0, parent + 1), run] : await this.chain(run);
    }
    if (this.current === id) this.render();
  }

  async chain(run) {
    const path = [run];
    while (path[0].parent && path.length < MAX_DEPTH) {
      const up = await this.host.source(path[0].parent).catch(() => null);
      if (!up) break;
      path.unshift(up);
    }
    return path;
  }

  render() {
    this.nav.hidden = this.trail.length < 2;
    const list = el("ol", "crumb-list");
    this.trail.forEach((run, i) => {
      const label = i === 0 || !run.drill ? scriptTitle(run.script || "") : drillLabel(run.drill);
      const li = el("li", "crumb");
      if (run.id === this.current) {
        const here = el("span", "crumb-here", label);
        here.setAttribute("aria-current", "page");
        li.append(here);
      } else {
        const b = button(label, "crumb-link", () => this.host.open(run.id));
        b.title = `Reopen this run (${run.id})`;
        li.append(b);
      }
      list.append(li);
    });
    this.nav.replaceChildren(list);
  }
}
