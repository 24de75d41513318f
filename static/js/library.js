// The script library sidebar: saved snippets and shipped examples.  This module holds what
// is open in the editor (and whether it has unsaved changes), opening and saving; its parts
// are in library/: the lists and search, the title form, the history, the delete
// confirmation, import and export, the toasts.
//
// Titles, descriptions and scripts are untrusted text: every node is built by dom.js's
// helpers, never from HTML strings.

import { el } from "./dom.js";
import { DeleteConfirm } from "./library/delete.js";
import { History } from "./library/history.js";
import { LibraryList } from "./library/list.js";
import { ExamplePreview } from "./library/preview.js";
import { TitleForm } from "./library/title-form.js";
import { Toasts } from "./library/toasts.js";
import { Transfer } from "./library/transfer.js";
import { cleanRunOptions, described, ensureStylesheet, libButton, loadState, sharesText, storeState, UNTITLED } from "./library/util.js";

const DIRTY_POLL_MS = 400;

let mounted = null;

/** True when the editor holds changes not saved to the open snippet. */
export function isDirty() {
  return mounted ? mounted.isDirty() : false;
}

/**
 * Mount the library in `root`.  `host` gives access to the editor and run options:
 * {api, getScript, setScript, getLanguage, setLanguage, getRunOptions, setRunOptions, runNow}.
 * Resolves to {save, saveAs, open, openExample, isDirty, confirmDiscard, openDraft, refresh}.
 */
export async function mountLibrary(root, host) {
  ensureStylesheet();
  const lib = new Library(root, host);
  mounted = lib;
  await lib.start();
  return {
    save: () => lib.save(),
    saveAs: () => lib.saveAs(),
    open: (id) => lib.openSnippet(id),
    openExample: (id) => lib.openExample(id),
    isDirty: () => lib.isDirty(),
    confirmDiscard: () => lib.confirmDiscard(),
    openDraft: (title) => lib.openDraft(title),
    refresh: () => lib.refresh(),
  };
}

class Library {
  constructor(root, host) {
    this.root = root;
    this.host = host;
    this.current = null; // {kind: "snippet"|"example"|"draft", id, title, rev, baseline, language}
    this.dirty = false;
    this.list = new LibraryList(this);
    this.history = new History(this);
    this.preview = new ExamplePreview(this);
    this.deleting = new DeleteConfirm(this);
    this.transfer = new Transfer(this);
    this.titleForm = new TitleForm();
    this.toasts = new Toasts();
    this.build();
  }

  // -- structure

  build() {
    const r = this.root;
    r.replaceChildren();
    r.classList.add("lib");

    const head = el("div", "lib-head");
    head.append(el("h2", "lib-heading", "Library"));
    const actions = el("div", "lib-actions");
    this.saveBtn = libButton("Save", "lib-primary", () => this.save(), "Save (Ctrl+S)");
    actions.append(
      this.saveBtn,
      libButton("Save as…", "", () => this.saveAs(), "Save as a new snippet"),
      libButton("New", "", () => this.newDraft(), "Start a new, unsaved script"),
    );
    head.append(actions);

    const currentBox = el("div", "lib-current");
    currentBox.setAttribute("aria-live", "polite");
    this.currentTitle = el("span", "lib-current-title");
    this.dirtyMark = el("span", "lib-dirty", "●");
    this.dirtyMark.title = "Unsaved changes";
    this.dirtyMark.hidden = true;
    this.currentState = el("span", "lib-current-state muted");
    currentBox.append(this.dirtyMark, this.currentTitle, this.currentState);

    const foot = el("div", "lib-foot");
    const fileInput = el("input");
    fileInput.type = "file";
    fileInput.accept = ".d,.bt,.json,application/json,text/plain";
    fileInput.multiple = true;
    fileInput.hidden = true;
    fileInput.addEventListener("change", () => {
      this.transfer.importFiles([...fileInput.files]);
      fileInput.value = "";
    });
    foot.append(
      libButton("Import…", "", () => fileInput.click(), "Import .d, .bt or an exported .json file"),
      libButton("Export script", "", () => this.transfer.exportCurrent(), "Download the editor's script as a file"),
      libButton("Export all", "", () => this.transfer.exportAll(), "Download every saved snippet as one JSON file"),
      fileInput,
    );
    const dropHint = el("p", "lib-drop-hint muted", "Drop .d, .bt or .json files here to import them.");

    r.append(head, currentBox, this.titleForm.form, this.list.search, this.list.tabs, this.list.list, this.history.box, foot, dropHint, this.toasts.box);

    r.addEventListener("dragover", (ev) => {
      if (![...(ev.dataTransfer?.types || [])].includes("Files")) return;
      ev.preventDefault();
      r.classList.add("lib-dropping");
    });
    r.addEventListener("dragleave", (ev) => {
      if (!r.contains(ev.relatedTarget)) r.classList.remove("lib-dropping");
    });
    r.addEventListener("drop", (ev) => {
      ev.preventDefault();
      r.classList.remove("lib-dropping");
      this.transfer.importFiles([...(ev.dataTransfer?.files || [])]);
    });

    document.addEventListener("keydown", (ev) => {
      // The editor handles its own Ctrl+S (and marks the event handled).
      if (ev.defaultPrevented || !(ev.ctrlKey || ev.metaKey) || ev.altKey) return;
      if (ev.key !== "s" && ev.key !== "S") return;
      if (this.root.getClientRects().length === 0) return; // step 1 is not showing
      ev.preventDefault();
      if (ev.shiftKey) this.saveAs();
      else this.save();
    });
    const check = () => this.checkDirty();
    document.addEventListener("input", check, true);
    document.addEventListener("keyup", check, true);
    setInterval(check, DIRTY_POLL_MS);
  }

