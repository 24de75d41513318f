// The three-step wizard: Write (editor, language, compile status), Run (duration,
// interval, options), Output (the live run, see run-view.js).

import { api } from "./api.js";
import { mountEditor } from "./editor-host.js";
import { loadPlotly } from "./plotly-loader.js";
import { RunView } from "./run-view.js";
import { VOCABULARY } from "./vocabulary.js";

const STEPS = ["write", "run", "output"];
const LANGUAGE_NAME = { d: "D", bpftrace: "bpftrace" };
const DRAFT_KEY = "dtrace-ide.draft";
const STARTERS = {
  bpftrace: "// Count system calls by process name.\ntracepoint:raw_syscalls:sys_enter\n{\n    @calls[comm] = count();\n}\n",
  d: "/* Count system calls by process name. */\nsyscall:::entry\n{\n    @calls[execname] = count();\n}\n",
};

const $ = (id) => document.getElementById(id);
const el = (tag, className, text) => {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
};

const state = {
  step: "write",
  language: "bpftrace",
  backends: [],
  limits: null,
  editor: null,
  compiled: null, // {key, result} of the text now in the editor, once known
  compileCache: null, // {key, promise}
  compileTimer: null,
  runId: null,
  runState: null,
  library: null,
};

// --- helpers -------------------------------------------------------------------------------

function keyOf(language, text) {
  return language + "\u0000" + text;
}

function currentKey() {
  return state.editor ? keyOf(state.language, state.editor.getText()) : null;
}

function formatBytes(n) {
  if (n >= 1 << 30 && n % (1 << 30) === 0) return n / (1 << 30) + " GiB";
  if (n >= 1 << 20 && n % (1 << 20) === 0) return n / (1 << 20) + " MiB";
  if (n >= 1 << 10 && n % (1 << 10) === 0) return n / (1 << 10) + " KiB";
  return n.toLocaleString("en-US");
}

function formatSeconds(s) {
  if (s >= 3600 && s % 3600 === 0) return s / 3600 + " h";
  if (s >= 60 && s % 60 === 0) return s / 60 + " min";
  return s + " s";
}

function appBanner(message, fix, kind = "error") {
  const box = $("app-banners");
  const node = el("div", "banner banner-" + kind);
  node.setAttribute("role", "alert");
  const body = el("div", "banner-body");
  body.append(el("strong", "banner-message", message));
  if (fix) body.append(el("div", "banner-fix", fix));
  const close = el("button", "btn-close", "×");
  close.type = "button";
  close.setAttribute("aria-label", "Dismiss");
  close.addEventListener("click", () => node.remove());
  node.append(body, close);
  box.append(node);
}

// --- steps ---------------------------------------------------------------------------------

function stepAllowed(step) {
  if (step === "write") return true;
  if (step === "run") return Boolean(state.compiled?.result?.ok);
  return Boolean(state.runId);
}

function refreshTabs() {
  for (const step of STEPS) {
    const tab = $("tab-" + step);
    const selected = step === state.step;
    const allowed = stepAllowed(step);
    tab.setAttribute("aria-selected", String(selected));
    tab.setAttribute("aria-disabled", String(!allowed && !selected));
    tab.tabIndex = selected ? 0 : -1;
    tab.classList.toggle("done", STEPS.indexOf(step) < STEPS.indexOf(state.step));
  }
  const live = state.runState === "running" || state.runState === "starting";
  $("tab-output").classList.toggle("live", live);
}

function showStep(step, { focus = false } = {}) {
  if (!stepAllowed(step)) return;
  state.step = step;
  for (const s of STEPS) $("step-" + s).hidden = s !== step;
  document.body.dataset.step = step;
  refreshTabs();
  if (focus) $("tab-" + step).focus();
  else if (step === "write") state.editor?.focus();
  if (step === "run") {
    fillPreview();
    if ($("draw-charts").checked) loadPlotly().catch(() => {});
  }
  if (step === "output") window.dispatchEvent(new Event("resize"));
}

