// The dtrace-ide script editor: CodeMirror 6 with D and bpftrace highlighting, completion,
// hover help and inline diagnostics.  Built into static/vendor/editor.js by
// `cd editor && npm ci && npm run build`.

import { Compartment, EditorState, Prec, StateEffect } from "@codemirror/state";
import {
  EditorView,
  crosshairCursor,
  drawSelection,
  dropCursor,
  highlightActiveLine,
  highlightActiveLineGutter,
  highlightSpecialChars,
  hoverTooltip,
  keymap,
  lineNumbers,
  rectangularSelection,
} from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import {
  bracketMatching,
  forceParsing,
  indentOnInput,
  indentUnit,
  syntaxTree,
} from "@codemirror/language";
import { highlightSelectionMatches, searchKeymap } from "@codemirror/search";
import {
  autocompletion,
  closeBrackets,
  closeBracketsKeymap,
} from "@codemirror/autocomplete";
import { forceLinting, linter, lintKeymap, setDiagnostics } from "@codemirror/lint";
import { ContextTracker, TOKEN, languageWords, tracingLanguage } from "./language.js";
import { highlighting, theme } from "./theme.js";

export const LANGUAGES = Object.freeze(["d", "bpftrace"]);
export const COMPILE_DELAY_MS = 400;

function normaliseLanguage(language) {
  if (language === "dtrace" || language === "D") return "d";
  if (!LANGUAGES.includes(language)) throw new Error(`unknown language: ${language}`);
  return language;
}

const SEVERITIES = { error: "error", fatal: "error", warning: "warning", info: "info", note: "info", hint: "hint" };

/**
 * Diagnostics with 1-based line/column (end_column one past the last character) as
 * CodeMirror ranges.  Positions outside the text are clamped to it; an empty range covers
 * one character, or stays a point at the end of a line.
 */
export function toEditorDiagnostics(doc, list) {
  const out = [];
  for (const d of list || []) {
    const lineNo = Math.min(Math.max(1, Number(d.line) || 1), doc.lines);
    const line = doc.line(lineNo);
    const col = Math.max(1, Number(d.column) || 1);
    const from = Math.min(line.from + col - 1, line.to);
    let to = from;
    if (d.end_line != null || d.end_column != null) {
      const endNo = Math.min(Math.max(lineNo, Number(d.end_line) || lineNo), doc.lines);
      const endLine = doc.line(endNo);
      const endCol = Math.max(1, Number(d.end_column) || 1);
      to = Math.max(from, Math.min(endLine.from + endCol - 1, endLine.to));
    }
    if (to === from && from < line.to) to = from + 1;
    out.push({
      from,
      to,
      severity: SEVERITIES[d.severity] || "error",
      message: String(d.message ?? ""),
      source: d.source ? String(d.source) : undefined,
    });
  }
  return out;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}

// Hover help: what a built-in variable, function or aggregating function is.
function helpFor(words, name, style) {
  // A syntax node's name joins the token's names with "_" (predicate_builtinVariable).
  const kinds = style.split(/[ _]/);
  const builtin = words.builtins.get(name);
  const fn = words.functions.get(name);
  const agg = words.aggregations.get(name);
  if (kinds.includes(TOKEN.aggregating) && agg) return { signature: agg.signature, doc: agg.doc, kind: "aggregating function" };
  if (kinds.includes(TOKEN.action) && fn) return { signature: fn.signature, doc: fn.doc, kind: "function" };
  if (kinds.includes(TOKEN.builtin) && builtin != null) return { signature: name, doc: builtin, kind: "built-in variable" };
  if (kinds.includes(TOKEN.option) && words.options.has(name)) {
    return { signature: `#pragma D option ${name}`, doc: words.options.get(name), kind: "option" };
  }
  if (kinds.includes(TOKEN.provider) && words.providerDocs.has(name)) {
    return { signature: name, doc: words.providerDocs.get(name), kind: "provider" };
  }
  return null;
}