  async start() {
    this.list.showTab("saved");
    const fromUrl = new URLSearchParams(location.search).get("snippet");
    const remembered = loadState();
    if (remembered) this.current = remembered;
    const examples = this.list.loadExamples();
    const snippets = this.refresh();
    if (fromUrl && /^\d+$/.test(fromUrl)) {
      const id = Number(fromUrl);
      const keepDraft = remembered && remembered.kind === "snippet" && remembered.id === id && this.textDiffers(remembered);
      if (!keepDraft) await this.openSnippet(id, { force: true });
    }
    if (!this.current) {
      // First visit: the editor's text (a starter or an older draft) is the baseline.
      this.setCurrent(this.draft(null, this.host.getScript()));
    }
    this.setUrl(this.current.kind === "snippet" ? this.current.id : null);
    await Promise.all([examples, snippets]);
    this.renderCurrent();
    this.checkDirty(true);
  }

  refresh() {
    return this.list.refresh();
  }

  toast(message, kind, action) {
    this.toasts.show(message, kind, action);
  }

  // -- current snippet and dirtiness

  /** A script not in the library; unsaved as soon as it differs from `baseline`. */
  draft(title = null, baseline = "") {
    return { kind: "draft", id: null, title: title || UNTITLED, baseline, language: this.host.getLanguage() };
  }

  textDiffers(c) {
    if (this.host.getScript() !== c.baseline) return true;
    // A draft has no saved language to differ from.
    return c.kind !== "draft" && this.host.getLanguage() !== c.language;
  }

  isDirty() {
    return this.current ? this.textDiffers(this.current) : false;
  }

  checkDirty(force = false) {
    const language = this.host.getLanguage();
    if (language !== this.lastLanguage) {
      this.lastLanguage = language;
      if (this.list.tab === "examples") this.list.render();
    }
    const c = this.current;
    // An example rewritten into another script is a new draft: it keeps none of the
    // example's title, description or tags.
    if (c?.kind === "example" && !sharesText(this.host.getScript(), c.baseline)) return this.setCurrent(this.draft());
    const dirty = this.isDirty();
    if (dirty === this.dirty && !force) return;
    this.dirty = dirty;
    this.dirtyMark.hidden = !dirty;
    this.root.classList.toggle("lib-is-dirty", dirty);
    this.root.dispatchEvent(new CustomEvent("library:dirty", { bubbles: true, detail: { dirty } }));
  }

  setCurrent(current) {
    this.current = current;
    storeState(current);
    this.setUrl(current && current.kind === "snippet" ? current.id : null);
    this.renderCurrent();
    this.checkDirty(true);
    this.list.markActive();
  }

  setUrl(id) {
    const url = new URL(location.href);
    if (id === null || id === undefined) url.searchParams.delete("snippet");
    else url.searchParams.set("snippet", String(id));
    url.searchParams.delete("token");
    if (url.href !== location.href) history.replaceState(history.state, "", url.pathname + url.search + url.hash);
  }

  renderCurrent() {
    const c = this.current;
    if (!c) {
      this.currentTitle.textContent = UNTITLED;
      this.currentState.textContent = "not in the library yet";
    } else if (c.kind === "snippet") {
      this.currentTitle.textContent = c.title;
      this.currentState.textContent = `rev ${c.rev}`;
    } else if (c.kind === "example") {
      this.currentTitle.textContent = c.title;
      this.currentState.textContent = "example · Save as to keep a copy";
    } else {
      this.currentTitle.textContent = c.title;
      this.currentState.textContent = "not in the library yet";
    }
    this.currentTitle.title = this.currentTitle.textContent;
  }

  confirmDiscard() {
    if (!this.isDirty()) return true;
    return window.confirm("The editor has unsaved changes. Discard them?");
  }

  load(script, language, options) {
    if (language && language !== this.host.getLanguage()) this.host.setLanguage(language);
    this.host.setScript(script);
    if (options && Object.keys(options).length) this.host.setRunOptions(options);
  }

  // -- opening

  /** The editor now holds a script from elsewhere (a past run's), titled `title`: a draft
   * with no unsaved changes yet. */
  openDraft(title) {
    this.setCurrent(this.draft(title, this.host.getScript()));
  }

