// Drilldown from a click: the menu at a clicked key (Only this key, by…, Exclude, Latency),
// the derived script side by side with the run's, and the child run it starts. The server
// derives and compiles the script (POST /api/drilldown); the page never edits a script.
//
// `host`: {source(runId) -> Promise<run body with script>, startChild(run, script)}.

import { api } from "../api.js";
import { button, el } from "../dom.js";
import { formatNumber } from "./format.js";
import { DrillDialog } from "./drill-dialog.js";
import { keyText } from "./drill-labels.js";
import { fleetScope, hostsLabel, splitHost } from "../fleet/drill-hosts.js";

const STACK_NOTE = "A stack cannot be matched by value: click the key under the stacks (a process name, say), or a chart of a map without stacks.";
const OTHER_NOTE = "This stands for many keys together: click one key to drill into it.";
const MAX_BUCKET_KEYS = 10;

function spanText(lo, hi) {
  const f = (v, inf) => (v === null || v === undefined ? inf : formatNumber(v));
  return lo === hi ? f(lo, "") : `${f(lo, "-∞")} … ${f(hi, "+∞")}`;
}

/** Keys of `agg` (a snapshot's) with counts in buckets within [lo, hi], the largest first. */
export function keysInBucket(agg, lo, hi) {
  const low = lo ?? -Infinity;
  const high = hi ?? Infinity;
  const found = [];
  for (const row of agg?.rows || []) {
    let n = 0;
    for (const b of row.buckets || []) {
      if ((b.lo ?? -Infinity) >= low && (b.hi ?? Infinity) <= high) n += b.count;
    }
    if (n > 0) found.push({ key: row.key, count: n });
  }
  return found.sort((a, b) => b.count - a.count);
}

/** What a click on a chart point is about: {runId, aggregation, key} (key null for a stack
 * or "other"), or {bucket} for a heatmap-over-time cell; null for what names no key. The
 * indices are the server's (docs/protocol.md, `keys`). */
export function clickTarget(panel, pt, view) {
  if (!pt) return null;
  const trace = pt.data || {};
  const meta = trace.meta || {};
  const base = { runId: view.runId, aggregation: panel.name };
  const cell = pt.pointNumber ?? pt.pointIndex;
  let rank;
  if (trace.type === "icicle") {
    // A frame of a stack fixes nothing; a key part's node (under the stacks) fixes it.
    const [row, parts] = meta.key_nodes?.[pt.id] || [];
    const key = row === undefined ? null : panel.keys?.[row];
    return { ...base, key: key ? key.map((p, i) => (i < parts ? p : null)) : null };
  }
  if (trace.type === "mesh3d") rank = Math.floor(pt.y / meta.cell);
  else if (trace.type === "heatmap" && meta.ranks) rank = meta.ranks[Array.isArray(cell) ? cell[0] : cell];
  else if (trace.type === "heatmap" && meta.spans) {
    const span = meta.spans[Array.isArray(cell) ? cell[0] : cell];
    const agg = view.snapshot?.aggregations.find((a) => a.name === panel.name);
    return span ? { ...base, key: null, bucket: { lo: span[0], hi: span[1], agg } } : null;
  } else if (pt.customdata !== undefined && trace.type !== "heatmap") rank = Array.isArray(pt.customdata) ? pt.customdata[0] : pt.customdata;
  else if (trace.type === "bar") return { ...base, key: null, other: true }; // "other keys"
  else return null; // a key's line over time
  if (typeof rank !== "number" || Number.isNaN(rank)) return null;
  if (rank < 0) return { ...base, key: null, other: true };
  return { ...base, key: panel.keys?.[rank] ?? null };
}

/** A chart's clicks open the menu (bound once per plotly div; Plotly.purge drops it). */
export function bindDrill(card, view) {
  const div = card.chart;
  if (div._drills || !view.drill) return;
  div._drills = true;
  div.on("plotly_click", (ev) => {
    const target = clickTarget(card.panel, ev.points?.[0], view);
    if (target) target.fleet = fleetScope(view.fleet, card.panel);
    if (target) view.drill.open(target, { x: ev.event?.clientX ?? 0, y: ev.event?.clientY ?? 0 }, div);
  });
}

/** The menu for a table row (a click, or Enter on the focused row). */
export function drillRow(card, rank, tr, view) {
  const box = tr.getBoundingClientRect();
  const key = card.panel.keys?.[rank] ?? null;
  const target = { runId: view.runId, aggregation: card.panel.name, key, fleet: fleetScope(view.fleet, card.panel) };
  // Each snapshot draws the table anew: focus goes back to the row of the same key.
  view.drill.open(target, { x: box.left + 24, y: box.bottom }, () => rowOf(card, key) || tr);
}

