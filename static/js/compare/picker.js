// The two run choosers of the compare page, filled from GET /api/runs (newest first).

import { api } from "../api.js";
import { byId, el } from "../dom.js";

const LISTED = 200;

/** "Syscalls by process · 2026-12-04 18:02 · stopped" */
export function runLabel(run) {
  const when = (run.started_at || "").replace("T", " ").replace(/:\d\dZ$/, "");
  return [run.title || run.id, when && when + " UTC", run.state].filter(Boolean).join(" · ");
}

export class RunPicker {
  /** `picked` holds the ids shown ({a, b}); `onPick(a, b)` runs on Compare. */
  constructor(form, picked, onPick) {
    this.form = form;
    this.picked = picked;
    this.a = byId("pick-a");
    this.b = byId("pick-b");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (this.a.value && this.b.value) onPick(this.a.value, this.b.value);
    });
    byId("pick-swap").addEventListener("click", () => {
      const a = this.a.value;
      this.a.value = this.b.value;
      this.b.value = a;
      if (this.a.value && this.b.value) onPick(this.a.value, this.b.value);
    });
  }

  async fill() {
    let runs = [];
    try {
      runs = (await api("GET", `/api/runs?limit=${LISTED}`)).runs || [];
    } catch {
      runs = []; // the page still compares the runs in its address
    }
    for (const [select, id] of [[this.a, this.picked.a], [this.b, this.picked.b]]) {
      const options = [el("option", "", "Choose a run…")];
      options[0].value = "";
      for (const run of runs) {
        const option = el("option", "", runLabel(run));
        option.value = run.id;
        options.push(option);
      }
      if (id && !runs.some((r) => r.id === id)) {
        const option = el("option", "", id);
        option.value = id;
        options.push(option);
      }
      select.replaceChildren(...options);
      select.value = id || "";
    }
    this.form.dataset.filled = "1";
  }
}