function hoverHelp(current) {
  return hoverTooltip((view, pos, side) => {
    const tree = syntaxTree(view.state);
    const node = tree.resolveInner(pos, side);
    if (!node || node.from === node.to) return null;
    const text = view.state.doc.sliceString(node.from, node.to);
    const help = helpFor(current().words, text, node.name);
    if (!help) return null;
    return {
      pos: node.from,
      end: node.to,
      above: true,
      create() {
        const dom = el("div", "dt-hover");
        const head = el("div");
        head.append(el("code", "dt-hover-signature", help.signature));
        dom.append(head);
        const doc = el("div", "dt-hover-doc", help.doc);
        doc.append(el("span", "dt-hover-kind", help.kind));
        dom.append(doc);
        return { dom };
      },
    };
  });
}

// Completion options of a language's words, built once per language.
function wordOptions(words) {
  const options = [];
  for (const [name, doc] of words.builtins) {
    options.push({ label: name, type: "variable", detail: "built-in", info: doc, boost: 2 });
  }
  for (const [name, f] of words.aggregations) {
    options.push({ label: name, type: "function", detail: f.signature, info: f.doc, boost: 3 });
  }
  for (const [name, f] of words.functions) {
    if (words.aggregations.has(name)) continue;
    options.push({ label: name, type: "function", detail: f.signature, info: f.doc, boost: 1 });
  }
  for (const name of words.keywords) options.push({ label: name, type: "keyword" });
  for (const name of words.types) options.push({ label: name, type: "type" });
  return options;
}

function providerOptions(words) {
  return [...words.providerDocs].map(([name, doc]) => ({
    label: name,
    type: "namespace",
    detail: "provider",
    info: doc,
    boost: 1,
  }));
}

const PROBE_CACHE_ENTRIES = 256;

