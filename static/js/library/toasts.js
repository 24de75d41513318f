// Short notes at the foot of the library: saved, deleted (with Undo), errors.

import { el } from "../dom.js";
import { libButton } from "./util.js";

const TOAST_MS = 8000;
const MAX_TOASTS = 4;

export class Toasts {
  constructor() {
    this.box = el("div", "lib-toasts");
    this.box.setAttribute("role", "status");
    this.box.setAttribute("aria-live", "polite");
  }

  /** `action`: {label, run} for a button such as Undo. */
  show(message, kind = "info", action = null) {
    const t = el("div", "lib-toast lib-toast-" + kind);
    t.append(el("span", "lib-toast-text", message));
    const close = () => t.remove();
    if (action) {
      t.append(
        libButton(action.label, "lib-small lib-toast-action", () => {
          close();
          action.run();
        }),
      );
    }
    t.append(libButton("×", "lib-close", close, "Dismiss"));
    this.box.append(t);
    while (this.box.children.length > MAX_TOASTS) this.box.firstElementChild.remove();
    setTimeout(close, kind === "error" ? TOAST_MS * 2 : TOAST_MS);
  }
}
