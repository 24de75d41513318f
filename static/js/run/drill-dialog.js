// The drilldown dialog: the derived script beside the run's (the server's unified diff laid
// out side by side), editable, and the button that starts it as a child of the run.

import { api } from "../api.js";
import { button, el } from "../dom.js";
import { drillLabel } from "./drill-labels.js";
import { drillHosts, hostsLabel } from "../fleet/drill-hosts.js";
import { sideBySide } from "./side-by-side.js";

/** The derived script beside the run's, editable, and the button that starts it. */
export class DrillDialog {
  constructor(host) {
    this.host = host;
    this.node = null;
  }

  build() {
    const d = el("dialog", "drill-dialog card");
    d.id = "drill-dialog";
    d.setAttribute("aria-labelledby", "drill-dialog-title");
    const title = el("h2", "drill-title");
    title.id = "drill-dialog-title";
    const lead = el("p", "muted drill-lead");
    const diff = el("div", "drill-diff");
    const edit = el("details", "drill-edit");
    const summary = el("summary", "", "Edit the derived script");
    const text = el("textarea", "drill-script");
    text.spellcheck = false;
    text.setAttribute("aria-label", "Derived script");
    text.rows = 12;
    edit.append(summary, text);
    const error = el("div", "drill-error");
    error.setAttribute("role", "alert");
    error.hidden = true;
    const actions = el("div", "drill-actions");
    const cancel = button("Cancel", "btn", () => d.close());
    const run = button("Run drilldown", "btn btn-primary", () => this.run());
    actions.append(cancel, run);
    d.append(title, lead, diff, edit, error, actions);
    document.body.append(d);
    this.node = d;
    this.els = { title, lead, diff, text, edit, error, run };
  }

  /** `target`: the click (run/drill.js), whose host a fleet run's drilldown runs on. */
  show(parent, drill, derived, target = {}) {
    if (!this.node) this.build();
    const e = this.els;
    this.parent = parent;
    this.drill = drill;
    this.hosts = drillHosts(target);
    const on = hostsLabel(target);
    e.title.textContent = `Drill down: ${drill.aggregation} ${drillLabel(drill)}${on ? " " + on : ""}`;
    e.lead.textContent = `Only the clauses that update ${derived.aggregation} change; the rest of the script stays as written. It runs as a drilldown of this run${on ? " " + on : ""}, which keeps running.`;
    e.diff.replaceChildren(diffTable(parent.script, derived.script, derived.diff));
    e.text.value = derived.script;
    e.edit.open = false;
    e.error.hidden = true;
    e.run.disabled = false;
    this.node.showModal();
    e.run.focus();
  }

  async run() {
    const e = this.els;
    const p = this.parent;
    e.run.disabled = true;
    e.error.hidden = true;
    const script = e.text.value;
    try {
      const run = await api("POST", "/api/runs", {
        language: p.language,
        script,
        via: p.via || "auto",
        duration: p.duration,
        interval: p.interval,
        options: p.options || {},
        keep_running: p.keep_running,
        parent: p.id,
        drill: this.drill,
        ...this.hosts,
      });
      this.node.close();
      this.host.startChild(run, script);
    } catch (err) {
      e.error.replaceChildren(el("strong", "", `The drilldown could not start: ${err.message}`));
      for (const d of err.diagnostics || []) e.error.append(el("div", "drill-diag", `${d.line}:${d.column} ${d.message}`));
      e.error.hidden = false;
      if (err.diagnostics?.length) e.edit.open = true;
    } finally {
      e.run.disabled = false;
    }
  }
}

function diffTable(original, derived, diff) {
  const t = el("table", "diff-table");
  const head = el("tr");
  head.append(el("th", "", ""), el("th", "", "This run"), el("th", "", ""), el("th", "", "Drilldown"));
  const thead = el("thead");
  thead.append(head);
  const body = el("tbody");
  for (const { left, right } of sideBySide(original, derived, diff)) {
    const tr = el("tr");
    for (const side of [left, right]) {
      tr.append(el("td", "diff-n", side ? side.n : ""), el("td", "diff-line " + (side ? "diff-" + side.kind : "diff-none"), side ? side.text : ""));
    }
    body.append(tr);
  }
  t.append(thead, body);
  return t;
}