function bindTabs() {
  const tabs = STEPS.map((s) => $("tab-" + s));
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => showStep(STEPS[i]));
    tab.addEventListener("keydown", (ev) => {
      if (ev.key !== "ArrowRight" && ev.key !== "ArrowLeft" && ev.key !== "Home" && ev.key !== "End") return;
      ev.preventDefault();
      const order = ev.key === "ArrowLeft" || ev.key === "End" ? [...STEPS].reverse() : STEPS;
      const from = ev.key === "Home" || ev.key === "End" ? -1 : order.indexOf(STEPS[i]);
      const next = order.slice(from + 1).find(stepAllowed);
      if (next) showStep(next, { focus: true });
    });
  });
}

// --- backends and limits -------------------------------------------------------------------

function renderBackends() {
  const box = $("backend-status");
  box.replaceChildren();
  const notes = $("language-notes");
  notes.replaceChildren();
  for (const lang of ["d", "bpftrace"]) {
    const backend = state.backends.find((b) => b.language === lang);
    const available = Boolean(backend?.available);
    const reason = backend ? backend.reason || "" : "no backend for this language";
    const chip = el("span", "backend " + (available ? "ok" : "off"));
    chip.append(el("span", "dot"), el("span", "", backend ? `${backend.name}${backend.version ? " " + backend.version : ""}` : LANGUAGE_NAME[lang]));
    chip.title = available ? `${LANGUAGE_NAME[lang]} scripts run with ${backend.name}` : `${LANGUAGE_NAME[lang]} unavailable: ${reason}`;
    box.append(chip);
    const radio = document.querySelector(`input[name="language"][value="${lang}"]`);
    radio.disabled = !available;
    radio.parentElement.title = available ? "" : `Unavailable: ${reason}`;
    radio.parentElement.classList.toggle("disabled", !available);
    if (!available) notes.append(el("span", "language-note", `${LANGUAGE_NAME[lang]} is unavailable: ${reason}`));
  }
  if (!state.backends.some((b) => b.available)) {
    appBanner("No tracing backend is available on this server.", "Install bpftrace (Linux) or run on a system with DTrace, then restart dtrace-ide. You can still write scripts.");
  }
}

function optionLanguages(option) {
  if (Array.isArray(option.languages)) return option.languages;
  const d = option.description || "";
  if (/libdtrace/i.test(d)) return ["d"];
  if (/bpftrace/i.test(d)) return ["bpftrace"];
  return ["d", "bpftrace"];
}

function tracerOptions() {
  const l = state.limits || {};
  return l.tracer_options || l.options || [];
}

function renderLimits() {
  const l = state.limits || {};
  const box = $("tracer-options");
  box.replaceChildren();
  for (const option of tracerOptions()) {
    const row = el("div", "option-row");
    row.dataset.languages = optionLanguages(option).join(" ");
    const id = "opt-" + option.name;
    const label = el("label", "option-name", option.name);
    label.htmlFor = id;
    const input = el("input");
    input.type = "number";
    input.id = id;
    input.min = "0";
    input.max = String(option.maximum);
    input.step = "1";
    input.placeholder = String(option.default);
    input.dataset.option = option.name;
    const fmt = /bytes/i.test(option.description || "") ? formatBytes : (n) => n.toLocaleString("en-US");
    const cap = el("span", "option-cap", `default ${fmt(option.default)} · max ${fmt(option.maximum)}`);
    const desc = el("span", "option-desc", option.description || "");
    row.append(label, input, cap, desc);
    box.append(row);
  }
  if (!box.children.length) box.append(el("p", "muted", "This server lists no tunable tracer options."));
  const interval = $("interval");
  const minI = l.min_interval_s ?? 0.1;
  const maxI = l.max_interval_s ?? 3600;
  interval.min = String(minI);
  interval.max = String(maxI);
  $("interval-help").textContent = `How often the charts are refreshed (${minI} s to ${formatSeconds(maxI)}).`;
  if (l.max_duration_s) {
    $("custom-duration").max = String(l.max_duration_s);
    $("duration-help").textContent = `Continuous runs go on until you press Stop (at most ${formatSeconds(l.max_duration_s)}).`;
  }
  if (l.max_unwatched_s) {
    $("keep-running-help").textContent = `Otherwise the tracer stops as soon as nobody is watching. A kept run with no viewer ends after ${formatSeconds(l.max_unwatched_s)}.`;
  }
  filterOptions();
}

