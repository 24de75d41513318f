// The Run step's "Hosts" control, shown when the server has a broker (GET /api/limits says
// "fleet"): this server (a local run), all online hosts, or the hosts named, matched or
// tagged in one text field, over a live list of the hosts polled while the Run step shows.
//
// The mode's radios and the text field are the selection: a ticked box writes its host's
// name into the field, an unticked one takes it out, so nothing else holds a second copy.

import { api } from "../api.js";
import { byId as $ } from "../dom.js";
import { HostList, pickState } from "./host-list.js";
import { matchedBy, selectionTerms } from "./hosts.js";

const POLL_MS = 2000;
const MAX_TERMS = 100;
const MAX_TERM_CHARS = 128;

export class HostPicker {
  constructor() {
    this.enabled = false;
    this.hosts = null; // the last GET /api/hosts answer's hosts, null before one
    this.timer = null;
    this.polling = false;
  }

  /** Show the control when `limits` say the server has a fleet; otherwise nothing changes. */
  enable(limits) {
    if (this.enabled || !limits?.fleet) return;
    this.enabled = true;
    this.field = $("hosts-field");
    this.pattern = $("hosts-pattern");
    this.count = $("hosts-count");
    this.broker = $("hosts-broker");
    this.empty = $("hosts-empty");
    this.step = $("step-run");
    this.list = new HostList($("hosts-list"), (name, on) => this.picked(name, on), (tag) => this.tagged(tag));
    this.field.hidden = false;
    for (const radio of document.querySelectorAll('input[name="hosts-mode"]')) {
      radio.addEventListener("change", () => {
        this.refresh();
        if (radio.checked && radio.value === "chosen") this.pattern.focus();
      });
    }
    this.pattern.addEventListener("input", () => this.refresh());
    // Polled only while the Run step is on screen and the tab is visible.
    new MutationObserver(() => this.wake()).observe(this.step, { attributes: true, attributeFilter: ["hidden"] });
    document.addEventListener("visibilitychange", () => this.wake());
    this.refresh();
    this.wake();
  }

  get mode() {
    return document.querySelector('input[name="hosts-mode"]:checked')?.value || "local";
  }

  setMode(mode) {
    const radio = document.querySelector(`input[name="hosts-mode"][value="${mode}"]`);
    if (radio) radio.checked = true;
  }

  // --- polling -----------------------------------------------------------------------

  shown() {
    return !this.step.hidden && document.visibilityState === "visible";
  }

  wake() {
    if (!this.shown()) {
      clearTimeout(this.timer);
      this.timer = null;
    } else if (!this.timer && !this.polling) {
      this.poll();
    }
  }

  async poll() {
    this.timer = null;
    this.polling = true;
    try {
      const answer = await api("GET", "/api/hosts");
      this.hosts = Array.isArray(answer?.hosts) ? answer.hosts : [];
      this.showBroker(answer?.broker ?? null, null);
    } catch (err) {
      this.showBroker(null, err);
    } finally {
      this.polling = false;
    }
    this.refresh();
    if (this.shown()) this.timer = setTimeout(() => this.poll(), POLL_MS);
  }

  showBroker(broker, err) {
    const b = this.broker;
    let state;
    if (err) {
      state = "down";
      b.textContent = "The host list cannot be read: " + err.message;
      b.title = "";
    } else if (!broker) {
      state = "down";
      b.textContent = "No broker";
      b.title = "";
    } else {
      state = broker.connected ? "up" : "retry";
      b.textContent = broker.connected ? "Broker connected" : "Broker unreachable: reconnecting…";
      b.title = broker.url || "";
    }
    b.className = "broker-state broker-" + state;
  }

  // --- the selection -----------------------------------------------------------------

  /** The hosts the selection takes, as a Map name -> [terms] (the "chosen" mode), or all
   * online hosts ("all"), or none ("local"). */
  selection() {
    const hosts = this.hosts || [];
    const mode = this.mode;
    if (mode === "local") return new Map();
    if (mode === "all") return new Map(hosts.filter((h) => h.online).map((h) => [h.name, ["*"]]));
    return matchedBy(selectionTerms(this.pattern.value), hosts);
  }

