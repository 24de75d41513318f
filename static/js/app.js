// The three-step wizard: Write (editor, language, compile status), Run (duration,
// interval, options), Output (the live run, see run-view.js).  The compile status is in
// wizard/compile.js, the run form in wizard/run-form.js, drafts in wizard/drafts.js.

import { api } from "./api.js";
import { byId as $, bannerNode, button, el } from "./dom.js";
import { mountEditor } from "./editor-host.js";
import { loadPlotly } from "./plotly-loader.js";
import { RunView } from "./run-view.js";
import { VOCABULARY } from "./vocabulary.js";
import { Compiler } from "./wizard/compile.js";
import { Drafts } from "./wizard/drafts.js";
import { mountDrilldowns } from "./wizard/drilldowns.js";
import { renderBackends } from "./wizard/backends.js";
import { TranslationPane } from "./wizard/translation.js";
import { reattachRun, rememberRun } from "./wizard/last-run.js";
import { RunForm } from "./wizard/run-form.js";
import { ShownRun } from "./wizard/shown-run.js";
import { mountRuns } from "./runs/page.js";

const STEPS = ["write", "run", "output"];
const PLACES = ["runs", ...STEPS]; // the Runs place (runs/page.js) sits before the steps
const LANGUAGE_NAME = { d: "D", bpftrace: "bpftrace" };
const STARTERS = {
  bpftrace: "// Count system calls by process name.\ntracepoint:raw_syscalls:sys_enter\n{\n    @calls[comm] = count();\n}\n",
  d: "/* Count system calls by process name. */\nsyscall:::entry\n{\n    @calls[execname] = count();\n}\n",
};

const state = {
  step: "write",
  language: "bpftrace",
  backends: [],
  editor: null,
  runId: null,
  runState: null,
  library: null,
};

const translation = new TranslationPane({
  editor: () => state.editor,
  language: () => state.language,
  changed: () => onEditorChange(),
  ways: () => state.languages?.d?.via || [],
});
const compiler = new Compiler({
  editor: () => state.editor,
  language: () => state.language,
  via: () => translation.request(),
  changed: () => refreshTabs(),
  compiled: (result) => translation.show(result),
});
const drafts = new Drafts(() => (state.editor ? { language: state.language, script: state.editor.getText() } : null));
const runForm = new RunForm();
const shownRun = new ShownRun($("run-script"), LANGUAGE_NAME, {
  getScript: () => state.editor.getText(),
  getLanguage: () => state.language,
  library: () => state.library,
  put(run) {
    setLanguage(run.language);
    state.editor.setText(run.script);
    onEditorChange();
  },
  setOptions: (o) => runForm.set(o),
});

function appBanner(message, fix, kind = "error") {
  $("app-banners").append(bannerNode(kind, message, fix));
}

// --- steps ---------------------------------------------------------------------------------

function stepAllowed(step) {
  if (step === "write" || step === "runs") return true;
  if (step === "run") return compiler.ok;
  return Boolean(state.runId);
}

function refreshTabs() {
  for (const step of PLACES) {
    const tab = $("tab-" + step);
    const selected = step === state.step;
    const allowed = stepAllowed(step);
    tab.setAttribute("aria-selected", String(selected));
    tab.setAttribute("aria-disabled", String(!allowed && !selected));
    tab.tabIndex = selected ? 0 : -1;
    tab.classList.toggle("done", STEPS.includes(step) && STEPS.indexOf(step) < STEPS.indexOf(state.step));
  }
  const live = state.runState === "running" || state.runState === "starting";
  $("tab-output").classList.toggle("live", live);
}

function showStep(step, { focus = false } = {}) {
  if (!stepAllowed(step)) return;
  state.step = step;
  for (const s of PLACES) $("step-" + s).hidden = s !== step;
  document.body.dataset.step = step;
  refreshTabs();
  if (focus) $("tab-" + step).focus();
  else if (step === "write") state.editor?.focus();
  else focusMainControl(step);
  if (step === "run") {
    fillPreview();
    if ($("draw-charts").checked) loadPlotly().catch(() => {});
  }
  if (step === "output") window.dispatchEvent(new Event("resize"));
}

/** After a step change, focus goes to the step's main control, not to the page body. */
function focusMainControl(step) {
  const first = { run: "start-run", runs: "runs-q" }[step];
  const control = first ? $(first) : [$("stop-run"), $("edit-script")].find((b) => b && !b.disabled);
  control?.focus({ preventScroll: true });
}

