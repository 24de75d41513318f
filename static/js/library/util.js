// What the library's parts share: names, small pure helpers, the library's own button, and
// what a reload remembers (the open snippet).

import { button } from "../dom.js";

export const LANGUAGE_NAME = { d: "D", bpftrace: "bpftrace" };
export const UNTITLED = "Unsaved script";
const SUFFIX = { d: ".d", bpftrace: ".bt" };
const STATE_KEY = "dtrace-ide.library";

/** A library button; its click does not reach the item it sits on. */
export function libButton(label, className, onClick, title) {
  return button(label, className ? "lib-btn " + className : "lib-btn", (ev) => {
    ev.stopPropagation();
    onClick(ev);
  }, title);
}

export function formatWhen(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return d.toLocaleDateString([], { year: "numeric", month: "short", day: "numeric" });
}

export function fileName(title, language) {
  const base = title.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 80) || "script";
  return base + SUFFIX[language];
}

export function words(text) {
  return text.toLowerCase().match(/[\p{L}\p{N}_]+/gu) || [];
}

/** `items` in consecutive groups of at most `budget` bytes of JSON (one item at least). */
export function batch(items, budget) {
  const encoder = new TextEncoder();
  const out = [];
  let current = [];
  let size = 0;
  for (const item of items) {
    const n = encoder.encode(JSON.stringify(item)).length + 1;
    if (current.length && size + n > budget) {
      out.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += n;
  }
  if (current.length || !out.length) out.push(current);
  return out;
}

/** A Snippet's description and tags (docs/api.md: the server always sends both). */
export function described(s) {
  return { description: s.description, tags: s.tags };
}

/** The open snippet a reload remembers, or null. */
export function loadState() {
  try {
    const s = JSON.parse(localStorage.getItem(STATE_KEY) || "null");
    if (s && typeof s === "object" && typeof s.baseline === "string") return s;
  } catch {
    /* a damaged entry is ignored */
  }
  return null;
}

export function storeState(current) {
  try {
    if (current) localStorage.setItem(STATE_KEY, JSON.stringify(current));
    else localStorage.removeItem(STATE_KEY);
  } catch {
    /* storage full or disabled: the library still works, only reload memory is lost */
  }
}

/** Run options as the server keeps them: only well-formed values. */
export function cleanRunOptions(o) {
  const out = {};
  if (!o || typeof o !== "object") return out;
  for (const key of ["duration", "interval"]) {
    const v = o[key];
    if (typeof v === "number" && Number.isFinite(v) && v >= 0 && !(key === "interval" && v === 0)) out[key] = v;
  }
  if (o.options && typeof o.options === "object") {
    const opts = {};
    for (const [k, v] of Object.entries(o.options)) if (Number.isInteger(v) && v >= 0) opts[k] = v;
    out.options = opts;
  }
  for (const [k, v] of Object.entries(o)) {
    if (k in out || k === "options" || k === "duration" || k === "interval") continue;
    if (/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(k) && (typeof v === "boolean" || v === null)) out[k] = v;
  }
  return out;
}

/** Whether `script` is still mostly `baseline`: at least half of the baseline's non-blank
 * lines are in it. An example rewritten past that is a new script, not a copy of it. */
export function sharesText(script, baseline) {
  const lines = baseline.split("\n").map((l) => l.trim()).filter(Boolean);
  if (!lines.length) return true;
  const now = new Set(script.split("\n").map((l) => l.trim()));
  return lines.filter((l) => now.has(l)).length * 2 >= lines.length;
}

/** The library's stylesheet, linked once. */
export function ensureStylesheet() {
  const href = "/static/css/library.css";
  if (document.querySelector(`link[rel="stylesheet"][href="${href}"]`)) return;
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = href;
  document.head.append(link);
}