/** The table row (as drawn now) of `key`, if it is shown. */
export function rowOf(card, key) {
  const same = JSON.stringify(key);
  const rows = card.tableWrap.querySelectorAll("tr.drill-row");
  return [...rows].find((r) => JSON.stringify(card.panel.keys?.[Number(r.dataset.rank)] ?? null) === same);
}

export class DrillMenu {
  constructor(host) {
    this.host = host;
    this.fields = new Map(); // "run|@agg" -> Promise of /api/drilldown/fields
    this.failed = new Map(); // "run|@agg|key|by|mode" -> the server's reason
    this.node = null;
    this.dialog = new DrillDialog(host);
    document.addEventListener("pointerdown", (ev) => this.node && !this.node.contains(ev.target) && this.close());
  }

  close({ refocus = false } = {}) {
    if (!this.node) return;
    this.node.remove();
    this.node = null;
    const back = typeof this.returnFocus === "function" ? this.returnFocus() : this.returnFocus;
    if (refocus && back?.isConnected) back.focus();
  }

  /** The menu for `target` = {runId, aggregation, key (array, or null for a stack),
   * other?, bucket?: {lo, hi, agg}} at page point {x, y}; focus returns to `from` (an
   * element, or a function that finds it again when the menu closes). */
  open(target, at, from = null) {
    this.close();
    target = splitHost(target);
    this.returnFocus = from || document.activeElement;
    const menu = el("div", "drill-menu");
    menu.setAttribute("role", "menu");
    menu.setAttribute("aria-label", `Drill into ${target.aggregation}`);
    menu.dataset.aggregation = target.aggregation;
    menu.addEventListener("keydown", (ev) => this.keys(ev));
    this.node = menu;
    document.body.append(menu);
    this.fill(menu, target);
    this.place(menu, at);
  }

  place(menu, { x, y }) {
    const w = menu.offsetWidth;
    const h = menu.offsetHeight;
    menu.style.left = `${Math.max(8, Math.min(x, window.innerWidth - w - 8)) + window.scrollX}px`;
    menu.style.top = `${Math.max(8, Math.min(y, window.innerHeight - h - 8)) + window.scrollY}px`;
  }

  fill(menu, target) {
    menu.replaceChildren();
    if (target.bucket) return this.fillBucket(menu, target);
    const head = el("div", "drill-head");
    head.append(el("span", "agg-name", target.aggregation), el("span", "drill-key", target.key ? keyText(target.key) : target.other ? "other keys" : "a stack"));
    const on = target.key && hostsLabel(target);
    if (on) head.append(el("span", "drill-on", on));
    menu.append(head);
    if (!target.key) {
      menu.append(el("p", "drill-reason", target.other ? OTHER_NOTE : STACK_NOTE));
      this.focusFirst(menu, true);
      return;
    }
    const status = el("p", "drill-status muted", "Reading the script…");
    menu.append(status);
    this.menuOf(target).then(
      (found) => {
        if (this.node !== menu) return;
        status.remove();
        this.items(menu, target, found);
        this.place(menu, { x: parseFloat(menu.style.left) - window.scrollX, y: parseFloat(menu.style.top) - window.scrollY });
        this.focusFirst(menu);
      },
      (err) => {
        if (this.node !== menu) return;
        status.className = "drill-reason";
        status.textContent = `No drilldown here: ${err.message}`;
        this.focusFirst(menu, true);
      },
    );
  }

  /** "What's in this bucket": the keys a heatmap cell's bucket holds, each a way in. */
  fillBucket(menu, target) {
    const { lo, hi, agg } = target.bucket;
    const head = el("div", "drill-head");
    head.append(el("span", "agg-name", target.aggregation), el("span", "drill-key", spanText(lo, hi)));
    menu.append(head);
    // A fleet run's snapshot is the by-host one: its keys start with the host.
    const keys = keysInBucket(agg, lo, hi).filter((k) => k.key.length);
    if (!keys.length) {
      menu.append(el("p", "drill-reason", "No key of this aggregation has counts in this bucket yet."));
      this.focusFirst(menu, true);
      return;
    }
    menu.append(el("p", "drill-note muted", "In this bucket since the start, by key:"));
    const list = el("div", "drill-bucket-keys");
    for (const { key, count } of keys.slice(0, MAX_BUCKET_KEYS)) {
      const b = this.item(list, `${keyText(key)}`, () => this.fill(menu, splitHost({ ...target, bucket: null, key, fleet: target.fleet && { hostFirst: true } })));
      b.append(el("span", "drill-count", formatNumber(count)));
    }
    menu.append(list);
    if (keys.length > MAX_BUCKET_KEYS) menu.append(el("p", "drill-note muted", `and ${keys.length - MAX_BUCKET_KEYS} more keys`));
    this.focusFirst(menu);
  }

