// The page's DOM helpers.  Every node is built with createElement and its text set with
// textContent: nothing here (or anywhere in static/js) parses a string as HTML, since keys,
// console lines, snippet titles and messages are untrusted text.

/** `id`'s element in the document (or in `root`). */
export function byId(id, root = document) {
  return root === document ? document.getElementById(id) : root.querySelector("#" + id);
}

/** A new `tag` element with `className` and, unless it is null or undefined, `text`. */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

/** A `type="button"` button; `title` is also its accessible name. */
export function button(label, className, onClick, title) {
  const b = el("button", className, label);
  b.type = "button";
  if (title) {
    b.title = title;
    b.setAttribute("aria-label", title);
  }
  if (onClick) b.addEventListener("click", onClick);
  return b;
}

/** A banner: `message` in bold, `fix` under it, and a × that dismisses it. */
export function bannerNode(kind, message, fix, role = "alert") {
  const node = el("div", "banner banner-" + kind);
  node.setAttribute("role", role);
  const body = el("div", "banner-body");
  body.append(el("strong", "banner-message", message));
  if (fix) body.append(el("div", "banner-fix", fix));
  const close = button("×", "btn-close", () => node.remove());
  close.setAttribute("aria-label", "Dismiss");
  node.append(body, close);
  return node;
}