function probeCompletionSource(current, options) {
  const cache = new Map(); // "language\0prefix" -> {list, complete} or its pending promise
  const remember = (key, value) => {
    cache.delete(key);
    cache.set(key, value);
    if (cache.size > PROBE_CACHE_ENTRIES) cache.delete(cache.keys().next().value);
  };
  async function probesFor(prefix, language) {
    const key = `${language}\u0000${prefix}`;
    if (cache.has(key)) return cache.get(key);
    // A complete (untruncated) answer for a shorter prefix already holds every match, unless
    // the prefix has since left the module out (`proc::`): D then lists names without it.
    const moduleLeftOut = prefix.indexOf("::");
    for (let i = prefix.length - 1; i >= 0; i -= 1) {
      if (moduleLeftOut >= 0 && i < moduleLeftOut + 2) break;
      const shorter = cache.get(`${language}\u0000${prefix.slice(0, i)}`);
      if (shorter && shorter.complete) {
        const narrowed = { list: shorter.list.filter((p) => p.startsWith(prefix)), complete: true };
        remember(key, narrowed);
        return narrowed;
      }
    }
    if (!options.probes) return { list: [], complete: true };
    const pending = Promise.resolve(options.probes(prefix, language)).then(
      (answer) => {
        const list = Array.isArray(answer) ? answer : (answer && answer.probes) || [];
        const complete = !Array.isArray(answer) && answer != null && answer.truncated === false;
        const entry = { list: list.map(String), complete };
        remember(key, entry);
        return entry;
      },
      () => {
        cache.delete(key);
        return { list: [], complete: false };
      },
    );
    remember(key, pending);
    return pending;
  }

  return async (context) => {
    const { words, language, tracker } = current();
    const line = context.state.doc.lineAt(context.pos);
    const pragma = /^\s*#\s*pragma\s+D\s+option\s+([A-Za-z_][\w-]*)?$/.exec(
      line.text.slice(0, context.pos - line.from),
    );
    if (pragma) {
      return {
        from: context.pos - (pragma[1] || "").length,
        options: [...words.options].map(([name, doc]) => ({ label: name, type: "property", info: doc })),
        validFor: /^[\w-]*$/,
      };
    }
    const ctx = tracker.at(context.state.doc.toString(), context.pos);
    const styles = ctx.style.split(" ");
    const atTop = ctx.depth === 0 && (ctx.phase === "top" || ctx.phase === "probes");
    const inProbe = styles.includes(TOKEN.probe) || styles.includes(TOKEN.provider);
    if (styles.includes("comment") || styles.includes("string") || styles.includes("escape")) return null;

    if (inProbe || (atTop && ctx.style === "")) {
      // A probe description: it may span a provider token and its tail, so take the whole
      // run of probe characters before the cursor.
      const before = context.matchBefore(/[A-Za-z0-9_\-.*?$\[\]!:+\/]*$/);
      const from = before ? before.from : context.pos;
      const prefix = before ? before.text : "";
      if (!prefix && !context.explicit) return null;
      // bpftrace's short provider names (t:, k:, ...) are asked for by their full names
      // and offered back in the short form the script uses.
      const short = /^([A-Za-z]+)(:.*)$/.exec(prefix);
      const full = short ? words.providerAliases.get(short[1]) : undefined;
      const found = await probesFor(full ? full + short[2] : prefix, language);
      if (context.aborted) return null;
      const shown = (probe) => (full && probe.startsWith(full) ? short[1] + probe.slice(full.length) : probe);
      const seen = new Set();
      const result = [];
      for (const o of providerOptions(words)) {
        if (o.label.startsWith(prefix) && !prefix.includes(":")) {
          seen.add(o.label);
          result.push(o);
        }
      }
      for (const probe of found.list.map(shown)) {
        if (seen.has(probe)) continue;
        seen.add(probe);
        result.push({ label: probe, type: "probe", detail: "probe" });
      }
      return { from, options: result, filter: false };
    }

    const word = context.matchBefore(/[A-Za-z_][A-Za-z0-9_]*$/);
    if (!word && !context.explicit) return null;
    const from = word ? word.from : context.pos;
    const charBefore = context.state.doc.sliceString(Math.max(0, from - 2), from);
    if (/(?:->|[@$.])$/.test(charBefore)) return null;
    return { from, options: current().options, validFor: /^[A-Za-z_][A-Za-z0-9_]*$/ };
  };
}

/**
 * Creates the editor inside `parent`.  editor/README.md describes every option and method.
 *
 * compile(text, language) -> Promise<{ok, diagnostics}> runs after a pause in typing;
 * diagnostics are [{line, column, end_line, end_column, severity, message}], 1-based.
 * probes(prefix, language) -> Promise<string[] | {probes, truncated}> lists probe names.
 */
