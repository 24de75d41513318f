// The Run step's list of the fleet's hosts (GET /api/hosts): one row per host, kept in place
// from one poll to the next so that a focused checkbox stays focused.  Host names, OS
// strings, versions and tags come from the agents: they are set as text only.

import { button, el } from "../dom.js";
import { secondsAgo } from "./hosts.js";

/** What a host row's checkbox shows: `checked`, `disabled`, and why (its title). */
export function pickState(host, mode, matched) {
  if (!host.online) return { checked: false, disabled: true, why: "Offline: it cannot run a script now" };
  if (mode === "all") return { checked: true, disabled: false, why: "Runs the script: every online host does" };
  if (mode === "local") return { checked: false, disabled: false, why: "Tick to run the script on this host" };
  const by = matched.get(host.name) || [];
  if (!by.length) return { checked: false, disabled: false, why: "Tick to run the script on this host too" };
  const others = by.filter((term) => term !== host.name);
  if (others.length) return { checked: true, disabled: true, why: `Taken by ${others.join(", ")}: change the field to leave it out` };
  return { checked: true, disabled: false, why: "Untick to leave this host out" };
}

const LANGUAGE_NAME = { bpftrace: "bpftrace", d: "D" };

/** A chip per language the host's backends serve (D may have two ways: libdtrace, or
 * bpftrace translating it), its versions in the title; a language none serves is struck. */
function languageChips(backends) {
  const chips = [];
  for (const language of [...new Set(backends.map((b) => b.language))]) {
    const ways = backends.filter((b) => b.language === language);
    const usable = ways.filter((b) => b.available);
    const name = LANGUAGE_NAME[language] || language;
    const first = usable[0] || ways[0];
    const label = language === "bpftrace" && first.version ? `${name} ${first.version}` : name;
    const chip = el("span", "host-backend" + (usable.length ? "" : " off"), label);
    const each = ways.map((b) => `${b.name}${b.version ? " " + b.version : ""}${b.available ? "" : " (not available)"}`);
    chip.title = `${name} scripts: ${each.join(", ")}`;
    chips.push(chip);
  }
  return chips;
}

/** A row per host in `ul`, updated in place; `onPick(name, checked)` when a box is ticked,
 * `onTag(tag)` when a tag is pressed. */
export class HostList {
  constructor(ul, onPick, onTag) {
    this.ul = ul;
    this.onPick = onPick;
    this.onTag = onTag;
    this.rows = new Map(); // name -> {li, box, parts...}
  }

  row(name) {
    let row = this.rows.get(name);
    if (row) return row;
    const li = el("li", "host-row");
    li.dataset.host = name;
    const label = el("label", "host-pick");
    const box = el("input");
    box.type = "checkbox";
    box.addEventListener("change", () => this.onPick(name, box.checked));
    const dot = el("span", "host-dot");
    label.append(box, dot, el("span", "host-name", name));
    row = { li, box, dot, os: el("span", "host-os"), backends: el("span", "host-backends"), tags: el("span", "host-tags"), seen: el("span", "host-seen") };
    const caps = el("span", "host-caps");
    row.destructive = el("span", "host-destructive", "destructive actions allowed");
    row.destructive.title = "This host's agent runs with --allow-destructive";
    caps.append(row.backends, row.tags, row.destructive);
    li.append(label, row.os, row.seen, caps);
    this.rows.set(name, row);
    return row;
  }

  /** Show `hosts` (sorted by name), each checkbox as `pick(host)` says. */
  show(hosts, pick, now = Date.now() / 1000) {
    const names = new Set(hosts.map((h) => h.name));
    for (const [name, row] of this.rows) {
      if (!names.has(name)) {
        row.li.remove();
        this.rows.delete(name);
      }
    }
    const sorted = [...hosts].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    sorted.forEach((host, i) => {
      const row = this.row(host.name);
      this.fill(row, host, pick(host), now);
      // Moved only when out of place: moving a node would take the focus from its box.
      if (this.ul.children[i] !== row.li) this.ul.insertBefore(row.li, this.ul.children[i] || null);
    });
  }

  fill(row, host, state, now) {
    row.li.classList.toggle("offline", !host.online);
    row.li.classList.toggle("picked", state.checked);
    row.dot.title = host.online ? "Online" : "Offline";
    row.box.checked = state.checked;
    row.box.disabled = state.disabled;
    row.box.title = state.why;
    row.box.setAttribute("aria-label", `${host.name}: ${state.why}`);
    setText(row.os, host.os || "");
    row.os.title = [host.os, host.version ? `dtrace-ide ${host.version}` : ""].filter(Boolean).join(" · ");
    row.destructive.hidden = !host.allow_destructive;
    const key = JSON.stringify([host.backends || [], host.tags || []]);
    if (row.key !== key) {
      row.key = key;
      row.backends.replaceChildren(...languageChips(host.backends || []));
      row.tags.replaceChildren(
        ...(host.tags || []).map((t) => button(t, "host-tag", () => this.onTag(t), `Run on the hosts tagged ${t} (tag:${t})`)),
      );
    }
    const seen = secondsAgo(host.last_seen, now);
    setText(row.seen, host.online ? `seen ${seen}` : `offline · ${seen}`);
    if (typeof host.last_seen === "number") row.seen.title = new Date(host.last_seen * 1000).toLocaleString();
  }
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}
