// The backends the server has: a chip each in the header, and each language's radio
// greyed out with the reason when nothing serves it (D is served by libdtrace or, where it
// is missing, by bpftrace translating it).

import { byId as $, el } from "../dom.js";
import { LANGUAGE_NAME } from "../library/util.js";
import { VOCABULARY } from "../vocabulary.js";

export function renderBackends(state, appBanner) {
  const box = $("backend-status");
  box.replaceChildren();
  const notes = $("language-notes");
  notes.replaceChildren();
  for (const lang of Object.keys(VOCABULARY)) {
    // D may have two ways (libdtrace, bpftrace translating it): the one taken by default.
    const served = state.languages?.[lang];
    const ways = state.backends.filter((b) => b.language === lang);
    const preferred = lang === "d" && served?.default === "bpftrace" ? "bpftrace" : null;
    const backend = (preferred && ways.find((b) => b.name === preferred && b.available)) || ways.find((b) => b.available) || ways[0];
    const available = served ? served.available : Boolean(backend?.available);
    const reason = backend ? backend.reason || "" : "no backend for this language";
    const chip = el("span", "backend " + (available ? "ok" : "off"));
    const via = lang === "d" && backend?.name === "bpftrace" ? "D via " : "";
    chip.append(el("span", "dot"), el("span", "", backend ? `${via}${backend.name}${backend.version ? " " + backend.version : ""}` : LANGUAGE_NAME[lang]));
    chip.title = available ? `${LANGUAGE_NAME[lang]} scripts run with ${via ? "bpftrace (translated from D)" : backend.name}` : `${LANGUAGE_NAME[lang]} unavailable: ${reason}`;
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
