// The script library sidebar: saved snippets and shipped examples.
//
// Titles, descriptions and scripts are untrusted text: every node here is built with
// createElement + textContent, never from HTML strings.

const STATE_KEY = "dtrace-ide.library";
const SUFFIX = { d: ".d", bpftrace: ".bt" };
const LANGUAGE_NAME = { d: "D", bpftrace: "bpftrace" };
const TOAST_MS = 8000;
const SEARCH_DELAY_MS = 200;
const DIRTY_POLL_MS = 400;
const UNTITLED = "Unsaved script";
const IMPORT_BATCH_BYTES = 300 * 1024; // under max_request_bytes (512 KiB by default)

let mounted = null;

/** True when the editor holds changes not saved to the open snippet. */
export function isDirty() {
  return mounted ? mounted.isDirty() : false;
}

// --- small DOM helpers ---------------------------------------------------------------------

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function button(label, className, onClick, title) {
  const b = el("button", className ? "lib-btn " + className : "lib-btn", label);
  b.type = "button";
  if (title) {
    b.title = title;
    b.setAttribute("aria-label", title);
  }
  b.addEventListener("click", (ev) => {
    ev.stopPropagation();
    onClick(ev);
  });
  return b;
}

function ensureStylesheet() {
  const href = "/static/css/library.css";
  if (document.querySelector(`link[rel="stylesheet"][href="${href}"]`)) return;
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = href;
  document.head.append(link);
}

function formatWhen(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return d.toLocaleDateString([], { year: "numeric", month: "short", day: "numeric" });
}

function download(filename, text, type) {
  const blob = new Blob([text], { type });
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function fileName(title, language) {
  const base = title.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 80) || "script";
  return base + (SUFFIX[language] || ".txt");
}

function words(text) {
  return (text.toLowerCase().match(/[\p{L}\p{N}_]+/gu) || []);
}