function bindTabs() {
  const tabs = PLACES.map((s) => $("tab-" + s));
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => showStep(PLACES[i]));
    tab.addEventListener("keydown", (ev) => {
      if (ev.key !== "ArrowRight" && ev.key !== "ArrowLeft" && ev.key !== "Home" && ev.key !== "End") return;
      ev.preventDefault();
      const order = ev.key === "ArrowLeft" || ev.key === "End" ? [...PLACES].reverse() : PLACES;
      const from = ev.key === "Home" || ev.key === "End" ? -1 : order.indexOf(PLACES[i]);
      const next = order.slice(from + 1).find(stepAllowed);
      if (next) showStep(next, { focus: true });
    });
  });
}

// --- editing -------------------------------------------------------------------------------

function onEditorChange() {
  drafts.saveSoon();
  compiler.edited();
}

/** A script kept across a language switch is checked as the new language: say so, with
 * the way back, so its errors are not a surprise. */
function showSwitchNote(from, to) {
  const old = $("language-switch-note");
  const written = from && (old ? old.dataset.from : from); // the language the text is in
  old?.remove();
  if (!written || written === to) return;
  from = written;
  const note = el("span", "language-note", `The editor still holds the ${LANGUAGE_NAME[from]} script; it is now checked as ${LANGUAGE_NAME[to]}. `);
  note.id = "language-switch-note";
  note.dataset.from = from;
  note.append(button(`Back to ${LANGUAGE_NAME[from]}`, "btn btn-small", () => setLanguage(from, { fromUser: true })));
  $("language-notes").append(note);
}

function setLanguage(language, { fromUser = false } = {}) {
  if (!LANGUAGE_NAME[language]) return;
  const previous = state.language;
  state.language = language;
  const radio = document.querySelector(`input[name="language"][value="${language}"]`);
  radio.checked = true;
  if (state.editor && state.editor.getLanguage() !== language) state.editor.setLanguage(language);
  runForm.filter(language);
  translation.showChooser();
  if (fromUser) {
    const text = state.editor.getText().trim();
    const isStarter = Object.values(STARTERS).some((s) => s.trim() === text);
    if (!text || isStarter) state.editor.setText(STARTERS[language]);
    showSwitchNote(!text || isStarter ? null : previous, language);
  }
  onEditorChange();
}

function bindLanguage() {
  for (const radio of document.querySelectorAll('input[name="language"]')) {
    radio.addEventListener("change", () => radio.checked && setLanguage(radio.value, { fromUser: true }));
  }
}

// --- run step ------------------------------------------------------------------------------

function fillPreview() {
  $("script-preview").textContent = state.editor.getText();
  $("preview-language").textContent = LANGUAGE_NAME[state.language];
  const box = $("preview-aggregations");
  box.replaceChildren();
  const aggs = compiler.compiled?.result?.aggregations || [];
  if (!aggs.length) {
    box.append(el("p", "muted", "No aggregations: the Output step shows what the script prints."));
    return;
  }
  box.append(el("span", "muted", "Charts: "));
  for (const a of aggs) box.append(el("span", "chip", `${a.name} · ${a.function}()`));
}

function bindRunForm() {
  $("back-run").addEventListener("click", () => showStep("write"));
  $("run-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    startRun();
  });
  $("next-write").addEventListener("click", () => showStep("run", { focus: false }));
}

// --- runs ----------------------------------------------------------------------------------

async function startRun() {
  const errorBox = $("run-error");
  errorBox.hidden = true;
  // The answer for this text when there is one: Start sends no second compile.
  const result = await compiler.now();
  if (!result?.ok) {
    showStep("write");
    return;
  }
  const o = runForm.get();
  const problem = runForm.problem(o);
  runForm.mark(problem);
  if (problem) {
    showStep("run");
    errorBox.textContent = problem.message;
    errorBox.hidden = false;
    runForm.mark(problem); // again: the step change moved focus
    return;
  }
  const button = $("start-run");
  button.disabled = true;
  if (o.draw_charts) loadPlotly().catch(() => {});
  try {
    const script = state.editor.getText();
    const run = await api("POST", "/api/runs", {
      language: state.language,
      script,
      ...runForm.request(o),
      via: translation.request(),
    });
    state.runId = run.id;
    drilldowns.started(run, script);
    rememberRun(run);
    shownRun.show(run, script);
    runView.start({ id: run.id, viewerUrl: run.viewer_url, drawCharts: o.draw_charts, duration: o.duration, hosts: run.hosts });
    showStep("output");
  } catch (err) {
    if (err.diagnostics && err.diagnostics.length) {
      compiler.failed(err.message, err.diagnostics);
      showStep("write");
    } else {
      showStep("run");
      errorBox.textContent = `The run could not start: ${err.message}`;
      errorBox.hidden = false;
    }
  } finally {
    button.disabled = false;
  }
}

