// An example seen before it is opened: its description and script in a dialog, with Open
// and Open and run; when the editor has unsaved changes the dialog says they will be
// replaced (instead of the browser's own confirm box, which shows nothing of the example).

import { button, el } from "../dom.js";

export class ExamplePreview {
  constructor(lib) {
    this.lib = lib;
    this.dialog = null;
  }

  build() {
    const d = el("dialog", "lib-preview");
    d.setAttribute("aria-labelledby", "lib-preview-title");
    d.addEventListener("close", () => this.lib.host.focusEditor?.());
    document.body.append(d);
    return d;
  }

  show(example) {
    this.dialog ||= this.build();
    const d = this.dialog;
    const title = el("h2", "lib-preview-title", example.title);
    title.id = "lib-preview-title";
    const parts = [title, el("p", "lib-preview-desc", example.description || "")];
    if (example.platform) parts.push(el("p", "lib-preview-platform", `Needs ${example.platform} providers.`));
    parts.push(el("pre", "lib-preview-script", example.script));
    if (this.lib.isDirty()) parts.push(el("p", "lib-preview-warn", "Your unsaved changes in the editor will be replaced."));
    const open = button("Open in the editor", "btn", () => this.choose(example.id, false));
    const run = button("Open and run", "btn btn-primary", () => this.choose(example.id, true));
    const cancel = button("Cancel", "btn", () => d.close());
    const actions = el("div", "lib-preview-actions");
    actions.append(cancel, open, run);
    parts.push(actions);
    d.replaceChildren(...parts);
    d.showModal();
    open.focus();
  }

  async choose(id, run) {
    this.dialog.close();
    if (this.lib.openExample(id, { confirmed: true }) && run) await this.lib.host.runNow();
  }
}
