// The snippet editor dialog: an inline form for title, description and tags (Save as,
// Rename).

import { el } from "../dom.js";
import { libButton } from "./util.js";

export class TitleForm {
  constructor() {
    this.form = el("form", "lib-form");
    this.form.noValidate = true; // our own message, the same in every browser
    this.form.hidden = true;
    this.close = null;
  }

  /** Ask for the fields; `submit(fields)` resolves true when done, `cancelled()` if not. */
  ask(heading, initial, verb, submit, cancelled) {
    if (this.close) this.close(true);
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
    const cancel = libButton("Cancel", "", () => close(true));
    const row = el("div", "lib-form-row");
    row.append(ok, cancel);
    form.append(el("div", "lib-form-heading", heading), field("Title", input), field("Description", description), field("Tags", tags), error, row);
    form.hidden = false;
    input.focus();
    input.select();
    const close = (isCancel) => {
      this.close = null;
      form.hidden = true;
      form.replaceChildren();
      form.onsubmit = null;
      if (isCancel && cancelled) cancelled();
    };
    this.close = close;
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
}