  async openSnippet(id, { force = false } = {}) {
    if (!force && !(this.current?.kind === "snippet" && this.current.id === id) && !this.confirmDiscard()) return false;
    let s;
    try {
      s = await this.host.api("GET", `/api/snippets/${id}`);
    } catch (err) {
      this.toast(err.status === 404 ? `Snippet ${id} does not exist (any more).` : `Could not open snippet ${id}: ${err.message}`, "error");
      if (this.current?.kind === "snippet" && this.current.id === id) this.setCurrent(this.draft(this.current.title));
      return false;
    }
    this.load(s.script, s.language, s.options);
    this.setCurrent({ kind: "snippet", id: s.id, title: s.title, rev: s.rev, baseline: s.script, language: s.language, ...described(s) });
    if (this.history.snippetId !== null) this.history.show(s.id);
    return true;
  }

  /** The example in a preview dialog first, where opening it is chosen. */
  previewExample(id) {
    const e = this.list.findExample(id);
    if (e) this.preview.show(e);
  }

  openExample(id, { confirmed = false } = {}) {
    const e = this.list.findExample(id);
    if (!e || (!confirmed && !this.confirmDiscard())) return false;
    this.load(e.script, e.language, e.options);
    this.setCurrent({ kind: "example", id: e.id, title: e.title, baseline: e.script, language: e.language, description: e.description, tags: [e.group] });
    this.history.close();
    return true;
  }

  async runExample(id) {
    if (this.isDirty()) this.previewExample(id); // say what is replaced before running
    else if (this.openExample(id)) await this.host.runNow();
  }

  newDraft() {
    if (!this.confirmDiscard()) return;
    this.host.setScript("");
    this.setCurrent(this.draft());
    this.history.close();
  }

  // -- saving

  snippetBody(fields = {}) {
    return {
      ...fields,
      language: this.host.getLanguage(),
      script: this.host.getScript(),
      options: cleanRunOptions(this.host.getRunOptions()),
    };
  }

  async save() {
    const c = this.current;
    if (!c || c.kind !== "snippet") return this.saveAs();
    const body = this.snippetBody();
    body.base_rev = c.rev;
    let saved;
    try {
      saved = await this.host.api("PUT", `/api/snippets/${c.id}`, body);
    } catch (err) {
      if (err.code === "conflict") {
        if (!window.confirm(`"${c.title}" was saved elsewhere meanwhile. Save over it? (Its history keeps both.)`)) return null;
        delete body.base_rev;
        try {
          saved = await this.host.api("PUT", `/api/snippets/${c.id}`, body);
        } catch (err2) {
          this.toast("Not saved: " + err2.message, "error");
          return null;
        }
      } else if (err.status === 404) {
        this.toast("This snippet was deleted; choose a title to save it again.", "error");
        this.setCurrent(this.draft(c.title));
        return this.saveAs();
      } else {
        this.toast("Not saved: " + err.message, "error");
        return null;
      }
    }
    this.afterSave(saved, `Saved "${saved.title}" (rev ${saved.rev}).`);
    return saved;
  }

  afterSave(saved, message) {
    this.setCurrent({ kind: "snippet", id: saved.id, title: saved.title, rev: saved.rev, baseline: saved.script, language: saved.language, ...described(saved) });
    this.toast(message);
    this.refresh();
    this.history.refresh(saved.id);
  }

  suggestFields() {
    const c = this.current;
    const kept = { description: c?.description || "", tags: c?.tags || [] };
    if (c && c.kind === "snippet") return { ...kept, title: c.title + " (copy)" };
    if (c && c.kind === "example") return { ...kept, title: c.title };
    if (c && c.kind === "draft" && c.title !== UNTITLED) return { ...kept, title: c.title };
    const m = this.host.getScript().match(/(?:\/\/|\/\*|#)\s*([^\n*]{3,80})/);
    return { ...kept, title: m ? m[1].trim().replace(/[.\s]+$/, "") : "" };
  }

  saveAs() {
    return new Promise((resolve) => {
      this.titleForm.ask("Save as", this.suggestFields(), "Save", async (fields) => {
        let saved;
        try {
          saved = await this.host.api("POST", "/api/snippets", this.snippetBody(fields));
        } catch (err) {
          this.toast("Not saved: " + err.message, "error");
          resolve(null);
          return false;
        }
        this.afterSave(saved, `Saved "${saved.title}".`);
        resolve(saved);
        return true;
      }, () => resolve(null));
    });
  }

  rename(s) {
    this.titleForm.ask("Rename", s, "Rename", async (fields) => {
      let saved;
      try {
        saved = await this.host.api("PUT", `/api/snippets/${s.id}`, fields);
      } catch (err) {
        this.toast("Not renamed: " + err.message, "error");
        return false;
      }
      if (this.current?.kind === "snippet" && this.current.id === s.id) {
        this.setCurrent({ ...this.current, ...described(saved), title: saved.title, rev: saved.rev });
      }
      this.toast(`Renamed to "${saved.title}".`);
      this.refresh();
      return true;
    });
  }
}