function filterOptions() {
  for (const row of document.querySelectorAll(".option-row")) {
    row.hidden = !row.dataset.languages.split(" ").includes(state.language);
  }
}

// --- compiling -----------------------------------------------------------------------------

function compile(text, language) {
  const key = keyOf(language, text);
  if (state.compileCache?.key === key) return state.compileCache.promise;
  const promise = api("POST", "/api/compile", { language, script: text }).catch((err) => ({
    ok: false,
    diagnostics: err.diagnostics || [],
    aggregations: [],
    error: err.message,
    code: err.code,
  }));
  state.compileCache = { key, promise };
  if (key === currentKey()) setCompileStatus("pending", "Checking…");
  promise.then((result) => {
    if (key !== currentKey()) return;
    state.compiled = { key, result };
    showCompileResult(result);
  });
  return promise;
}

function compileNow() {
  clearTimeout(state.compileTimer);
  if (!state.editor) return Promise.resolve(null);
  return compile(state.editor.getText(), state.language);
}

function compileSoon() {
  clearTimeout(state.compileTimer);
  state.compileTimer = setTimeout(compileNow, 700);
}

function setCompileStatus(kind, text) {
  const box = $("compile-status");
  box.className = "compile-status " + kind;
  box.querySelector(".text").textContent = text;
}

function showCompileResult(result) {
  const diags = result.diagnostics || [];
  const errors = diags.filter((d) => d.severity !== "warning").length;
  const warnings = diags.length - errors;
  if (result.ok) {
    const aggs = result.aggregations || [];
    const what = aggs.length ? `${aggs.length} aggregation${aggs.length === 1 ? "" : "s"}` : "no aggregations";
    setCompileStatus("ok", `Compiles · ${what}${warnings ? ` · ${warnings} warning${warnings === 1 ? "" : "s"}` : ""}`);
  } else if (errors || diags.length) {
    setCompileStatus("error", `${errors} error${errors === 1 ? "" : "s"}${warnings ? `, ${warnings} warning${warnings === 1 ? "" : "s"}` : ""}`);
  } else {
    setCompileStatus("error", result.error ? `Cannot compile: ${result.error}` : "Does not compile");
  }
  state.editor?.setDiagnostics?.(diags);
  renderDiagnostics(diags, result);
  $("next-write").disabled = !result.ok;
  refreshTabs();
}

function renderDiagnostics(diags, result) {
  const list = $("diagnostics");
  list.replaceChildren();
  $("diagnostics-count").textContent = diags.length ? String(diags.length) : "";
  if (!diags.length) {
    const text = result && !result.ok && result.error ? result.error : "No problems found.";
    list.append(el("li", "empty-line", text));
    return;
  }
  for (const d of diags) {
    const li = el("li");
    const b = el("button", "diag " + (d.severity === "warning" ? "warning" : "error"));
    b.type = "button";
    b.append(
      el("span", "diag-sev", d.severity === "warning" ? "warning" : "error"),
      el("span", "diag-pos", `${d.line}:${d.column}`),
      el("span", "diag-msg", d.message),
    );
    b.title = `Go to line ${d.line}, column ${d.column}`;
    b.addEventListener("click", () => state.editor.revealLine(d.line, d.column));
    li.append(b);
    list.append(li);
  }
}

function onEditorChange() {
  saveDraft();
  const key = currentKey();
  if (state.compiled?.key !== key) {
    $("next-write").disabled = true;
    setCompileStatus("pending", "Edited · checking…");
    refreshTabs();
  }
  compileSoon();
}

// --- language ------------------------------------------------------------------------------

