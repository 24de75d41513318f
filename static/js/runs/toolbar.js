// The Runs place's toolbar: the search (debounced), the state and language filters, the two
// runs picked to compare (a link to /compare), and Import (POST /api/runs/import).

import { ApiError, csrfToken } from "../api.js";
import { button, el } from "../dom.js";
import { LANGUAGE_NAME } from "../library/util.js";
import { STATE_LABEL } from "../run/run-bar.js";
import { STATES, runTitle } from "./format.js";

const SEARCH_DELAY_MS = 250;

function select(id, label, options) {
  const node = el("select", "runs-filter");
  node.id = id;
  node.setAttribute("aria-label", label);
  for (const [value, text] of options) {
    const option = el("option", "", text);
    option.value = value;
    node.append(option);
  }
  return node;
}

/** POST a file's bytes as they are (an export, gzipped or not); resolves to the Run. */
async function postFile(path, file) {
  let response;
  try {
    response = await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "Content-Type": "application/octet-stream", "X-CSRF-Token": csrfToken },
      body: file,
    });
  } catch (err) {
    throw new ApiError(0, "network", "the server cannot be reached: " + err.message);
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const e = data?.error || {};
    throw new ApiError(response.status, e.code || "http_" + response.status, e.message || response.statusText || "request failed");
  }
  return data;
}

export class RunsToolbar {
  /** `host`: {changed() the filters changed, imported(run), say(text, kind)}. */
  constructor(host) {
    this.host = host;
    this.box = el("div", "runs-toolbar");
    this.box.setAttribute("role", "search");
    this.box.setAttribute("aria-label", "Find runs");
    this.q = el("input", "runs-search");
    this.q.id = "runs-q";
    this.q.type = "search";
    this.q.placeholder = "Search titles and scripts";
    this.q.setAttribute("aria-label", "Search runs by title or script");
    this.q.addEventListener("input", () => {
      clearTimeout(this.typing);
      this.typing = setTimeout(() => host.changed(), SEARCH_DELAY_MS);
    });
    this.q.addEventListener("keydown", (ev) => {
      if (ev.key !== "Enter") return;
      clearTimeout(this.typing);
      host.changed();
    });
    this.state = select("runs-state", "State", [["", "Every state"], ...STATES.map((s) => [s, STATE_LABEL[s] || s])]);
    this.language = select("runs-language", "Language", [["", "Every language"], ...Object.entries(LANGUAGE_NAME)]);
    for (const node of [this.state, this.language]) node.addEventListener("change", () => host.changed());

    this.picked = el("span", "runs-picked muted");
    this.picked.id = "runs-picked";
    this.picked.setAttribute("aria-live", "polite");
    this.compare = el("a", "btn runs-compare", "Compare");
    this.compare.id = "runs-compare";
    this.compare.addEventListener("click", (ev) => {
      if (this.compare.getAttribute("aria-disabled") === "true") ev.preventDefault();
    });

    this.file = el("input");
    this.file.type = "file";
    this.file.accept = ".ndjson,.gz,application/x-ndjson,application/gzip";
    this.file.hidden = true;
    this.file.id = "runs-import-file";
    this.file.addEventListener("change", () => {
      const [chosen] = this.file.files;
      this.file.value = "";
      if (chosen) this.importFile(chosen);
    });
    this.importButton = button("Import…", "btn runs-import", () => this.file.click(), "Import a run exported here or on another box (.ndjson or .ndjson.gz)");
    this.importButton.id = "runs-import";

    this.box.append(this.q, this.state, this.language, el("span", "spacer"), this.picked, this.compare, this.importButton, this.file);
    this.showSelection([]);
  }

  filters() {
    const out = {};
    const q = this.q.value.trim();
    if (q) out.q = q;
    if (this.state.value) out.state = this.state.value;
    if (this.language.value) out.language = this.language.value;
    return out;
  }

  filtering() {
    return Object.keys(this.filters()).length > 0;
  }

  clear() {
    this.q.value = "";
    this.state.value = "";
    this.language.value = "";
    this.host.changed();
    this.q.focus();
  }

  /** The runs picked to compare, older first. */
  showSelection(picked) {
    const ready = picked.length === 2;
    if (ready) {
      const [a, b] = picked;
      this.compare.href = `/compare?a=${encodeURIComponent(a.id)}&b=${encodeURIComponent(b.id)}`;
      this.compare.title = `Compare "${runTitle(a)}" (before) with "${runTitle(b)}" (after)`;
      this.compare.removeAttribute("aria-disabled");
    } else {
      this.compare.removeAttribute("href");
      this.compare.title = "Tick two runs to compare them";
      this.compare.setAttribute("aria-disabled", "true");
    }
    this.compare.classList.toggle("btn-primary", ready);
    this.picked.textContent = ready ? "2 runs picked" : picked.length === 1 ? "Tick one more run to compare" : "Tick two runs to compare";
  }

  async importFile(file) {
    this.importButton.disabled = true;
    this.host.say(`Importing ${file.name}…`);
    try {
      const run = await postFile("/api/runs/import", file);
      await this.host.imported(run);
    } catch (err) {
      const why = err.code === "not_recorded" ? "runs are not recorded on this server (record_runs)" : err.message;
      this.host.say(`${file.name} was not imported: ${why}`, "error");
    } finally {
      this.importButton.disabled = false;
    }
  }
}
