// Deleting a snippet: an inline "Delete?" confirmation, then a toast that can undo it.

import { el } from "../dom.js";
import { libButton } from "./util.js";

export class DeleteConfirm {
  constructor(lib) {
    this.lib = lib;
    this.confirmingId = null; // the snippet whose delete awaits a yes or no
  }

  ask(s, li, { focus = true } = {}) {
    if (li.querySelector(".lib-confirm")) return;
    this.confirmingId = s.id;
    const box = el("div", "lib-confirm");
    box.setAttribute("role", "alertdialog");
    box.append(el("span", "", `Delete "${s.title}"?`));
    const yes = libButton("Delete", "lib-small lib-danger lib-confirm-yes", () => {
      this.confirmingId = null;
      this.remove(s);
    });
    const no = libButton("Keep", "lib-small", () => {
      this.confirmingId = null;
      box.remove();
    });
    box.append(yes, no);
    li.append(box);
    if (focus) yes.focus();
  }

  async remove(s) {
    const lib = this.lib;
    try {
      await lib.host.api("DELETE", `/api/snippets/${s.id}`);
    } catch (err) {
      lib.toast("Not deleted: " + err.message, "error");
      return;
    }
    const wasCurrent = lib.current?.kind === "snippet" && lib.current.id === s.id;
    const before = wasCurrent ? lib.current : null;
    if (wasCurrent) lib.setCurrent(lib.draft(s.title));
    if (lib.history.snippetId === s.id) lib.history.close();
    lib.refresh();
    lib.toast(`Deleted "${s.title}".`, "info", {
      label: "Undo",
      run: async () => {
        try {
          const back = await lib.host.api("POST", `/api/snippets/${s.id}/undelete`);
          if (before && lib.current?.kind === "draft") {
            lib.setCurrent({ ...before, title: back.title, rev: back.rev, baseline: back.script, language: back.language });
          }
          lib.toast(`Restored "${back.title}".`);
          lib.refresh();
        } catch (err) {
          lib.toast("Could not undo: " + err.message, "error");
        }
      },
    });
  }
}
