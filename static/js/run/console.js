// The console: what the script printed, as text nodes only (lines are untrusted text).

import { el } from "../dom.js";

const MAX_CONSOLE_LINES = 5000;

export class RunConsole {
  constructor({ console: box, consoleCount, consoleDropped, consoleWrap, consoleClear }) {
    this.box = box;
    this.count = consoleCount;
    this.droppedNote = consoleDropped;
    consoleClear.addEventListener("click", () => this.clear());
    consoleWrap.addEventListener("change", () => box.classList.toggle("wrap", consoleWrap.checked));
    this.clear();
  }

  get lines() {
    return this.shown;
  }

  clear() {
    this.box.replaceChildren(el("span", "console-empty", "Nothing printed yet. Text from printf(), print() and trace() appears here."));
    this.shown = 0;
    this.dropped = 0;
    this.count.textContent = "0 lines";
    this.droppedNote.hidden = true;
  }

  /** `dropped`: lines the server dropped so far (docs/protocol.md, output), a running total. */
  append(lines, dropped) {
    const c = this.box;
    if (dropped > this.dropped) {
      this.dropped = dropped;
      this.droppedNote.hidden = false;
      this.droppedNote.textContent = `${this.dropped.toLocaleString("en-US")} lines dropped (too fast)`;
    }
    if (!lines.length) return;
    const atBottom = c.scrollHeight - c.scrollTop - c.clientHeight < 24;
    if (!this.shown) c.replaceChildren();
    const frag = document.createDocumentFragment();
    for (const line of lines) {
      const text = String(line);
      frag.append(document.createTextNode(text.endsWith("\n") ? text : text + "\n"));
    }
    c.append(frag);
    this.shown += lines.length;
    while (c.childNodes.length > MAX_CONSOLE_LINES) c.firstChild.remove();
    this.count.textContent = `${this.shown.toLocaleString("en-US")} line${this.shown === 1 ? "" : "s"}`;
    if (atBottom) c.scrollTop = c.scrollHeight;
  }
}
