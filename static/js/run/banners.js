// The problems banner: tracer errors (counted when they repeat), a failed run, a lost
// connection, notices.

import { bannerNode, el } from "../dom.js";

const NUMBER = /\d[\d,]*/g;

export class Banners {
  constructor(box) {
    this.box = box;
  }

  clear() {
    this.box.replaceChildren();
  }

  /** Show (or count again) a banner; `kind` "connection"/"failed" banners are replaced.
   * Tracer problems that differ only in a number ("36 events were lost", "21 events were
   * lost") are one banner with the numbers added up, not one banner each. */
  show(kind, message, fix) {
    const counted = kind === "error" || kind === "note";
    const numbers = counted ? message.match(NUMBER) || [] : [];
    const id = counted ? kind + ":" + message.replace(NUMBER, "#") : kind;
    let node = [...this.box.children].find((n) => n.dataset.id === id);
    if (node) {
      if (counted) {
        const count = Number(node.dataset.count || 1) + 1;
        node.dataset.count = String(count);
        node.querySelector(".banner-count").textContent = "×" + count;
        if (numbers.length === 1) this.addUp(node, numbers[0]);
        return;
      }
      node.remove();
    }
    const severe = kind === "error" || kind === "failed";
    const shownFix = fix ? (kind === "error" ? "Fix: " : "") + fix : null;
    node = bannerNode(severe ? "error" : "warn", message, shownFix, severe ? "alert" : "status");
    node.dataset.id = id;
    node.insertBefore(el("span", "banner-count", ""), node.lastChild);
    if (numbers.length === 1) {
      node.dataset.template = message;
      node.dataset.total = "0";
      this.addUp(node, numbers[0]);
    }
    this.box.append(node);
  }

  /** The banner's message with its one number replaced by the running total. */
  addUp(node, number) {
    if (node.dataset.template === undefined) return;
    const total = Number(node.dataset.total) + Number(number.replace(/,/g, ""));
    node.dataset.total = String(total);
    const text = node.dataset.template.replace(NUMBER, total.toLocaleString("en-US"));
    const message = node.querySelector(".banner-message") || node.firstChild;
    message.textContent = text;
  }

  remove(kind) {
    for (const n of [...this.box.children]) if (n.dataset.id === kind) n.remove();
  }
}
