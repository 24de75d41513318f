// The one owner of compile diagnostics.  The page compiles the editor's text once, a moment
// after the last edit, and hands the answer to the editor (underlines), the problems list
// and the Next button; Start reuses it while the text is unchanged.  The server compiles
// again at POST /api/runs: that is the gate, this is for showing problems early.

import { api } from "../api.js";
import { byId as $, el } from "../dom.js";

export const COMPILE_DELAY_MS = 700;

function keyOf(language, text, via = "auto") {
  return language + "\u0000" + via + "\u0000" + text;
}

export class Compiler {
  /**
   * @param host.editor() the editor, once mounted
   * @param host.language() the language now chosen
   * @param host.changed() the Next button or the tabs may have to change
   */
  constructor(host) {
    this.host = host;
    this.compiled = null; // {key, result} of the text now in the editor, once known
    this.pending = null; // {key, promise} of the last compile sent
    this.timer = null;
  }

  currentKey() {
    const editor = this.host.editor();
    return editor ? keyOf(this.host.language(), editor.getText(), this.via()) : null;
  }

  get ok() {
    return Boolean(this.compiled?.result?.ok);
  }

  /** How a D script is to run ("auto", "bpftrace"): part of what is compiled. */
  via() {
    return this.host.via ? this.host.via() : "auto";
  }

  compile(text, language) {
    const via = this.via();
    const key = keyOf(language, text, via);
    if (this.pending?.key === key) return this.pending.promise;
    // Nothing to compile yet is no error (the server would say "the script is empty").
    const promise = !text.trim() ? Promise.resolve({ ok: false, empty: true, diagnostics: [], aggregations: [] }) : api("POST", "/api/compile", { language, script: text, via }).catch((err) => ({
      ok: false,
      diagnostics: err.diagnostics || [],
      aggregations: [],
      error: err.message,
      code: err.code,
    }));
    this.pending = { key, promise };
    if (key === this.currentKey()) this.setStatus("pending", "Checking…");
    promise.then((result) => {
      if (key !== this.currentKey()) return;
      this.compiled = { key, result };
      this.show(result);
    });
    return promise;
  }

  /** Compile the editor's text now (or reuse the answer for it); resolves to the answer. */
  now() {
    clearTimeout(this.timer);
    const editor = this.host.editor();
    if (!editor) return Promise.resolve(null);
    return this.compile(editor.getText(), this.host.language());
  }

  /** The text changed: compile it once typing has paused. */
  edited() {
    clearTimeout(this.timer);
    if (this.compiled?.key === this.currentKey()) {
      // Back to text already checked (an undo, a language switched back): its answer stands.
      this.show(this.compiled.result);
      return;
    }
    $("next-write").disabled = true;
    this.setStatus("pending", "Edited · checking…");
    this.host.changed();
    this.timer = setTimeout(() => this.now(), COMPILE_DELAY_MS);
  }

  /** The server found problems the page had not been told of (POST /api/runs). */
  failed(message, diagnostics) {
    const result = { ok: false, diagnostics, aggregations: [], error: message };
    this.compiled = { key: this.currentKey(), result };
    this.show(result);
  }

  setStatus(kind, text) {
    const box = $("compile-status");
    box.className = "compile-status " + kind;
    box.querySelector(".text").textContent = text;
  }

  show(result) {
    const diags = result.diagnostics;
    const errors = diags.filter((d) => d.severity !== "warning").length;
    const warnings = diags.length - errors;
    if (result.empty) {
      this.setStatus("idle", "Empty · write a probe, or open an example from the library");
    } else if (result.ok) {
      const aggs = result.aggregations;
      const what = aggs.length ? `${aggs.length} aggregation${aggs.length === 1 ? "" : "s"}` : "no aggregations";
      this.setStatus("ok", `Compiles · ${what}${warnings ? ` · ${warnings} warning${warnings === 1 ? "" : "s"}` : ""}`);
    } else if (diags.length) {
      this.setStatus("error", `${errors} error${errors === 1 ? "" : "s"}${warnings ? `, ${warnings} warning${warnings === 1 ? "" : "s"}` : ""}`);
    } else {
      this.setStatus("error", result.error ? `Cannot compile: ${result.error}` : "Does not compile");
    }
    this.host.editor()?.setDiagnostics(diags);
    this.host.compiled?.(result);
    this.renderDiagnostics(diags, result);
    $("next-write").disabled = !result.ok;
    this.host.changed();
  }

  renderDiagnostics(diags, result) {
    const list = $("diagnostics");
    list.replaceChildren();
    $("diagnostics-count").textContent = diags.length ? String(diags.length) : "";
    if (!diags.length) {
      const none = result.empty ? "Nothing to check yet." : "No problems found.";
      list.append(el("li", "empty-line", !result.ok && result.error ? result.error : none));
      return;
    }
    for (const d of diags) {
      const li = el("li");
      const severity = d.severity === "warning" ? "warning" : "error";
      const b = el("button", "diag " + severity);
      b.type = "button";
      b.append(el("span", "diag-sev", severity), el("span", "diag-pos", `${d.line}:${d.column}`), el("span", "diag-msg", d.message));
      b.title = `Go to line ${d.line}, column ${d.column}`;
      b.addEventListener("click", () => this.host.editor().revealLine(d.line, d.column));
      li.append(b);
      list.append(li);
    }
  }
}
