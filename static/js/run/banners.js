// The problems banner: tracer errors and notes (one banner per kind, with the server's
// running totals), a failed run, a lost connection, notices.

import { bannerNode, el } from "../dom.js";

const NUMBER = /\d[\d,]*/g;

export class Banners {
  constructor(box) {
    this.box = box;
  }

  clear() {
    this.box.replaceChildren();
  }

  /** Show a banner; `kind` "connection"/"failed" banners are replaced. Tracer problems that
   * differ only in a number ("36 events were lost", "1,278 events were lost") are one
   * banner: it shows the newest message (the server's running total) and `count`, how
   * many reports there were (counted here when the server does not say). */
  show(kind, message, fix, count) {
    const counted = kind === "error" || kind === "note";
    const id = counted ? kind + ":" + message.replace(NUMBER, "#") : kind;
    let node = [...this.box.children].find((n) => n.dataset.id === id);
    if (node && counted) {
      const n = Number.isInteger(count) ? count : Number(node.dataset.count || 1) + 1;
      node.querySelector(".banner-message").textContent = message;
      this.setCount(node, n);
      return;
    }
    if (node) node.remove();
    const severe = kind === "error" || kind === "failed";
    const shownFix = fix ? (kind === "error" ? "Fix: " : "") + fix : null;
    node = bannerNode(severe ? "error" : "warn", message, shownFix, severe ? "alert" : "status");
    node.dataset.id = id;
    node.insertBefore(el("span", "banner-count", ""), node.lastChild);
    if (counted && Number.isInteger(count)) this.setCount(node, count);
    this.box.append(node);
  }

  setCount(node, n) {
    node.dataset.count = String(n);
    node.querySelector(".banner-count").textContent = n > 1 ? "×" + n.toLocaleString("en-US") : "";
  }

  remove(kind) {
    for (const n of [...this.box.children]) if (n.dataset.id === kind) n.remove();
  }
}
