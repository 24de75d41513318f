// A light theme for a developer-tool page.  Every highlight class is a plain class name
// (dt-<name>) whose colour comes from a CSS variable, so the page can restyle the editor
// from its own stylesheet without touching the bundle.

import { EditorView } from "@codemirror/view";
import { syntaxHighlighting } from "@codemirror/language";
import { tagHighlighter, tags } from "@lezer/highlight";
import { dtTags } from "./language.js";

const classes = [
  { tag: tags.comment, class: "dt-comment" },
  { tag: tags.string, class: "dt-string" },
  { tag: tags.escape, class: "dt-escape" },
  { tag: tags.number, class: "dt-number" },
  { tag: tags.keyword, class: "dt-keyword" },
  { tag: tags.typeName, class: "dt-type" },
  { tag: tags.operator, class: "dt-operator" },
  { tag: tags.meta, class: "dt-meta" },
  { tag: tags.propertyName, class: "dt-member" },
  { tag: dtTags.probe, class: "dt-probe" },
  { tag: dtTags.provider, class: "dt-provider" },
  { tag: dtTags.predicate, class: "dt-predicate" },
  { tag: dtTags.builtin, class: "dt-builtin" },
  { tag: dtTags.aggregating, class: "dt-aggregating" },
  { tag: dtTags.action, class: "dt-function" },
  { tag: dtTags.aggregation, class: "dt-aggregation" },
  { tag: dtTags.threadLocal, class: "dt-self" },
  { tag: dtTags.clauseLocal, class: "dt-this" },
  { tag: dtTags.scratch, class: "dt-scratch" },
  { tag: dtTags.macroArg, class: "dt-macro" },
  { tag: dtTags.pragma, class: "dt-pragma" },
  { tag: dtTags.option, class: "dt-option" },
];

export const highlighting = syntaxHighlighting(tagHighlighter(classes));

const colour = (name, fallback) => `var(--dt-${name}, ${fallback})`;

export const theme = EditorView.theme(
  {
    "&": {
      color: colour("fg", "#1f2328"),
      backgroundColor: colour("bg", "#ffffff"),
      fontSize: colour("font-size", "13.5px"),
      border: `1px solid ${colour("border", "#d0d7de")}`,
      borderRadius: "6px",
      height: "100%",
    },
    "&.cm-focused": {
      outline: `2px solid ${colour("focus", "#0969da55")}`,
      outlineOffset: "-1px",
    },
    ".cm-scroller": {
      fontFamily: colour(
        "mono",
        'ui-monospace, SFMono-Regular, "DejaVu Sans Mono", Menlo, Consolas, monospace',
      ),
      lineHeight: "1.5",
    },
    ".cm-content": { caretColor: colour("caret", "#0969da"), padding: "6px 0" },
    ".cm-gutters": {
      backgroundColor: colour("gutter-bg", "#f6f8fa"),
      color: colour("gutter-fg", "#8c959f"),
      borderRight: `1px solid ${colour("border", "#d0d7de")}`,
      borderRadius: "6px 0 0 6px",
    },
    ".cm-activeLine": { backgroundColor: colour("active-line", "#f3f6fa") },
    ".cm-activeLineGutter": {
      backgroundColor: colour("active-line", "#eaeef2"),
      color: colour("fg", "#1f2328"),
    },
    "&.cm-focused .cm-selectionBackground, .cm-selectionBackground, ::selection": {
      backgroundColor: colour("selection", "#b6d7ff"),
    },
    "&.cm-focused .cm-matchingBracket": {
      backgroundColor: colour("bracket-match", "#c8f0d0"),
      outline: "1px solid #4ac26b",
    },
    "&.cm-focused .cm-nonmatchingBracket": { backgroundColor: "#ffd8d3" },
    ".cm-searchMatch": { backgroundColor: "#fff1a8", outline: "1px solid #e3c000" },
    ".cm-searchMatch.cm-searchMatch-selected": { backgroundColor: "#ffd33d" },
    ".cm-tooltip": {
      border: `1px solid ${colour("border", "#d0d7de")}`,
      backgroundColor: colour("tooltip-bg", "#ffffff"),
      borderRadius: "6px",
      boxShadow: "0 4px 12px rgba(31, 35, 40, 0.15)",
    },
    ".cm-tooltip-autocomplete > ul > li[aria-selected]": {
      backgroundColor: colour("completion-selected", "#ddf4ff"),
      color: colour("fg", "#1f2328"),
    },
    ".cm-completionDetail": { color: "#57606a", fontStyle: "normal", marginLeft: "0.8em" },
    ".dt-hover": {
      padding: "6px 10px",
      maxWidth: "36em",
      fontFamily: "system-ui, sans-serif",
      fontSize: "13px",
    },
    ".dt-hover-signature": {
      fontFamily: colour("mono", "ui-monospace, monospace"),
      fontWeight: "600",
      display: "block",
      marginBottom: "2px",
    },
    ".dt-hover-kind": { color: "#57606a", fontSize: "11px", marginLeft: "0.6em" },
    ".cm-diagnostic": { fontFamily: "system-ui, sans-serif", fontSize: "13px" },
    ".cm-panels": { backgroundColor: colour("gutter-bg", "#f6f8fa") },

    // Token colours: distinct for each class, readable on white.
    ".dt-comment": { color: colour("comment", "#6e7781"), fontStyle: "italic" },
    ".dt-string": { color: colour("string", "#0a3069") },
    ".dt-escape": { color: colour("escape", "#cf222e") },
    ".dt-number": { color: colour("number", "#0550ae") },
    ".dt-keyword": { color: colour("keyword", "#cf222e"), fontWeight: "600" },
    ".dt-type": { color: colour("type", "#953800") },
    ".dt-operator": { color: colour("operator", "#57606a") },
    ".dt-meta": { color: colour("meta", "#6639ba") },
    ".dt-member": { color: colour("member", "#24292f") },
    ".dt-provider": { color: colour("provider", "#8250df"), fontWeight: "700" },
    ".dt-probe": { color: colour("probe", "#6f42c1") },
    ".dt-predicate": {
      backgroundColor: colour("predicate-bg", "#fff8c5"),
      borderRadius: "2px",
    },
    ".dt-builtin": { color: colour("builtin", "#116329"), fontWeight: "600" },
    ".dt-aggregating": { color: colour("aggregating", "#bc4c00"), fontWeight: "700" },
    ".dt-function": { color: colour("function", "#0969da") },
    ".dt-aggregation": { color: colour("aggregation", "#a40e26"), fontWeight: "600" },
    ".dt-self": { color: colour("self", "#1b7c83") },
    ".dt-this": { color: colour("this", "#3e8a9e"), fontStyle: "italic" },
    ".dt-scratch": { color: colour("scratch", "#7d4e00") },
    ".dt-macro": { color: colour("macro", "#b35900"), fontWeight: "600" },
    ".dt-pragma": { color: colour("pragma", "#6639ba"), fontWeight: "600" },
    ".dt-option": { color: colour("option", "#8a4600") },
  },
  { dark: false },
);
