// D on a box where it runs through bpftrace: the language note says so, and a pane under
// the editor shows the bpftrace that runs (highlighted by the server's lexer), each line
// linked to the D line it came from. Where both libdtrace and bpftrace serve D, a chooser
// sets which one (libdtrace is the default).

import { api } from "../api.js";
import { byId as $, el } from "../dom.js";

export class TranslationPane {
  /** host: {editor(), language(), changed(), ways() -> the ways that serve D here
   * (["libdtrace", "bpftrace"], from /api/health)} */
  constructor(host) {
    this.host = host;
    this.shown = null; // the emitted script now in the pane
    this.via = "auto";
    $("d-via").addEventListener("change", () => {
      this.via = $("d-via").value;
      host.changed();
    });
    $("translation").addEventListener("toggle", () => this.fill());
  }

  /** The "via" a D compile or run asks for. */
  request() {
    return this.host.language() === "d" ? this.via : "auto";
  }

  /** After the backends are known, or the language changes: the chooser only for D
   * where it has two ways. */
  showChooser() {
    $("d-via-box").hidden = !(this.host.language() === "d" && this.host.ways().length > 1);
  }

  /** A compile's answer: the pane for a translated D script, nothing otherwise. */
  show(result) {
    const pane = $("translation");
    const tr = result?.translated;
    const badge = $("via-badge");
    badge.hidden = !tr;
    if (!tr) {
      pane.hidden = true;
      return;
    }
    badge.textContent = "D via bpftrace";
    badge.title = "No libdtrace here (or you chose bpftrace): the D is translated to bpftrace, which runs it";
    pane.hidden = false;
    this.translation = tr;
    if (pane.open) this.fill();
  }

  async fill() {
    const pane = $("translation");
    const tr = this.translation;
    if (!pane.open || !tr || this.shown === tr.script) return;
    this.shown = tr.script;
    const lines = tr.script.split("\n");
    if (lines.at(-1) === "") lines.pop();
    const dLine = lineMapper(tr.line_map);
    const gutter = el("div", "translation-gutter");
    lines.forEach((_, i) => {
      const d = dLine(i + 1);
      const b = el("button", "translation-line", `${i + 1} ← ${d}`);
      b.type = "button";
      b.title = `bpftrace line ${i + 1} comes from D line ${d}: show it`;
      b.addEventListener("click", () => this.host.editor()?.revealLine(d, 1));
      gutter.append(b);
    });
    const code = el("div", "translation-code");
    const plain = el("pre", "", lines.join("\n"));
    code.append(plain);
    $("translation-body").replaceChildren(gutter, code);
    try {
      const { tokens } = await api("POST", "/api/highlight", { language: "bpftrace", script: lines.join("\n") });
      if (this.shown === tr.script) code.replaceChildren(tokensToPre(tokens));
    } catch {
      /* the plain text stays */
    }
  }
}

function lineMapper(pairs) {
  const byBt = [...pairs].sort((a, b) => a[1] - b[1]);
  return (bt) => {
    let d = 1;
    for (const [dl, bl] of byBt) {
      if (bl > bt) break;
      d = dl;
    }
    return d;
  };
}

function tokensToPre(tokens) {
  const out = el("pre", "dtrace-highlight");
  // Text nodes only: the classes come from the server's lexer, the text is never markup.
  for (const [css, text] of tokens) out.append(css ? el("span", css, text) : text);
  return out;
}