/** Follow `run` in the Output step (a drilldown just started, or a crumb reopened). */
function followRun(run, script) {
  state.runId = run.id;
  state.runState = run.state;
  rememberRun(run);
  shownRun.show(run, script);
  runView.start({ id: run.id, viewerUrl: run.viewer_url, drawCharts: $("draw-charts").checked, duration: run.duration, hosts: run.hosts });
  showStep("output");
}

const drilldowns = mountDrilldowns($("run-crumbs"), { follow: followRun, banner: appBanner });

const runView = new RunView($("step-output"), {
  onState(msg) {
    state.runState = msg.state;
    refreshTabs();
  },
  drill: drilldowns.menu,
  crumbs: drilldowns.crumbs,
});

/** What reattaching a run after a reload needs of the page. */
const lastRunHost = {
  busy: () => Boolean(state.runId),
  attach(run, viewerUrl) {
    state.runId = run.id;
    state.runState = run.state;
    shownRun.show(run);
    runView.start({ id: run.id, viewerUrl, drawCharts: $("draw-charts").checked, duration: run.duration, hosts: run.hosts });
    refreshTabs();
  },
  openOutput: () => showStep("output"),
  current: () => ({ id: state.runId, state: state.runState }),
};

function bindOutput() {
  // Both act on the script the Output step shows, which may not be the editor's.
  $("edit-script").addEventListener("click", () => {
    shownRun.take(); // declined, the editor keeps its own script
    showStep("write");
  });
  $("run-again").addEventListener("click", () => shownRun.take() && startRun());
}

// --- start-up ------------------------------------------------------------------------------

async function mountLibrarySidebar() {
  const aside = $("library");
  let mod;
  try {
    mod = await import("./library.js");
  } catch {
    aside.hidden = true;
    document.body.classList.add("no-library");
    return;
  }
  try {
    state.library = await mod.mountLibrary(aside, {
      api,
      getScript: () => state.editor.getText(),
      setScript: (text) => {
        state.editor.setText(text);
        onEditorChange();
      },
      getLanguage: () => state.language,
      setLanguage: (lang) => setLanguage(lang),
      getRunOptions: () => runForm.get(),
      setRunOptions: (o) => runForm.set(o),
      runNow: () => startRun(),
    });
  } catch (err) {
    aside.replaceChildren(el("p", "muted", "The script library could not be loaded: " + err.message));
  }
}

function onSave() {
  if (state.library) state.library.save();
}

function bindSignOut() {
  $("sign-out")?.addEventListener("click", async () => {
    try {
      await api("POST", "/api/signout");
    } catch (err) {
      appBanner("Signing out failed: " + err.message, null);
      return;
    }
    location.assign("/");
  });
}

async function main() {
  bindSignOut();
  bindTabs();
  bindLanguage();
  bindRunForm();
  bindOutput();
  const [health, limits] = await Promise.all([
    api("GET", "/api/health").catch((err) => {
      appBanner("The server's status could not be read: " + err.message, null);
      return null;
    }),
    api("GET", "/api/limits").catch(() => null),
  ]);
  state.backends = health?.backends || [];
  state.languages = health?.languages || null;
  runForm.setLimits(limits);
  if (health) renderBackends(state, appBanner);
  runForm.render();

  const draft = drafts.load(LANGUAGE_NAME);
  const firstAvailable = state.backends.find((b) => b.available)?.language;
  const usable = (lang) => !health || state.backends.some((b) => b.language === lang && b.available);
  const language = draft && usable(draft.language) ? draft.language : firstAvailable || "bpftrace";
  state.language = language;
  document.querySelector(`input[name="language"][value="${language}"]`).checked = true;
  const doc = draft && draft.language === language && draft.script.trim() ? draft.script : STARTERS[language];

  // No `compile` for the editor: the page compiles and hands it the diagnostics.
  state.editor = await mountEditor($("editor"), {
    doc,
    language,
    vocabulary: VOCABULARY,
    probes: (prefix, lang) =>
      api("GET", `/api/probes?language=${encodeURIComponent(lang)}&prefix=${encodeURIComponent(prefix)}`),
    onChange: onEditorChange,
    onRun: () => startRun(),
    onSave,
  });
  if (state.editor.loadError) {
    document.body.classList.add("plain-editor-mode");
    appBanner(
      "The code editor could not be loaded: " + state.editor.loadError.message,
      "A plain text area stands in (no highlighting or completion). Reload to try again.",
      "warn",
    );
  }
  runForm.filter(state.language);
  translation.showChooser();
  runForm.refreshDuration();
  compiler.now();
  showStep("write");
  mountLibrarySidebar();
  mountRuns($("step-runs"), { ...lastRunHost, limits });
  reattachRun(lastRunHost);
}

main();