function setLanguage(language, { fromUser = false } = {}) {
  if (!LANGUAGE_NAME[language]) return;
  state.language = language;
  const radio = document.querySelector(`input[name="language"][value="${language}"]`);
  radio.checked = true;
  if (state.editor && state.editor.getLanguage() !== language) state.editor.setLanguage(language);
  filterOptions();
  if (fromUser) {
    const text = state.editor.getText().trim();
    const isStarter = Object.values(STARTERS).some((s) => s.trim() === text);
    if (!text || isStarter) state.editor.setText(STARTERS[language]);
  }
  saveDraft();
  onEditorChange();
}

function bindLanguage() {
  for (const radio of document.querySelectorAll('input[name="language"]')) {
    radio.addEventListener("change", () => radio.checked && setLanguage(radio.value, { fromUser: true }));
  }
}

// --- drafts --------------------------------------------------------------------------------

let draftTimer = null;

/** Keep the editor's text across reloads (written a moment after typing stops). */
function saveDraft() {
  clearTimeout(draftTimer);
  draftTimer = setTimeout(writeDraft, 300);
}

// A reload or a closed tab right after typing must not lose the last keystrokes.
window.addEventListener("pagehide", () => {
  if (draftTimer !== null) writeDraft();
});

function writeDraft() {
  clearTimeout(draftTimer);
  draftTimer = null;
  if (!state.editor) return;
  try {
    localStorage.setItem(DRAFT_KEY, JSON.stringify({ language: state.language, script: state.editor.getText() }));
  } catch {
    /* private mode or full storage: drafts are a convenience */
  }
}

function loadDraft() {
  try {
    const d = JSON.parse(localStorage.getItem(DRAFT_KEY) || "null");
    if (d && typeof d.script === "string" && LANGUAGE_NAME[d.language]) return d;
  } catch {
    /* ignore a damaged draft */
  }
  return null;
}

// --- run options ---------------------------------------------------------------------------

function getRunOptions() {
  const checked = document.querySelector('input[name="duration"]:checked').value;
  const duration = checked === "custom" ? Number($("custom-duration").value) : Number(checked);
  const options = {};
  for (const input of document.querySelectorAll("#tracer-options input[data-option]")) {
    if (input.value.trim() !== "" && !input.closest(".option-row").hidden) options[input.dataset.option] = Number(input.value);
  }
  return {
    duration,
    interval: Number($("interval").value),
    options,
    keep_running: $("keep-running").checked,
    draw_charts: $("draw-charts").checked,
  };
}

function setRunOptions(o) {
  if (!o) return;
  if (typeof o.duration === "number") {
    const preset = document.querySelector(`input[name="duration"][value="${o.duration}"]`);
    if (preset) preset.checked = true;
    else {
      document.querySelector('input[name="duration"][value="custom"]').checked = true;
      $("custom-duration").value = String(o.duration);
    }
  }
  if (typeof o.interval === "number") $("interval").value = String(o.interval);
  if (typeof o.keep_running === "boolean") $("keep-running").checked = o.keep_running;
  if (typeof o.draw_charts === "boolean") $("draw-charts").checked = o.draw_charts;
  if (o.options) {
    for (const input of document.querySelectorAll("#tracer-options input[data-option]")) {
      const v = o.options[input.dataset.option];
      input.value = v === undefined || v === null ? "" : String(v);
    }
  }
  refreshDurationUi();
}

function refreshDurationUi() {
  const custom = document.querySelector('input[name="duration"][value="custom"]').checked;
  $("custom-duration-row").hidden = !custom;
}

function validateRunOptions(o) {
  const l = state.limits || {};
  if (!Number.isFinite(o.duration) || o.duration < 0) return "The duration must be 0 (continuous) or a positive number of seconds.";
  if (l.max_duration_s && o.duration > l.max_duration_s) return `The duration can be at most ${formatSeconds(l.max_duration_s)}.`;
  const minI = l.min_interval_s ?? 0.1;
  const maxI = l.max_interval_s ?? 3600;
  if (!Number.isFinite(o.interval) || o.interval < minI || o.interval > maxI) return `The snapshot interval must be between ${minI} s and ${formatSeconds(maxI)}.`;
  for (const option of tracerOptions()) {
    const v = o.options[option.name];
    if (v === undefined) continue;
    if (!Number.isInteger(v) || v < 0) return `${option.name} must be a whole number.`;
    if (v > option.maximum) return `${option.name} can be at most ${option.maximum.toLocaleString("en-US")} on this server.`;
  }
  return null;
}

