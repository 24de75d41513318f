// One row of the Runs place: a run's title, language, start, duration, state, host and size,
// with its actions (open, pin, rename, export, delete).  A row is built once and updated in
// place on each refresh, so focus, a rename being typed or a delete being confirmed survive.
//
// Titles, hosts and errors are untrusted text: set with textContent only.

import { button, el } from "../dom.js";
import { LANGUAGE_NAME } from "../library/util.js";
import { STATE_LABEL } from "../run/run-bar.js";
import { ACTIVE, absoluteTime, durationText, formatBytes, relativeTime, runTitle } from "./format.js";

const MAX_TITLE = 200; // PATCH /api/runs/ID refuses longer ones

function cell(className) {
  return el("td", className);
}

/** Blocked with `reason` (still focusable, so the reason can be read), or usable. */
function block(node, reason) {
  node.classList.toggle("runs-blocked", Boolean(reason));
  if (reason) node.setAttribute("aria-disabled", "true");
  else node.removeAttribute("aria-disabled");
  node.title = reason || node.dataset.help || "";
}

function blocked(node) {
  return node.getAttribute("aria-disabled") === "true";
}

function action(label, name, help, onClick) {
  const b = button(label, "btn btn-small runs-action", (ev) => {
    if (blocked(b)) return void ev.preventDefault();
    onClick();
  });
  b.dataset.action = name;
  b.dataset.help = help;
  b.title = help;
  return b;
}

export class RunRow {
  /**
   * @param ctx.open(run) / ctx.pin(run) / ctx.rename(run, title) / ctx.remove(run) the actions
   *   (rename and remove resolve to true when done)
   * @param ctx.select(run, on) a compare checkbox changed
   * @param ctx.say(text) a short status line
   * @param ctx.titleOf(id) the title of another run in the list, or null
   */
  constructor(run, ctx) {
    this.ctx = ctx;
    this.run = run;
    this.busy = false; // a rename or a delete confirmation is open: refreshes leave it be
    const tr = el("tr", "runs-row");
    tr.dataset.runId = run.id;
    this.tr = tr;

    this.check = el("input", "runs-check");
    this.check.type = "checkbox";
    this.check.addEventListener("change", () => ctx.select(this.run, this.check.checked));
    const checkCell = cell("runs-col-select");
    checkCell.append(this.check);

    this.titleCell = cell("runs-col-title");
    this.titleBox = el("div", "runs-title-box");
    this.pinMark = el("span", "runs-pin-mark", "Pinned");
    this.titleButton = button("", "runs-title", () => ctx.open(this.run));
    this.titleButton.dataset.action = "title";
    this.meta = el("div", "runs-meta");
    this.language = el("span", "runs-lang");
    this.drill = el("span", "runs-drill");
    this.meta.append(this.language, this.drill);
    this.titleBox.append(this.pinMark, this.titleButton);
    this.titleCell.append(this.titleBox, this.meta);

    this.time = el("time", "runs-started");
    const startedCell = cell("runs-col-started");
    startedCell.append(this.time);
    this.duration = cell("runs-col-duration");
    this.pill = el("span", "pill runs-state");
    this.error = el("span", "runs-sr"); // the error, for a screen reader (sighted: on hover)
    const stateCell = cell("runs-col-state");
    stateCell.append(this.pill, this.error);
    this.host = cell("runs-col-host");
    this.size = cell("runs-col-size");

    this.actions = cell("runs-col-actions");
    this.tools = el("div", "runs-tools");
    this.openButton = action("Open", "open", "Show this run in the Output step", () => ctx.open(this.run));
    this.openButton.classList.add("runs-open");
    this.pinButton = action("Pin", "pin", "", () => ctx.pin(this.run));
    this.renameButton = action("Rename", "rename", "Give this run a title of its own", () => this.startRename());
    this.exportLink = el("a", "btn btn-small runs-action", "Export");
    this.exportLink.dataset.action = "export";
    this.exportLink.dataset.help = "Download the whole record as one file (.ndjson.gz); Import takes it back, here or on another box";
    this.exportLink.addEventListener("click", (ev) => blocked(this.exportLink) && ev.preventDefault());
    this.deleteButton = action("Delete", "delete", "Delete this run's record", () => this.askDelete());
    this.deleteButton.classList.add("btn-danger");
    this.tools.append(this.openButton, this.pinButton, this.renameButton, this.exportLink, this.deleteButton);
    this.actions.append(this.tools);

    tr.append(checkCell, this.titleCell, startedCell, this.duration, stateCell, this.host, this.size, this.actions);
    this.update(run);
  }

