// The script editor: the CodeMirror bundle when it loads, otherwise a plain text area with
// the same interface, so the page stays usable.  Neither compiles: the page does
// (wizard/compile.js) and hands the editor the diagnostics.

const EDITOR_URL = "/static/vendor/editor.js";

/** Same interface as the bundle's createEditor(parent, options). */
function createPlainEditor(parent, options) {
  let language = options.language;
  const area = document.createElement("textarea");
  area.className = "plain-editor";
  area.spellcheck = false;
  area.setAttribute("aria-label", "Script");
  area.value = options.doc;
  parent.append(area);
  area.addEventListener("input", () => options.onChange?.(area.value));
  area.addEventListener("keydown", (ev) => {
    const mod = ev.ctrlKey || ev.metaKey;
    if (mod && ev.key === "Enter") {
      ev.preventDefault();
      options.onRun?.();
    } else if (mod && (ev.key === "s" || ev.key === "S")) {
      ev.preventDefault();
      options.onSave?.();
    } else if (ev.key === "Tab" && !ev.shiftKey && !mod) {
      ev.preventDefault();
      area.setRangeText("    ", area.selectionStart, area.selectionEnd, "end");
      options.onChange?.(area.value);
    }
  });
  const offsetOf = (line, column) => {
    const lines = area.value.split("\n");
    let offset = 0;
    for (let i = 0; i < Math.min(line - 1, lines.length); i++) offset += lines[i].length + 1;
    return offset + Math.max(0, (column || 1) - 1);
  };
  return {
    getText: () => area.value,
    setText(text) {
      area.value = text;
      options.onChange?.(text);
    },
    getLanguage: () => language,
    setLanguage(lang) {
      language = lang;
    },
    setDiagnostics() {}, // the page lists the diagnostics beside the editor
    focus: () => area.focus(),
    revealLine(line, column) {
      const at = offsetOf(line, column);
      area.focus();
      area.setSelectionRange(at, at);
      const lineHeight = parseFloat(getComputedStyle(area).lineHeight) || 18;
      area.scrollTop = Math.max(0, (line - 3) * lineHeight);
    },
    destroy: () => area.remove(),
    plain: true,
  };
}

/** Resolves to an editor in `parent`; `loadError` says why the plain one is used. */
export async function mountEditor(parent, options) {
  try {
    const mod = await import(EDITOR_URL);
    if (typeof mod.createEditor !== "function") throw new Error("editor.js has no createEditor");
    return mod.createEditor(parent, options);
  } catch (err) {
    const editor = createPlainEditor(parent, options);
    editor.loadError = err;
    return editor;
  }
}