  /** Pick exactly `names` (a past run's hosts), or this server alone when there are none. */
  choose(names) {
    if (!this.enabled) return;
    this.pattern.value = names.join(", ");
    this.setMode(names.length ? "chosen" : "local");
    this.refresh();
  }

  /** A box ticked or unticked: its host's name goes into the field or out of it. */
  picked(name, on) {
    const mode = this.mode;
    let terms = mode === "chosen" ? selectionTerms(this.pattern.value) : [];
    if (mode === "all") terms = (this.hosts || []).filter((h) => h.online).map((h) => h.name);
    terms = terms.filter((t) => t !== name);
    if (on) terms.push(name);
    this.pattern.value = terms.join(", ");
    this.setMode("chosen");
    this.refresh();
  }

  /** A tag pressed: `tag:NAME` goes into the field. */
  tagged(tag) {
    const terms = this.mode === "chosen" ? selectionTerms(this.pattern.value) : [];
    if (!terms.includes(`tag:${tag}`)) terms.push(`tag:${tag}`);
    this.pattern.value = terms.join(", ");
    this.setMode("chosen");
    this.refresh();
  }

  refresh() {
    if (!this.enabled) return;
    const mode = this.mode;
    $("hosts-pattern-row").hidden = mode !== "chosen";
    const hosts = this.hosts || [];
    const matched = this.selection();
    this.list.show(hosts, (host) => pickState(host, mode, matched));
    this.empty.hidden = this.hosts === null || hosts.length > 0;
    const count = this.countText(hosts, matched, mode);
    if (this.count.textContent !== count) this.count.textContent = count; // a live region
  }

  countText(hosts, matched, mode) {
    if (this.hosts === null) return "Reading the hosts…";
    const online = hosts.filter((h) => h.online);
    if (!hosts.length) return mode === "local" ? "Only this server runs the script" : "No host has joined yet";
    if (mode === "local") {
      return online.length ? `Only this server runs the script (${online.length} of ${hosts.length} hosts online)` : "Only this server runs the script";
    }
    const running = online.filter((h) => matched.has(h.name)).length;
    let text = running === 1 ? `1 of ${hosts.length} hosts will run this script` : `${running} of ${hosts.length} hosts will run this script`;
    if (mode === "chosen") {
      const used = new Set([...matched.values()].flat());
      const unused = selectionTerms(this.pattern.value).filter((t) => !used.has(t));
      if (unused.length) text += ` · nothing matches ${unused.join(", ")}`;
    }
    return text;
  }

  // --- what the run form asks of it ----------------------------------------------------

  /** POST /api/runs's "hosts": absent for a local run, "*", or the field's terms. */
  request() {
    if (!this.enabled || this.mode === "local") return {};
    if (this.mode === "all") return { hosts: "*" };
    return { hosts: selectionTerms(this.pattern.value) };
  }

  /** What keeps the run from starting, as {field, message}, or null. */
  problem() {
    if (!this.enabled || this.mode === "local" || this.hosts === null) return null;
    const online = this.hosts.filter((h) => h.online);
    if (this.mode === "all") return online.length ? null : { field: null, message: "No host is online: start an agent, or run on this server." };
    const terms = selectionTerms(this.pattern.value);
    if (!terms.length) return { field: "hosts-pattern", message: "Tick a host or type a name, pattern or tag (or run on this server)." };
    // The server's caps on a selection (ide/fleet/hosts.py).
    if (terms.length > MAX_TERMS) return { field: "hosts-pattern", message: `At most ${MAX_TERMS} names, patterns or tags in one run: use a pattern or a tag.` };
    if (terms.some((t) => t.length > MAX_TERM_CHARS)) return { field: "hosts-pattern", message: `A name, pattern or tag can be at most ${MAX_TERM_CHARS} characters.` };
    const matched = this.selection();
    if (!online.some((h) => matched.has(h.name))) return { field: "hosts-pattern", message: "No online host matches: tick a host or change the pattern." };
    return null;
  }
}
