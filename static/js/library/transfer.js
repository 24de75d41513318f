// Files in and out of the library: importing .d, .bt and exported .json files (picked or
// dropped), exporting a script or everything, copying a snippet's link.

import { download } from "../export.js";
import { batch, fileName } from "./util.js";

const IMPORT_BATCH_BYTES = 300 * 1024; // under max_request_bytes (512 KiB by default)
const TEXT = "text/plain;charset=utf-8";

export class Transfer {
  constructor(lib) {
    this.lib = lib;
  }

  async importFiles(files) {
    for (const file of files) {
      const lower = file.name.toLowerCase();
      let text;
      try {
        text = await file.text();
      } catch (err) {
        this.lib.toast(`Could not read ${file.name}: ${err.message}`, "error");
        continue;
      }
      if (lower.endsWith(".json")) {
        await this.importAll(file.name, text);
      } else if (lower.endsWith(".d") || lower.endsWith(".bt")) {
        await this.importScript(file.name, text, lower.endsWith(".bt") ? "bpftrace" : "d");
      } else {
        this.lib.toast(`${file.name}: only .d, .bt and exported .json files can be imported.`, "error");
      }
    }
  }

  async importScript(name, text, language) {
    const lib = this.lib;
    const title = name.replace(/\.(d|bt)$/i, "") || name;
    let saved;
    try {
      saved = await lib.host.api("POST", "/api/snippets", { title, language, script: text, description: `Imported from ${name}` });
    } catch (err) {
      lib.toast(`${name} was not imported: ${err.message}`, "error");
      return;
    }
    lib.toast(`Imported ${name}.`);
    await lib.refresh();
    lib.list.showTab("saved");
    if (lib.confirmDiscard()) await lib.openSnippet(saved.id, { force: true });
  }

  async importAll(name, text) {
    const lib = this.lib;
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      lib.toast(`${name} is not valid JSON.`, "error");
      return;
    }
    // Big exports go in several requests, each under the server's request size limit.
    const items = Array.isArray(body) ? body : Array.isArray(body?.snippets) ? body.snippets : null;
    const batches = items ? batch(items, IMPORT_BATCH_BYTES) : [null];
    let imported = 0;
    for (const part of batches) {
      const payload = part === null ? body : Array.isArray(body) ? part : { ...body, snippets: part };
      try {
        const r = await lib.host.api("POST", "/api/snippets/import", payload);
        imported += r.imported;
      } catch (err) {
        const done = imported ? ` (${imported} imported before the error)` : "";
        lib.toast(`${name} was not fully imported${done}: ${err.message}`, "error");
        lib.refresh();
        return;
      }
    }
    lib.toast(`Imported ${imported} snippet${imported === 1 ? "" : "s"} from ${name}.`);
    lib.list.showTab("saved");
    lib.refresh();
  }

  exportCurrent() {
    const title = this.lib.current?.title || "script";
    download(fileName(title, this.lib.host.getLanguage()), this.lib.host.getScript(), TEXT);
  }

  async exportSnippet(id) {
    try {
      const s = await this.lib.host.api("GET", `/api/snippets/${id}`);
      download(fileName(s.title, s.language), s.script, TEXT);
    } catch (err) {
      this.lib.toast("Could not export: " + err.message, "error");
    }
  }

  async exportAll() {
    try {
      const data = await this.lib.host.api("GET", "/api/snippets/export");
      download("dtrace-ide-snippets.json", JSON.stringify(data, null, 2) + "\n", "application/json");
    } catch (err) {
      this.lib.toast("Could not export: " + err.message, "error");
    }
  }

  async copyLink(s) {
    const link = `${location.origin}/?snippet=${s.id}`;
    try {
      await navigator.clipboard.writeText(link);
      this.lib.toast(`Copied a link to "${s.title}".`);
    } catch {
      this.lib.toast(`Link to "${s.title}": ${link}`);
    }
  }
}
