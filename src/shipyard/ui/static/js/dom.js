// Building the page from data. Every value is added as text (Node.append of a string,
// textContent): nothing a user logged is ever parsed as HTML.

/** An element: h("a", {href: "#/", class: "x", onclick: f}, "text", child, [more]). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (typeof value !== "string" && key in el) el[key] = value; // checked, disabled, hidden…
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  add(el, children);
  return el;
}

/** Append children (nodes, strings, numbers, nested arrays; null is skipped) as nodes or text. */
export function add(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Replace the children of `el` (arrays are flattened, null and false skipped, strings are text). */
export function fill(el, ...children) {
  el.replaceChildren();
  return add(el, children);
}

/** A table: headers (strings or nodes) and rows of cells (strings, nodes, or {cell, class}). */
export function table(headers, rows, attrs = {}) {
  return h("table", attrs,
    h("thead", {}, h("tr", {}, headers.map((head) => (head instanceof Node && head.tagName === "TH" ? head : h("th", {}, head))))),
    h("tbody", {}, rows.map((row) => row instanceof Node ? row : h("tr", {}, row.map(cell)))));
}

function cell(value) {
  if (value instanceof Node && value.tagName === "TD") return value;
  return h("td", {}, value);
}

/** The section every page kind shows for something that does not exist. */
export function notFound(root, what) {
  document.title = "Not found · Shipyard";
  root.replaceChildren(h("section", {class: "not-found", role: "alert"},
    h("h1", {}, "Not found"),
    h("p", {}, what),
    h("p", {}, h("a", {href: "#/"}, "Back to the experiments"))));
}

/** A section for an error the page cannot recover from. */
export function failure(root, error) {
  root.replaceChildren(h("section", {class: "failure", role: "alert"},
    h("h1", {}, "Something went wrong"),
    h("p", {}, error && error.message ? error.message : String(error))));
}

/** Key/value pairs as a two-column table, sorted by key. */
export function keyValues(entries, empty) {
  const rows = Object.entries(entries || {}).sort(([a], [b]) => a.localeCompare(b));
  if (!rows.length) return h("p", {class: "muted"}, empty);
  return table(["Key", "Value"], rows.map(([key, value]) => [h("td", {class: "key"}, key), h("td", {class: "value"}, value)]),
    {class: "kv"});
}
