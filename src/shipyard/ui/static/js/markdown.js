// The Markdown the server writes for a model card, drawn as elements: headings, pipe tables,
// paragraphs, `code` and _emphasis_. Every piece of text is added as text, so a value that
// holds markup (a tag, a description) shows as written and never runs.

import {h} from "./dom.js";

/** Inline `code` and _emphasis_ as nodes; the rest as text. */
function inline(text) {
  const out = [];
  const pattern = /`([^`]+)`|(?<![\w])_([^_]+)_(?![\w])/g;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    if (match.index > last) out.push(text.slice(last, match.index));
    out.push(match[1] !== undefined ? h("code", {}, match[1]) : h("em", {}, match[2]));
    last = match.index + match[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/** The cells of a "| a | b |" line; "\|" is a pipe inside a cell. */
function cells(line) {
  const inner = line.trim().replace(/^\|/, "").replace(/\|$/, "");
  return inner.split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, "|"));
}

/** Elements for `text`, the card's headings one level down (its title is the page's to give). */
export function markdown(text) {
  const lines = text.split("\n");
  const out = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    const heading = line.match(/^(#{1,6})\s+(.*)$/);
    if (heading) {
      out.push(h(`h${Math.min(6, heading[1].length + 2)}`, {}, inline(heading[2])));
      i += 1;
    } else if (line.trim().startsWith("|")) {
      const block = [];
      while (i < lines.length && lines[i].trim().startsWith("|")) block.push(lines[i++]);
      const [head, , ...rows] = block;
      out.push(h("table", {class: "kv"},
        h("thead", {}, h("tr", {}, cells(head).map((c) => h("th", {}, inline(c))))),
        h("tbody", {}, rows.map((row) => h("tr", {}, cells(row).map((c) => h("td", {}, inline(c))))))));
    } else if (line.trim()) {
      const para = [];
      while (i < lines.length && lines[i].trim() && !/^#|^\s*\|/.test(lines[i])) para.push(lines[i++]);
      const text = para.join(" ");
      const emphasised = text.match(/^_(.+)_$/); // a whole paragraph in _…_ (the card's placeholders)
      out.push(h("p", {}, emphasised ? h("em", {}, inline(emphasised[1])) : inline(text)));
    } else {
      i += 1;
    }
  }
  return out;
}