function fillPreview() {
  $("script-preview").textContent = state.editor.getText();
  $("preview-language").textContent = LANGUAGE_NAME[state.language];
  const box = $("preview-aggregations");
  box.replaceChildren();
  const aggs = state.compiled?.result?.aggregations || [];
  if (!aggs.length) {
    box.append(el("p", "muted", "No aggregations: the Output step shows what the script prints."));
    return;
  }
  box.append(el("span", "muted", "Charts: "));
  for (const a of aggs) box.append(el("span", "chip", `${a.name} · ${a.function}()`));
}

function bindRunForm() {
  for (const radio of document.querySelectorAll('input[name="duration"]')) {
    radio.addEventListener("change", refreshDurationUi);
  }
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
  const result = await compileNow();
  if (!result?.ok) {
    showStep("write");
    return;
  }
  const o = getRunOptions();
  const problem = validateRunOptions(o);
  if (problem) {
    showStep("run");
    errorBox.textContent = problem;
    errorBox.hidden = false;
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
      duration: o.duration,
      interval: o.interval,
      options: o.options,
      keep_running: o.keep_running,
    });
    state.runId = run.id;
    showRunScript(state.language, script);
    runView.start({ id: run.id, viewerUrl: run.viewer_url, streamUrl: run.stream_url || null, drawCharts: o.draw_charts, duration: o.duration });
    showStep("output");
  } catch (err) {
    if (err.diagnostics && err.diagnostics.length) {
      const failed = { ok: false, diagnostics: err.diagnostics, aggregations: [], error: err.message };
      state.compiled = { key: currentKey(), result: failed };
      showCompileResult(failed);
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

/** What the Output step is showing: the run's language and its first line of code. */
function showRunScript(language, script) {
  const line = script.split("\n").map((l) => l.trim()).find((l) => l && !/^(\/\/|\/\*|\*|#)/.test(l)) || "";
  const box = $("run-script");
  box.textContent = `${LANGUAGE_NAME[language]} · ${line.length > 80 ? line.slice(0, 79) + "…" : line}`;
  box.title = script;
  box.hidden = false;
}

const runView = new RunView($("step-output"), {
  onState(msg) {
    state.runState = msg.state;
    refreshTabs();
  },
});

function bindOutput() {
  $("edit-script").addEventListener("click", () => showStep("write"));
  $("run-again").addEventListener("click", () => startRun());
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
  if (typeof mod.mountLibrary !== "function") {
    aside.hidden = true;
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
      getRunOptions,
      setRunOptions,
      runNow: () => startRun(),
    });
  } catch (err) {
    aside.replaceChildren(el("p", "muted", "The script library could not be loaded: " + err.message));
  }
}

function onSave() {
  if (state.library && typeof state.library.save === "function") state.library.save();
  else document.dispatchEvent(new CustomEvent("dtrace-ide:save"));
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
  state.limits = limits;
  if (health) renderBackends();
  renderLimits();

  const draft = loadDraft();
  const firstAvailable = state.backends.find((b) => b.available)?.language;
  const usable = (lang) => !health || state.backends.some((b) => b.language === lang && b.available);
  const language = draft && usable(draft.language) ? draft.language : firstAvailable || "bpftrace";
  state.language = language;
  document.querySelector(`input[name="language"][value="${language}"]`).checked = true;
  const doc = draft && draft.language === language && draft.script.trim() ? draft.script : STARTERS[language];

  state.editor = await mountEditor($("editor"), {
    doc,
    language,
    vocabulary: VOCABULARY,
    compile: (text, lang) => compile(text, lang),
    probes: (prefix, lang) =>
      api("GET", `/api/probes?language=${encodeURIComponent(lang)}&prefix=${encodeURIComponent(prefix)}`),
    onChange: onEditorChange,
    onDiagnostics: () => {},
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
  filterOptions();
  refreshDurationUi();
  compileNow();
  showStep("write");
  mountLibrarySidebar();
}

main();