export function createEditor(parent, options = {}) {
  const {
    doc = "",
    language = "bpftrace",
    vocabulary = {},
    compile = null,
    probes = null,
    onChange = null,
    onDiagnostics = null,
    onRun = null,
    onSave = null,
    compileDelay = COMPILE_DELAY_MS,
  } = options;

  const perLanguage = new Map();
  function support(lang) {
    if (!perLanguage.has(lang)) {
      const words = languageWords(vocabulary, lang);
      perLanguage.set(lang, {
        language: lang,
        words,
        options: wordOptions(words),
        tracker: new ContextTracker(words),
        extension: tracingLanguage(lang, vocabulary),
      });
    }
    return perLanguage.get(lang);
  }

  let active = support(normaliseLanguage(language));
  const current = () => active;
  const languageSlot = new Compartment();
  const languageSwitched = StateEffect.define();
  let compileSeq = 0;

  const compileSource = async (view) => {
    const seq = ++compileSeq;
    const state = view.state;
    const text = state.doc.toString();
    const lang = active.language;
    if (!text.trim()) {
      if (onDiagnostics) onDiagnostics({ ok: null, diagnostics: [] });
      return [];
    }
    let result;
    try {
      result = await compile(text, lang);
    } catch (err) {
      if (seq === compileSeq && onDiagnostics) {
        onDiagnostics({ ok: false, diagnostics: [], error: String((err && err.message) || err) });
      }
      return [];
    }
    const stale = seq !== compileSeq || view.state.doc !== state.doc || active.language !== lang;
    if (stale) return [];
    const list = (result && result.diagnostics) || [];
    if (onDiagnostics) onDiagnostics({ ...(result || {}), ok: Boolean(result && result.ok), diagnostics: list });
    return toEditorDiagnostics(state.doc, list);
  };

  const runKeys = Prec.highest(
    keymap.of([
      {
        key: "Mod-Enter",
        preventDefault: true,
        run: (view) => {
          if (onRun) onRun(view.state.doc.toString());
          return true;
        },
      },
      {
        key: "Mod-s",
        preventDefault: true,
        run: (view) => {
          if (onSave) onSave(view.state.doc.toString());
          return true;
        },
      },
    ]),
  );

  const extensions = [
    runKeys,
    lineNumbers(),
    highlightActiveLineGutter(),
    highlightSpecialChars(),
    history(),
    drawSelection(),
    dropCursor(),
    EditorState.allowMultipleSelections.of(true),
    indentOnInput(),
    indentUnit.of("    "),
    EditorState.tabSize.of(8),
    highlighting,
    bracketMatching(),
    closeBrackets(),
    autocompletion({ override: [probeCompletionSource(current, { probes })], icons: false }),
    rectangularSelection(),
    crosshairCursor(),
    highlightActiveLine(),
    highlightSelectionMatches(),
    keymap.of([
      ...closeBracketsKeymap,
      ...defaultKeymap,
      ...searchKeymap,
      ...historyKeymap,
      ...lintKeymap,
      indentWithTab,
    ]),
    languageSlot.of(active.extension),
    hoverHelp(current),
    // Without a compile callback, diagnostics come only from setDiagnostics and stay put.
    compile
      ? linter(compileSource, {
          delay: compileDelay,
          needsRefresh: (update) =>
            update.transactions.some((tr) => tr.effects.some((e) => e.is(languageSwitched))),
        })
      : [],
    EditorView.updateListener.of((update) => {
      if (update.docChanged && onChange) onChange(update.state.doc.toString());
    }),
    theme,
    EditorView.contentAttributes.of({ "aria-label": "Script editor", spellcheck: "false" }),
  ];

  const view = new EditorView({
    parent,
    state: EditorState.create({ doc, extensions }),
  });

  return {
    view,
    getText: () => view.state.doc.toString(),
    setText(text) {
      view.dispatch({
        changes: { from: 0, to: view.state.doc.length, insert: String(text ?? "") },
        selection: { anchor: 0 },
      });
    },
    getLanguage: () => active.language,
    setLanguage(lang) {
      const next = support(normaliseLanguage(lang));
      if (next === active) return;
      active = next;
      view.dispatch({
        effects: [languageSlot.reconfigure(next.extension), languageSwitched.of(next.language)],
      });
      forceLinting(view);
    },
    setDiagnostics(list) {
      view.dispatch(setDiagnostics(view.state, toEditorDiagnostics(view.state.doc, list)));
    },
    focus: () => view.focus(),
    revealLine(n, column = 1) {
      const line = view.state.doc.line(Math.min(Math.max(1, Number(n) || 1), view.state.doc.lines));
      const at = Math.min(line.from + Math.max(1, Number(column) || 1) - 1, line.to);
      view.dispatch({
        selection: { anchor: at },
        effects: EditorView.scrollIntoView(at, { y: "center" }),
      });
      view.focus();
    },
    /** Highlights the whole text now (normally done while idle); true when it finished. */
    ensureHighlighted: (timeoutMs = 500) => forceParsing(view, view.state.doc.length, timeoutMs),
    destroy: () => view.destroy(),
  };
}