/** `items` in consecutive groups of at most `budget` bytes of JSON (one item at least). */
function batch(items, budget) {
  const encoder = new TextEncoder();
  const out = [];
  let current = [];
  let size = 0;
  for (const item of items) {
    const n = encoder.encode(JSON.stringify(item)).length + 1;
    if (current.length && size + n > budget) {
      out.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += n;
  }
  if (current.length || !out.length) out.push(current);
  return out;
}

function described(s) {
  return { description: s.description || "", tags: Array.isArray(s.tags) ? s.tags : [] };
}

function loadState() {
  try {
    const s = JSON.parse(localStorage.getItem(STATE_KEY) || "null");
    if (s && typeof s === "object" && typeof s.baseline === "string") return s;
  } catch {
    /* a damaged entry is ignored */
  }
  return null;
}

function storeState(current) {
  try {
    if (current) localStorage.setItem(STATE_KEY, JSON.stringify(current));
    else localStorage.removeItem(STATE_KEY);
  } catch {
    /* storage full or disabled: the library still works, only reload memory is lost */
  }
}

/** Run options as the server keeps them: only well-formed values. */
function cleanRunOptions(o) {
  const out = {};
  if (!o || typeof o !== "object") return out;
  for (const key of ["duration", "interval"]) {
    const v = o[key];
    if (typeof v === "number" && Number.isFinite(v) && v >= 0 && !(key === "interval" && v === 0)) out[key] = v;
  }
  if (o.options && typeof o.options === "object") {
    const opts = {};
    for (const [k, v] of Object.entries(o.options)) if (Number.isInteger(v) && v >= 0) opts[k] = v;
    out.options = opts;
  }
  for (const [k, v] of Object.entries(o)) {
    if (k in out || k === "options" || k === "duration" || k === "interval") continue;
    if (/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(k) && (typeof v === "boolean" || v === null)) out[k] = v;
  }
  return out;
}

// --- the sidebar ---------------------------------------------------------------------------

/**
 * Mount the library in `root`.  `host` gives access to the editor and run options:
 * {api, getScript, setScript, getLanguage, setLanguage, getRunOptions, setRunOptions, runNow}.
 * Resolves to {save, saveAs, open, openExample, isDirty, refresh}.
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
    refresh: () => lib.refresh(),
  };
}

class Library {
  constructor(root, host) {
    this.root = root;
    this.host = host;
    this.current = null; // {kind: "snippet"|"example"|"draft", id, title, rev, baseline, language}
    this.snippets = [];
    this.examples = [];
    this.tab = "saved";
    this.query = "";
    this.searchTimer = null;
    this.searchSeq = 0;
    this.dirty = false;
    this.confirmingId = null; // the snippet whose delete awaits a yes or no
    this.revisionsFor = null;
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
    this.saveBtn = button("Save", "lib-primary", () => this.save(), "Save (Ctrl+S)");
    this.saveBtn.textContent = "Save";
    actions.append(
      this.saveBtn,
      button("Save as…", "", () => this.saveAs(), "Save as a new snippet"),
      button("New", "", () => this.newDraft(), "Start a new, unsaved script"),
    );
    head.append(actions);

    this.currentBox = el("div", "lib-current");
    this.currentBox.setAttribute("aria-live", "polite");
    this.currentTitle = el("span", "lib-current-title");
    this.dirtyMark = el("span", "lib-dirty", "●");
    this.dirtyMark.title = "Unsaved changes";
    this.dirtyMark.hidden = true;
    this.currentState = el("span", "lib-current-state muted");
    this.currentBox.append(this.dirtyMark, this.currentTitle, this.currentState);

    this.form = el("form", "lib-form");
    this.form.noValidate = true; // our own message, the same in every browser
    this.form.hidden = true;

    const search = el("div", "lib-search");
    this.searchInput = el("input", "lib-search-input");
    this.searchInput.type = "search";
    this.searchInput.placeholder = "Search titles, descriptions, scripts";
    this.searchInput.setAttribute("aria-label", "Search the library");
    this.searchInput.addEventListener("input", () => this.searchSoon());
    search.append(this.searchInput);

    const tabs = el("div", "lib-tabs");
    tabs.setAttribute("role", "tablist");
    this.tabButtons = {};
    for (const [id, label] of [["saved", "Saved"], ["examples", "Examples"]]) {
      const b = el("button", "lib-tab", label);
      b.type = "button";
      b.setAttribute("role", "tab");
      b.dataset.tab = id;
      b.addEventListener("click", () => this.showTab(id));
      this.tabButtons[id] = b;
      tabs.append(b);
    }

    this.list = el("div", "lib-list");
    this.list.setAttribute("role", "tabpanel");

    this.revisions = el("div", "lib-revisions");
    this.revisions.hidden = true;

    const foot = el("div", "lib-foot");
    this.fileInput = el("input");
    this.fileInput.type = "file";
    this.fileInput.accept = ".d,.bt,.json,application/json,text/plain";
    this.fileInput.multiple = true;
    this.fileInput.hidden = true;
    this.fileInput.addEventListener("change", () => {
      this.importFiles([...this.fileInput.files]);
      this.fileInput.value = "";
    });
    foot.append(
      button("Import…", "", () => this.fileInput.click(), "Import .d, .bt or an exported .json file"),
      button("Export script", "", () => this.exportCurrent(), "Download the editor's script as a file"),
      button("Export all", "", () => this.exportAll(), "Download every saved snippet as one JSON file"),
      this.fileInput,
    );
    const dropHint = el("p", "lib-drop-hint muted", "Drop .d, .bt or .json files here to import them.");

    this.toasts = el("div", "lib-toasts");
    this.toasts.setAttribute("role", "status");
    this.toasts.setAttribute("aria-live", "polite");

    r.append(head, this.currentBox, this.form, search, tabs, this.list, this.revisions, foot, dropHint, this.toasts);

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
      this.importFiles([...(ev.dataTransfer?.files || [])]);
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
    this.showTab("saved");
    const fromUrl = new URLSearchParams(location.search).get("snippet");
    const remembered = loadState();
    if (remembered) this.current = remembered;
    const examples = this.loadExamples();
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
      if (this.tab === "examples") this.renderList();
    }
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
    this.markActive();
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

  // -- lists

  showTab(tab) {
    this.tab = tab;
    for (const [id, b] of Object.entries(this.tabButtons)) {
      b.setAttribute("aria-selected", String(id === tab));
      b.classList.toggle("active", id === tab);
    }
    this.renderList();
  }

  searchSoon() {
    clearTimeout(this.searchTimer);
    this.searchTimer = setTimeout(() => {
      this.query = this.searchInput.value.trim();
      this.refresh();
    }, SEARCH_DELAY_MS);
  }

  async refresh() {
    const seq = ++this.searchSeq;
    const q = this.query ? "?q=" + encodeURIComponent(this.query) : "";
    try {
      const data = await this.host.api("GET", "/api/snippets" + q);
      if (seq !== this.searchSeq) return;
      this.snippets = data.snippets || [];
      this.loadError = null;
    } catch (err) {
      if (seq !== this.searchSeq) return;
      this.snippets = [];
      this.loadError = err.message;
    }
    this.renderList();
  }

  async loadExamples() {
    try {
      const data = await this.host.api("GET", "/api/examples");
      this.examples = data.groups || [];
    } catch (err) {
      this.examples = [];
      this.examplesError = err.message;
    }
    this.renderList();
  }

  renderList() {
    if (this.tab === "saved") this.renderSaved();
    else this.renderExamples();
    this.markActive();
  }

  renderSaved() {
    const list = this.list;
    list.replaceChildren();
    if (this.loadError) {
      list.append(el("p", "lib-empty lib-error", "The library could not be read: " + this.loadError));
      return;
    }
    if (!this.snippets.length) {
      list.append(
        el("p", "lib-empty muted", this.query ? "No saved snippet matches." : "Nothing saved yet. Press Save (Ctrl+S) to keep the editor's script."),
      );
      return;
    }
    const ul = el("ul", "lib-items");
    for (const s of this.snippets) ul.append(this.snippetItem(s));
    list.append(ul);
  }

  snippetItem(s) {
    const li = el("li", "lib-item");
    li.dataset.id = String(s.id);
    const main = el("button", "lib-item-main");
    main.type = "button";
    const top = el("span", "lib-item-top");
    top.append(el("span", "lib-item-title", s.title), el("span", "lib-badge lib-lang-" + s.language, LANGUAGE_NAME[s.language] || s.language));
    main.append(top);
    if (s.description) main.append(el("span", "lib-item-desc", s.description));
    if (s.tags && s.tags.length) {
      const tags = el("span", "lib-tags");
      for (const t of s.tags) tags.append(el("span", "lib-tag", t));
      main.append(tags);
    }
    main.append(el("span", "lib-item-meta muted", `${formatWhen(s.updated)} · rev ${s.rev}`));
    main.title = s.title;
    main.addEventListener("click", () => this.openSnippet(s.id));
    const tools = el("span", "lib-item-tools");
    tools.append(
      button("Rename", "lib-small", () => this.rename(s), "Rename"),
      button("History", "lib-small", () => this.showRevisions(s.id), "Revisions"),
      button("Export", "lib-small", () => this.exportSnippet(s.id), "Download as a file"),
      button("Link", "lib-small", () => this.copyLink(s), "Copy a link that opens this snippet"),
      button("Delete", "lib-small lib-danger", () => this.askDelete(s, li), "Delete"),
    );
    li.append(main, tools);
    // A refresh of the list (a search answering late) must not lose an open confirmation.
    if (this.confirmingId === s.id) this.askDelete(s, li, { focus: false });
    return li;
  }

  exampleMatches(e) {
    if (!this.query) return true;
    const hay = (e.title + "\n" + e.description + "\n" + e.script).toLowerCase();
    return words(this.query).every((w) => hay.includes(w));
  }

  renderExamples() {
    const list = this.list;
    list.replaceChildren();
    if (this.examplesError) {
      list.append(el("p", "lib-empty lib-error", "The examples could not be read: " + this.examplesError));
      return;
    }
    const language = this.host.getLanguage();
    const filter = el("label", "lib-filter");
    const box = el("input");
    box.type = "checkbox";
    box.checked = this.allLanguages === true;
    box.addEventListener("change", () => {
      this.allLanguages = box.checked;
      this.renderExamples();
    });
    filter.append(box, document.createTextNode(" Show both languages"));
    list.append(filter);
    let shown = 0;
    for (const group of this.examples) {
      const items = group.examples.filter((e) => (this.allLanguages || e.language === language) && this.exampleMatches(e));
      if (!items.length) continue;
      shown += items.length;
      const details = el("details", "lib-group");
      details.open = true;
      details.append(el("summary", "lib-group-title", `${group.title} (${items.length})`));
      const ul = el("ul", "lib-items");
      for (const e of items) ul.append(this.exampleItem(e));
      details.append(ul);
      list.append(details);
    }
    if (!shown) list.append(el("p", "lib-empty muted", this.query ? "No example matches." : "No examples for this language."));
  }

  exampleItem(e) {
    const li = el("li", "lib-item lib-example");
    li.dataset.example = e.id;
    const main = el("button", "lib-item-main");
    main.type = "button";
    const top = el("span", "lib-item-top");
    top.append(el("span", "lib-item-title", e.title));
    if (this.allLanguages) top.append(el("span", "lib-badge lib-lang-" + e.language, LANGUAGE_NAME[e.language] || e.language));
    main.append(top, el("span", "lib-item-desc", e.description));
    if (e.platform) {
      const note = el("span", "lib-item-meta lib-platform", `needs ${e.platform} providers`);
      note.title = `This script uses probes that only ${e.platform} provides.`;
      main.append(note);
    }
    main.title = e.description;
    main.addEventListener("click", () => this.openExample(e.id));
    const tools = el("span", "lib-item-tools");
    tools.append(button("▶ Run", "lib-small lib-run", () => this.runExample(e.id), "Open and run now"));
    li.append(main, tools);
    return li;
  }

  markActive() {
    const c = this.current;
    for (const li of this.list.querySelectorAll(".lib-item")) {
      const active =
        !!c &&
        ((c.kind === "snippet" && li.dataset.id === String(c.id)) || (c.kind === "example" && li.dataset.example === c.id));
      li.classList.toggle("active", active);
      if (active) li.setAttribute("aria-current", "true");
      else li.removeAttribute("aria-current");
    }
  }

  findExample(id) {
    for (const g of this.examples) for (const e of g.examples) if (e.id === id) return e;
    return null;
  }

  // -- opening

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
    if (this.revisionsFor !== null) this.showRevisions(s.id);
    return true;
  }

  openExample(id) {
    const e = this.findExample(id);
    if (!e || !this.confirmDiscard()) return false;
    this.load(e.script, e.language, e.options);
    this.setCurrent({ kind: "example", id: e.id, title: e.title, baseline: e.script, language: e.language, description: e.description, tags: [e.group] });
    this.closeRevisions();
    return true;
  }

  async runExample(id) {
    if (this.openExample(id)) await this.host.runNow();
  }

  newDraft() {
    if (!this.confirmDiscard()) return;
    this.host.setScript("");
    this.setCurrent(this.draft());
    this.closeRevisions();
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
    if (this.revisionsFor === saved.id) this.showRevisions(saved.id);
  }

  suggestFields() {
    const c = this.current;
    const described = { description: c?.description || "", tags: c?.tags || [] };
    if (c && c.kind === "snippet") return { ...described, title: c.title + " (copy)" };
    if (c && c.kind === "example") return { ...described, title: c.title };
    if (c && c.kind === "draft" && c.title !== UNTITLED) return { ...described, title: c.title };
    const m = this.host.getScript().match(/(?:\/\/|\/\*|#)\s*([^\n*]{3,80})/);
    return { ...described, title: m ? m[1].trim().replace(/[.\s]+$/, "") : "" };
  }

  saveAs() {
    return new Promise((resolve) => {
      this.askTitle("Save as", this.suggestFields(), "Save", async (fields) => {
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
    this.askTitle("Rename", s, "Rename", async (fields) => {
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

  /** An inline form for title, description and tags; `submit(fields)` resolves true when done. */
  askTitle(heading, initial, verb, submit, cancelled) {
    if (this.closeForm) this.closeForm(true);
    const form = this.form;
    form.replaceChildren();
    const field = (labelText, node) => {
      const label = el("label", "lib-form-label", labelText);
      label.append(node);
      return label;
    };
    const input = el("input", "lib-title-input");
    input.type = "text";
    input.maxLength = 200;
    input.value = initial.title || "";
    input.placeholder = "Title";
    const description = el("textarea", "lib-description-input");
    description.rows = 2;
    description.maxLength = 4000;
    description.value = initial.description || "";
    description.placeholder = "What it shows (optional)";
    const tags = el("input", "lib-tags-input");
    tags.type = "text";
    tags.value = (initial.tags || []).join(", ");
    tags.placeholder = "tags, comma separated (optional)";
    const error = el("p", "lib-form-error");
    error.hidden = true;
    const ok = el("button", "lib-btn lib-primary", verb);
    ok.type = "submit";
    const cancel = button("Cancel", "", () => close(true));
    const row = el("div", "lib-form-row");
    row.append(ok, cancel);
    form.append(el("div", "lib-form-heading", heading), field("Title", input), field("Description", description), field("Tags", tags), error, row);
    form.hidden = false;
    input.focus();
    input.select();
    const close = (isCancel) => {
      this.closeForm = null;
      form.hidden = true;
      form.replaceChildren();
      form.onsubmit = null;
      if (isCancel && cancelled) cancelled();
    };
    this.closeForm = close;
    form.onkeydown = (ev) => {
      if (ev.key === "Escape") close(true);
    };
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      const title = input.value.trim();
      if (!title) {
        error.textContent = "A title is required.";
        error.hidden = false;
        input.focus();
        return;
      }
      const fields = {
        title,
        description: description.value,
        tags: [...new Set(tags.value.split(",").map((t) => t.trim()).filter(Boolean))],
      };
      ok.disabled = true;
      const done = await submit(fields);
      ok.disabled = false;
      if (done) close(false);
    };
  }

  // -- deleting

  askDelete(s, li, { focus = true } = {}) {
    if (li.querySelector(".lib-confirm")) return;
    this.confirmingId = s.id;
    const box = el("div", "lib-confirm");
    box.setAttribute("role", "alertdialog");
    box.append(el("span", "", `Delete "${s.title}"?`));
    const yes = button("Delete", "lib-small lib-danger lib-confirm-yes", () => {
      this.confirmingId = null;
      this.remove(s);
    });
    const no = button("Keep", "lib-small", () => {
      this.confirmingId = null;
      box.remove();
    });
    box.append(yes, no);
    li.append(box);
    if (focus) yes.focus();
  }

  async remove(s) {
    try {
      await this.host.api("DELETE", `/api/snippets/${s.id}`);
    } catch (err) {
      this.toast("Not deleted: " + err.message, "error");
      return;
    }
    const wasCurrent = this.current?.kind === "snippet" && this.current.id === s.id;
    const before = wasCurrent ? this.current : null;
    if (wasCurrent) this.setCurrent(this.draft(s.title));
    if (this.revisionsFor === s.id) this.closeRevisions();
    this.refresh();
    this.toast(`Deleted "${s.title}".`, "info", {
      label: "Undo",
      run: async () => {
        try {
          const back = await this.host.api("POST", `/api/snippets/${s.id}/undelete`);
          if (before && this.current?.kind === "draft") {
            this.setCurrent({ ...before, title: back.title, rev: back.rev, baseline: back.script, language: back.language });
          }
          this.toast(`Restored "${back.title}".`);
          this.refresh();
        } catch (err) {
          this.toast("Could not undo: " + err.message, "error");
        }
      },
    });
  }

  // -- revisions

  closeRevisions() {
    this.revisionsFor = null;
    this.revisions.hidden = true;
    this.revisions.replaceChildren();
  }

  async showRevisions(id) {
    let data;
    try {
      data = await this.host.api("GET", `/api/snippets/${id}/revisions`);
    } catch (err) {
      this.toast("Could not read the history: " + err.message, "error");
      return;
    }
    this.revisionsFor = id;
    const box = this.revisions;
    box.replaceChildren();
    box.hidden = false;
    const head = el("div", "lib-rev-head");
    const title = this.snippets.find((s) => s.id === id)?.title || (this.current?.id === id ? this.current.title : `#${id}`);
    head.append(el("h3", "", `History of "${title}"`), button("×", "lib-close", () => this.closeRevisions(), "Close the history"));
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
      b.addEventListener("click", () => this.previewRevision(id, r.rev, r.rev === data.current, preview, ul));
      li.append(b);
      ul.append(li);
    }
    box.append(head, ul, preview);
  }

  async previewRevision(id, rev, isCurrent, preview, ul) {
    let r;
    try {
      r = await this.host.api("GET", `/api/snippets/${id}/revisions/${rev}`);
    } catch (err) {
      this.toast("Could not read that revision: " + err.message, "error");
      return;
    }
    for (const li of ul.children) li.classList.toggle("active", li.dataset.rev === String(rev));
    preview.replaceChildren();
    preview.append(el("div", "lib-rev-meta muted", `rev ${r.rev} · ${LANGUAGE_NAME[r.language] || r.language} · ${r.title}`));
    preview.append(el("pre", "lib-rev-script", r.script));
    if (!isCurrent) {
      preview.append(button(`Restore rev ${rev}`, "lib-primary lib-restore", () => this.restore(id, rev), "Make this revision current again"));
    }
  }

  async restore(id, rev) {
    const viewing = this.current?.kind === "snippet" && this.current.id === id;
    if (viewing && this.isDirty() && !window.confirm("Restoring replaces the editor's unsaved changes. Go on?")) return;
    let s;
    try {
      s = await this.host.api("POST", `/api/snippets/${id}/revisions/${rev}/restore`);
    } catch (err) {
      this.toast("Not restored: " + err.message, "error");
      return;
    }
    this.load(s.script, s.language, s.options);
    this.setCurrent({ kind: "snippet", id: s.id, title: s.title, rev: s.rev, baseline: s.script, language: s.language, ...described(s) });
    this.toast(`Restored rev ${rev} as rev ${s.rev}.`);
    this.refresh();
    this.showRevisions(id);
  }

  // -- import and export

  async importFiles(files) {
    for (const file of files) {
      const lower = file.name.toLowerCase();
      let text;
      try {
        text = await file.text();
      } catch (err) {
        this.toast(`Could not read ${file.name}: ${err.message}`, "error");
        continue;
      }
      if (lower.endsWith(".json")) {
        await this.importAll(file.name, text);
      } else if (lower.endsWith(".d") || lower.endsWith(".bt")) {
        await this.importScript(file.name, text, lower.endsWith(".bt") ? "bpftrace" : "d");
      } else {
        this.toast(`${file.name}: only .d, .bt and exported .json files can be imported.`, "error");
      }
    }
  }

  async importScript(name, text, language) {
    const title = name.replace(/\.(d|bt)$/i, "") || name;
    let saved;
    try {
      saved = await this.host.api("POST", "/api/snippets", { title, language, script: text, description: `Imported from ${name}` });
    } catch (err) {
      this.toast(`${name} was not imported: ${err.message}`, "error");
      return;
    }
    this.toast(`Imported ${name}.`);
    await this.refresh();
    this.showTab("saved");
    if (this.confirmDiscard()) await this.openSnippet(saved.id, { force: true });
  }

  async importAll(name, text) {
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      this.toast(`${name} is not valid JSON.`, "error");
      return;
    }
    // Big exports go in several requests, each under the server's request size limit.
    const items = Array.isArray(body) ? body : Array.isArray(body?.snippets) ? body.snippets : null;
    const batches = items ? batch(items, IMPORT_BATCH_BYTES) : [null];
    let imported = 0;
    for (const part of batches) {
      const payload = part === null ? body : Array.isArray(body) ? part : { ...body, snippets: part };
      try {
        const r = await this.host.api("POST", "/api/snippets/import", payload);
        imported += r.imported;
      } catch (err) {
        const done = imported ? ` (${imported} imported before the error)` : "";
        this.toast(`${name} was not fully imported${done}: ${err.message}`, "error");
        this.refresh();
        return;
      }
    }
    this.toast(`Imported ${imported} snippet${imported === 1 ? "" : "s"} from ${name}.`);
    this.showTab("saved");
    this.refresh();
  }

  exportCurrent() {
    const title = this.current?.title || "script";
    download(fileName(title, this.host.getLanguage()), this.host.getScript(), "text/plain;charset=utf-8");
  }

  async exportSnippet(id) {
    try {
      const s = await this.host.api("GET", `/api/snippets/${id}`);
      download(fileName(s.title, s.language), s.script, "text/plain;charset=utf-8");
    } catch (err) {
      this.toast("Could not export: " + err.message, "error");
    }
  }

  async exportAll() {
    try {
      const data = await this.host.api("GET", "/api/snippets/export");
      download("dtrace-ide-snippets.json", JSON.stringify(data, null, 2) + "\n", "application/json");
    } catch (err) {
      this.toast("Could not export: " + err.message, "error");
    }
  }

  async copyLink(s) {
    const link = `${location.origin}/?snippet=${s.id}`;
    try {
      await navigator.clipboard.writeText(link);
      this.toast(`Copied a link to "${s.title}".`);
    } catch {
      this.toast(`Link to "${s.title}": ${link}`);
    }
  }

  // -- toasts

  toast(message, kind = "info", action = null) {
    const t = el("div", "lib-toast lib-toast-" + kind);
    t.append(el("span", "lib-toast-text", message));
    const close = () => t.remove();
    if (action) {
      t.append(
        button(action.label, "lib-small lib-toast-action", () => {
          close();
          action.run();
        }),
      );
    }
    t.append(button("×", "lib-close", close, "Dismiss"));
    this.toasts.append(t);
    while (this.toasts.children.length > 4) this.toasts.firstElementChild.remove();
    setTimeout(close, kind === "error" ? TOAST_MS * 2 : TOAST_MS);
  }
}
