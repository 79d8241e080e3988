// A run's files: listed, and previewed by kind (text, JSON, images, the head of a CSV).

import {allPages, artifactUrl, call, head, runUrl} from "./api.js";
import {h, table} from "./dom.js";
import * as format from "./format.js";

const TEXT_LIMIT = 64 * 1024; // bytes of a text file shown
const JSON_LIMIT = 1024 * 1024; // a JSON file up to this size is shown indented
const CSV_ROWS = 20;
const IMAGES = {png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg", gif: "image/gif", webp: "image/webp",
  svg: "image/svg+xml", bmp: "image/bmp"};
const TEXTS = new Set(["txt", "log", "md", "py", "yaml", "yml", "toml", "ini", "cfg", "conf", "sh", "sql", "html",
  "xml", "jsonl", "ndjson", "r", "js", "ts", "mlmodel", "requirements", ""]);

const extension = (path) => {
  const name = path.split("/").pop();
  return name.includes(".") ? name.split(".").pop().toLowerCase() : "";
};

/** The artifacts section of a run page. */
export async function artifactsSection(runId) {
  const files = await allPages(`${runUrl(runId)}/artifacts`, {max_results: 1000}, 5000);
  const preview = h("div", {class: "preview", id: "preview"});
  if (!files.length) return h("p", {class: "muted"}, "This run has no artifacts.");
  const list = table(["Path", "Size", ""], files.map((f) => [
    h("td", {}, h("button", {type: "button", class: "link", onclick: () => show(runId, f, preview)}, f.path)),
    h("td", {class: "num"}, format.bytes(f.size)),
    h("td", {}, h("a", {href: artifactUrl(runId, f.path), download: f.path.split("/").pop()}, "download")),
  ]), {class: "grid", id: "artifacts"});
  return h("div", {class: "artifacts"}, h("div", {class: "scroll files"}, list), preview);
}

async function show(runId, file, preview) {
  const kind = extension(file.path);
  preview.replaceChildren(h("h3", {}, file.path), h("p", {class: "muted"}, "Loading…"));
  try {
    preview.replaceChildren(h("h3", {}, file.path), await body(runId, file, kind));
  } catch (error) {
    preview.replaceChildren(h("h3", {}, file.path), h("p", {class: "error"}, error.message));
  }
}

async function body(runId, file, kind) {
  const url = artifactUrl(runId, file.path);
  if (IMAGES[kind]) {
    const blob = await (await call("GET", url)).blob();
    // Typed by its extension, shown as an image: an SVG's scripts never run in an <img>.
    return h("img", {src: URL.createObjectURL(new Blob([blob], {type: IMAGES[kind]})), alt: file.path});
  }
  if (kind === "json" && file.size <= JSON_LIMIT) {
    const text = await (await call("GET", url)).text();
    try {
      return h("pre", {class: "text"}, JSON.stringify(JSON.parse(text), null, 2));
    } catch {
      return h("pre", {class: "text"}, text);
    }
  }
  if (kind === "csv" || kind === "tsv") {
    const {bytes, truncated} = await head(url, TEXT_LIMIT);
    const rows = parseDelimited(new TextDecoder().decode(bytes), kind === "tsv" ? "\t" : ",", truncated);
    const [headers = [], ...rest] = rows.slice(0, CSV_ROWS + 1);
    return h("div", {}, h("div", {class: "scroll"}, table(headers, rest, {class: "grid csv"})),
      h("p", {class: "muted"}, `The first ${rest.length} rows.`));
  }
  if (TEXTS.has(kind) || kind === "json" || file.size <= 4096) {
    const {bytes, truncated} = await head(url, TEXT_LIMIT);
    return h("div", {}, h("pre", {class: "text"}, new TextDecoder().decode(bytes)),
      truncated ? h("p", {class: "muted"}, `The first ${format.bytes(TEXT_LIMIT)} of ${format.bytes(file.size)}.`) : null);
  }
  return h("p", {class: "muted"}, "No preview for this kind of file: download it.");
}

/** Rows of a CSV text (quoted fields with doubled quotes); a cut-off last line is dropped. */
export function parseDelimited(text, separator, truncated) {
  const rows = [];
  let row = [], field = "", quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i += 1; } else if (c === '"') quoted = false; else field += c;
    } else if (c === '"') quoted = true;
    else if (c === separator) { row.push(field); field = ""; }
    else if (c === "\n") { row.push(field.replace(/\r$/, "")); rows.push(row); row = []; field = ""; }
    else field += c;
  }
  if (!truncated && (field || row.length)) { row.push(field); rows.push(row); }
  return rows;
}