  async menuOf(target) {
    const id = `${target.runId}|${target.aggregation}`;
    if (!this.fields.has(id)) {
      const ask = this.host.source(target.runId).then((run) =>
        api("POST", "/api/drilldown/fields", { language: run.language, script: run.script, aggregation: target.aggregation, via: run.via || "auto" }),
      );
      ask.catch(() => this.fields.delete(id));
      this.fields.set(id, ask);
    }
    return this.fields.get(id);
  }

  items(menu, target, found) {
    const why = found.unavailable || {};
    const add = (label, mode, by = null, parent = menu) => {
      const reason = why[mode] || this.failed.get(this.failKey(target, mode, by));
      const b = this.item(parent, label, () => this.choose(menu, b, target, mode, by), reason);
      b.dataset.mode = mode;
      if (by) b.dataset.by = by;
      return b;
    };
    add("Only this key", "only");
    const by = el("div", "drill-by");
    by.setAttribute("role", "group");
    by.setAttribute("aria-label", "Only this key, by…");
    by.append(el("div", "drill-by-label", "Only this key, by…"));
    if (why.only) by.append(el("p", "drill-reason", why.only));
    else if (!found.fields.length) by.append(el("p", "drill-reason", "No other field applies to these probes."));
    menu.append(by);
    if (!why.only) for (const f of found.fields) add(f.label, "only", f.name, by).classList.add("drill-field");
    add("Exclude this key", "exclude");
    add("Latency of this key", "latency");
  }

  /** A menu item; a disabled one shows why under it. */
  item(parent, label, onChoose, reason = null) {
    const b = button(label, "drill-item", onChoose);
    b.setAttribute("role", "menuitem");
    b.tabIndex = -1;
    parent.append(b);
    if (reason) this.disable(b, reason);
    return b;
  }

  disable(b, reason) {
    b.setAttribute("aria-disabled", "true");
    b.title = reason;
    let note = b.nextElementSibling;
    if (!note?.classList.contains("drill-reason")) {
      note = el("p", "drill-reason");
      b.after(note);
    }
    note.textContent = reason;
  }

  failKey(target, mode, by) {
    return [target.runId, target.aggregation, JSON.stringify(target.key), by, mode].join("|");
  }

  async choose(menu, b, target, mode, by) {
    if (b.getAttribute("aria-disabled") === "true" || menu.dataset.busy) return;
    menu.dataset.busy = "1";
    b.classList.add("busy");
    // A stack part is sent as "": the server matches no stack (docs/api.md#drilldown).
    const key = target.key.map((p) => (p === null ? "" : p));
    const drill = { aggregation: target.aggregation, key, by, mode };
    try {
      const run = await this.host.source(target.runId);
      const derived = await api("POST", "/api/drilldown", { language: run.language, script: run.script, via: run.via || "auto", ...drill });
      this.close();
      this.dialog.show(run, drill, derived, target);
    } catch (err) {
      const reason = err.diagnostics?.length ? `${err.message}` : `The drilldown failed: ${err.message}`;
      this.failed.set(this.failKey(target, mode, by), reason);
      if (this.node === menu) this.disable(b, reason);
    } finally {
      delete menu.dataset.busy;
      b.classList.remove("busy");
    }
  }

  focusFirst(menu, closeOnly = false) {
    if (closeOnly) {
      const close = button("Close", "drill-item", () => this.close({ refocus: true }));
      close.setAttribute("role", "menuitem");
      menu.append(close);
    }
    const first = [...menu.querySelectorAll(".drill-item")].find((b) => b.getAttribute("aria-disabled") !== "true");
    (first || menu.querySelector(".drill-item"))?.focus();
  }

  /** Arrow keys move between items, Escape closes and gives focus back. */
  keys(ev) {
    const items = [...this.node.querySelectorAll(".drill-item")];
    const at = items.indexOf(document.activeElement);
    if (ev.key === "Escape") {
      ev.preventDefault();
      this.close({ refocus: true });
    } else if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      ev.preventDefault();
      const step = ev.key === "ArrowDown" ? 1 : -1;
      items[(at + step + items.length) % items.length]?.focus();
    } else if (ev.key === "Tab") {
      this.close();
    }
  }
}
