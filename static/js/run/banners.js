// The problems banner: tracer errors (counted when they repeat), a failed run, a lost
// connection, notices.

import { bannerNode, el } from "../dom.js";

export class Banners {
  constructor(box) {
    this.box = box;
  }

  clear() {
    this.box.replaceChildren();
  }

  /** Show (or count again) a banner; `kind` "connection"/"failed" banners are replaced. */
  show(kind, message, fix) {
    const id = kind === "error" || kind === "note" ? kind + ":" + message : kind;
    let node = [...this.box.children].find((n) => n.dataset.id === id);
    if (node) {
      if (kind === "error" || kind === "note") {
        const count = Number(node.dataset.count || 1) + 1;
        node.dataset.count = String(count);
        node.querySelector(".banner-count").textContent = "×" + count;
        return;
      }
      node.remove();
    }
    const severe = kind === "error" || kind === "failed";
    const shownFix = fix ? (kind === "error" ? "Fix: " : "") + fix : null;
    node = bannerNode(severe ? "error" : "warn", message, shownFix, severe ? "alert" : "status");
    node.dataset.id = id;
    node.insertBefore(el("span", "banner-count", ""), node.lastChild);
    this.box.append(node);
  }

  remove(kind) {
    for (const n of [...this.box.children]) if (n.dataset.id === kind) n.remove();
  }
}
