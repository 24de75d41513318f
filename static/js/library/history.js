// A snippet's history: its revisions, a preview of each, restoring one.

import { el } from "../dom.js";
import { described, formatWhen, LANGUAGE_NAME, libButton } from "./util.js";

export class History {
  constructor(lib) {
    this.lib = lib;
    this.snippetId = null; // the snippet whose history is open
    this.box = el("div", "lib-revisions");
    this.box.hidden = true;
  }

  close() {
    this.snippetId = null;
    this.box.hidden = true;
    this.box.replaceChildren();
  }

  /** Show it again if snippet `id`'s history is open (it has a new revision). */
  refresh(id) {
    if (this.snippetId === id) this.show(id);
  }

  async show(id) {
    const lib = this.lib;
    let data;
    try {
      data = await lib.host.api("GET", `/api/snippets/${id}/revisions`);
    } catch (err) {
      lib.toast("Could not read the history: " + err.message, "error");
      return;
    }
    this.snippetId = id;
    const box = this.box;
    box.replaceChildren();
    box.hidden = false;
    const head = el("div", "lib-rev-head");
    const title = lib.list.findSnippet(id)?.title || (lib.current?.id === id ? lib.current.title : `#${id}`);
    head.append(el("h3", "", `History of "${title}"`), libButton("×", "lib-close", () => this.close(), "Close the history"));
    const ul = el("ul", "lib-rev-list");
    const preview = el("div", "lib-rev-preview");
    for (const r of data.revisions) {
      const li = el("li", "lib-rev");
      li.dataset.rev = String(r.rev);
      const b = el("button", "lib-rev-main");
      b.type = "button";
      b.append(
        el("span", "lib-rev-num", `rev ${r.rev}${r.rev === data.current ? " · current" : ""}`),
        el("span", "lib-rev-when muted", formatWhen(r.saved)),
        el("span", "lib-rev-title", r.title),
      );
      b.addEventListener("click", () => this.preview(id, r.rev, r.rev === data.current, preview, ul));
      li.append(b);
      ul.append(li);
    }
    box.append(head, ul, preview);
  }

  async preview(id, rev, isCurrent, preview, ul) {
    let r;
    try {
      r = await this.lib.host.api("GET", `/api/snippets/${id}/revisions/${rev}`);
    } catch (err) {
      this.lib.toast("Could not read that revision: " + err.message, "error");
      return;
    }
    for (const li of ul.children) li.classList.toggle("active", li.dataset.rev === String(rev));
    preview.replaceChildren();
    preview.append(el("div", "lib-rev-meta muted", `rev ${r.rev} · ${LANGUAGE_NAME[r.language]} · ${r.title}`));
    preview.append(el("pre", "lib-rev-script", r.script));
    if (!isCurrent) {
      preview.append(libButton(`Restore rev ${rev}`, "lib-primary lib-restore", () => this.restore(id, rev), "Make this revision current again"));
    }
  }

  async restore(id, rev) {
    const lib = this.lib;
    const viewing = lib.current?.kind === "snippet" && lib.current.id === id;
    if (viewing && lib.isDirty() && !window.confirm("Restoring replaces the editor's unsaved changes. Go on?")) return;
    let s;
    try {
      s = await lib.host.api("POST", `/api/snippets/${id}/revisions/${rev}/restore`);
    } catch (err) {
      lib.toast("Not restored: " + err.message, "error");
      return;
    }
    lib.load(s.script, s.language, s.options);
    lib.setCurrent({ kind: "snippet", id: s.id, title: s.title, rev: s.rev, baseline: s.script, language: s.language, ...described(s) });
    lib.toast(`Restored rev ${rev} as rev ${s.rev}.`);
    lib.refresh();
    this.show(id);
  }
}
