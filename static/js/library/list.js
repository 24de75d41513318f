// The library's lists: the Saved and Examples tabs, the search box, the items.

import { el } from "../dom.js";
import { formatWhen, LANGUAGE_NAME, libButton, words } from "./util.js";

const SEARCH_DELAY_MS = 200;

export class LibraryList {
  /** `lib` is the Library: it opens, renames, deletes and runs what is clicked here. */
  constructor(lib) {
    this.lib = lib;
    this.snippets = [];
    this.examples = [];
    this.tab = "saved";
    this.query = "";
    this.searchTimer = null;
    this.searchSeq = 0;
    this.loadError = null;
    this.examplesError = null;
    this.allLanguages = false;

    this.search = el("div", "lib-search");
    this.searchInput = el("input", "lib-search-input");
    this.searchInput.type = "search";
    this.searchInput.placeholder = "Search titles, descriptions, scripts";
    this.searchInput.setAttribute("aria-label", "Search the library");
    this.searchInput.addEventListener("input", () => this.searchSoon());
    this.search.append(this.searchInput);

    this.tabs = el("div", "lib-tabs");
    this.tabs.setAttribute("role", "tablist");
    this.tabButtons = {};
    for (const [id, label] of [["saved", "Saved"], ["examples", "Examples"]]) {
      const b = el("button", "lib-tab", label);
      b.type = "button";
      b.setAttribute("role", "tab");
      b.dataset.tab = id;
      b.addEventListener("click", () => this.showTab(id));
      this.tabButtons[id] = b;
      this.tabs.append(b);
    }

    this.list = el("div", "lib-list");
    this.list.setAttribute("role", "tabpanel");
  }

  showTab(tab) {
    this.tab = tab;
    for (const [id, b] of Object.entries(this.tabButtons)) {
      b.setAttribute("aria-selected", String(id === tab));
      b.classList.toggle("active", id === tab);
    }
    this.render();
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
      const data = await this.lib.host.api("GET", "/api/snippets" + q);
      if (seq !== this.searchSeq) return;
      this.snippets = data.snippets;
      this.loadError = null;
    } catch (err) {
      if (seq !== this.searchSeq) return;
      this.snippets = [];
      this.loadError = err.message;
    }
    this.render();
  }

  async loadExamples() {
    try {
      const data = await this.lib.host.api("GET", "/api/examples");
      this.examples = data.groups;
    } catch (err) {
      this.examples = [];
      this.examplesError = err.message;
    }
    this.render();
  }

  findSnippet(id) {
    return this.snippets.find((s) => s.id === id) || null;
  }

  findExample(id) {
    for (const g of this.examples) for (const e of g.examples) if (e.id === id) return e;
    return null;
  }

  render() {
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
    const lib = this.lib;
    const li = el("li", "lib-item");
    li.dataset.id = String(s.id);
    const main = el("button", "lib-item-main");
    main.type = "button";
    const top = el("span", "lib-item-top");
    top.append(el("span", "lib-item-title", s.title), el("span", "lib-badge lib-lang-" + s.language, LANGUAGE_NAME[s.language]));
    main.append(top);
    if (s.description) main.append(el("span", "lib-item-desc", s.description));
    if (s.tags.length) {
      const tags = el("span", "lib-tags");
      for (const t of s.tags) tags.append(el("span", "lib-tag", t));
      main.append(tags);
    }
    main.append(el("span", "lib-item-meta muted", `${formatWhen(s.updated)} · rev ${s.rev}`));
    main.title = s.title;
    main.addEventListener("click", () => lib.openSnippet(s.id));
    const tools = el("span", "lib-item-tools");
    tools.append(
      libButton("Rename", "lib-small", () => lib.rename(s), "Rename"),
      libButton("History", "lib-small", () => lib.history.show(s.id), "Revisions"),
      libButton("Export", "lib-small", () => lib.transfer.exportSnippet(s.id), "Download as a file"),
      libButton("Link", "lib-small", () => lib.transfer.copyLink(s), "Copy a link that opens this snippet"),
      libButton("Delete", "lib-small lib-danger", () => lib.deleting.ask(s, li), "Delete"),
    );
    li.append(main, tools);
    // A refresh of the list (a search answering late) must not lose an open confirmation.
    if (lib.deleting.confirmingId === s.id) lib.deleting.ask(s, li, { focus: false });
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
    const language = this.lib.host.getLanguage();
    const filter = el("label", "lib-filter");
    const box = el("input");
    box.type = "checkbox";
    box.checked = this.allLanguages;
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
    if (this.allLanguages) top.append(el("span", "lib-badge lib-lang-" + e.language, LANGUAGE_NAME[e.language]));
    main.append(top, el("span", "lib-item-desc", e.description));
    if (e.platform) {
      const note = el("span", "lib-item-meta lib-platform", `needs ${e.platform} providers`);
      note.title = `This script uses probes that only ${e.platform} provides.`;
      main.append(note);
    }
    main.title = e.description;
    main.addEventListener("click", () => this.lib.previewExample(e.id));
    const tools = el("span", "lib-item-tools");
    tools.append(libButton("▶ Run", "lib-small lib-run", () => this.lib.runExample(e.id), "Open and run now"));
    li.append(main, tools);
    return li;
  }

  /** Mark the item open in the editor. */
  markActive() {
    const c = this.lib.current;
    for (const li of this.list.querySelectorAll(".lib-item")) {
      const active =
        !!c &&
        ((c.kind === "snippet" && li.dataset.id === String(c.id)) || (c.kind === "example" && li.dataset.example === c.id));
      li.classList.toggle("active", active);
      if (active) li.setAttribute("aria-current", "true");
      else li.removeAttribute("aria-current");
    }
  }
}