  /** Show `run` (a newer answer for the same id); `now` for the relative start time. */
  update(run, now = Date.now()) {
    this.run = run;
    const title = runTitle(run);
    const active = ACTIVE.has(run.state);
    this.tr.classList.toggle("runs-pinned", Boolean(run.pinned));
    this.tr.classList.toggle("runs-child", Boolean(run.parent));
    this.tr.dataset.state = run.state;
    this.check.setAttribute("aria-label", `Select "${title}" to compare`);
    this.pinMark.hidden = !run.pinned;
    this.pinMark.title = "Pinned: never expired";
    this.titleButton.textContent = title;
    this.titleButton.title = `${title}\nOpen this run in the Output step`;
    this.titleButton.classList.toggle("runs-untitled", !(run.title || "").trim());
    this.language.textContent = LANGUAGE_NAME[run.language] || run.language;
    this.language.className = `runs-lang runs-lang-${run.language}`;
    this.language.title = run.via ? `${LANGUAGE_NAME[run.language]}, traced with ${run.via}` : "";
    this.drill.hidden = !run.parent;
    const parent = run.parent ? this.ctx.titleOf(run.parent) : null;
    const by = run.drill?.by ? ` by ${run.drill.by}` : "";
    this.drill.textContent = parent ? `↳ drilldown of ${parent}` : `↳ drilldown${by}`;
    this.drill.title = run.parent ? `Drilled down${by} from run ${run.parent}${parent ? ` (${parent})` : ""}` : "";

    this.time.dateTime = run.started_at || "";
    this.time.textContent = relativeTime(run.started_at, now);
    this.time.title = absoluteTime(run.started_at);
    this.duration.textContent = durationText(run);
    this.pill.textContent = STATE_LABEL[run.state] || run.state;
    this.pill.className = `pill pill-${run.state} runs-state`;
    this.pill.title = run.error ? `${STATE_LABEL[run.state] || run.state}: ${run.error}` : "";
    this.error.textContent = run.error ? `: ${run.error}` : "";
    this.host.textContent = run.host || "—";
    this.host.title = run.host || "";
    this.size.textContent = run.recorded && run.bytes ? formatBytes(run.bytes) : "—";
    this.size.title = run.recorded ? `${run.snapshots ?? 0} snapshots, ${Number(run.bytes || 0).toLocaleString("en-US")} bytes recorded` : "";

    const unrecorded = run.recorded ? "" : "Runs are not recorded on this server (record_runs)";
    this.pinButton.textContent = run.pinned ? "Unpin" : "Pin";
    this.pinButton.setAttribute("aria-pressed", String(Boolean(run.pinned)));
    this.pinButton.dataset.help = run.pinned ? "Let this run expire like the others" : "Keep this run: pinned runs are never expired";
    block(this.pinButton, unrecorded);
    block(this.renameButton, unrecorded);
    if (unrecorded) this.exportLink.removeAttribute("href");
    else this.exportLink.href = `/api/runs/${encodeURIComponent(run.id)}/export?gzip=1`;
    this.exportLink.download = `dtrace-ide-run-${run.id}.ndjson.gz`;
    block(this.exportLink, unrecorded);
    block(this.deleteButton, unrecorded || (active ? "The run is still going: stop it first, then delete its record" : ""));
  }

  setSelected(on, disabled) {
    this.check.checked = on;
    this.check.disabled = disabled && !on;
    this.check.title = this.check.disabled ? "Two runs are selected: clear one to pick another" : "";
    this.tr.classList.toggle("runs-selected", on);
  }

  // --- rename ---------------------------------------------------------------------------

  startRename() {
    if (this.busy) return;
    this.busy = true;
    const form = el("form", "runs-rename");
    const input = el("input", "runs-rename-input");
    input.type = "text";
    input.maxLength = MAX_TITLE;
    input.value = (this.run.title || "").trim();
    input.setAttribute("aria-label", "Title of this run");
    const problem = el("span", "runs-rename-error");
    problem.setAttribute("role", "alert");
    const save = el("button", "btn btn-small btn-primary", "Save");
    save.type = "submit";
    const cancel = button("Cancel", "btn btn-small", () => this.endRename(form, true));
    form.append(input, save, cancel, problem);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const title = input.value.trim();
      if (!title) {
        problem.textContent = "A title cannot be empty.";
        return input.focus();
      }
      save.disabled = true;
      const done = await this.ctx.rename(this.run, title);
      save.disabled = false;
      if (done) this.endRename(form, true);
      else input.focus();
    });
    form.addEventListener("keydown", (ev) => {
      if (ev.key !== "Escape") return;
      ev.preventDefault();
      this.endRename(form, true);
    });
    this.titleBox.hidden = true;
    this.titleCell.prepend(form);
    input.focus();
    input.select();
  }

  endRename(form, refocus) {
    form.remove();
    this.titleBox.hidden = false;
    this.busy = false;
    this.update(this.run); // what changed meanwhile (the new title, too)
    if (refocus) this.renameButton.focus();
  }

  // --- delete ---------------------------------------------------------------------------

  askDelete() {
    if (this.busy) return;
    this.busy = true;
    const box = el("div", "runs-confirm");
    box.setAttribute("role", "alertdialog");
    box.setAttribute("aria-label", "Delete this run's record?");
    box.append(el("span", "runs-confirm-text", "Delete this record? It cannot be undone."));
    const keep = () => {
      box.remove();
      this.tools.hidden = false;
      this.busy = false;
      this.deleteButton.focus();
    };
    const yes = button("Delete", "btn btn-small btn-danger runs-confirm-yes", async () => {
      yes.disabled = true;
      if (!(await this.ctx.remove(this.run))) keep();
    });
    box.append(yes, button("Keep", "btn btn-small runs-confirm-no", keep));
    box.addEventListener("keydown", (ev) => {
      if (ev.key !== "Escape") return;
      ev.preventDefault();
      keep();
    });
    this.tools.hidden = true;
    this.actions.append(box);
    yes.focus();
  }
}
