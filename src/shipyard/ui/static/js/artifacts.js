// A run's files, browsed folder by folder and previewed by kind: text, JSON, images, the
// head of a CSV or Parquet table (read by the server), and a model package's manifest
// and signature.

import {allPages, artifactUrl, call, getJson, head, runUrl} from "./api.js";
import {fill, h, keyValues, table} from "./dom.js";
import * as format from "./format.js";

const TEXT_LIMIT = 64 * 1024; // bytes of a text file shown
const JSON_LIMIT = 1024 * 1024; // a JSON file up to this size is shown indented
const TABLE_ROWS = 20;
const IMAGES = {png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg", gif: "image/gif", webp: "image/webp",
  svg: "image/svg+xml", bmp: "image/bmp"};
const TABLES = new Set(["csv", "tsv", "parquet", "pq"]);
const TEXTS = new Set(["txt", "log", "md", "py", "yaml", "yml", "toml", "ini", "cfg", "conf", "sh", "sql", "html",
  "xml", "jsonl", "ndjson", "r", "js", "ts", "mlmodel", "requirements", ""]);
const MANIFEST = "model.yaml";

const extension = (path) => {
  const name = path.split("/").pop();
  return name.includes(".") ? name.split(".").pop().toLowerCase() : "";
};

/** The files and folders directly inside `folder` ("" or "a/b/"), folders first. */
export function entries(files, folder) {
  const folders = new Map(), inside = [];
  for (const f of files) {
    if (!f.path.startsWith(folder)) continue;
    const rest = f.path.slice(folder.length);
    const cut = rest.indexOf("/");
    if (cut < 0) { inside.push(f); continue; }
    const name = rest.slice(0, cut + 1);
    const seen = folders.get(name) || {name, size: 0, count: 0, model: false};
    seen.size += f.size; seen.count += 1;
    seen.model ||= rest === `${name}${MANIFEST}`;
    folders.set(name, seen);
  }
  return {folders: [...folders.values()].sort((a, b) => a.name.localeCompare(b.name)),
    files: inside.sort((a, b) => a.path.localeCompare(b.path))};
}

/** The artifacts section of a run page. */
export async function artifactsSection(runId) {
  const files = await allPages(`${runUrl(runId)}/artifacts`, {max_results: 1000}, 5000);
  if (!files.length) return h("p", {class: "muted"}, "This run has no artifacts.");
  const preview = h("div", {class: "preview", id: "preview", "aria-live": "polite"});
  const listing = h("div", {class: "scroll files"});

  function open(folder) {
    const {folders, files: here} = entries(files, folder);
    const parent = folder ? folder.slice(0, folder.slice(0, -1).lastIndexOf("/") + 1) : null;
    const crumbs = folder.split("/").filter(Boolean);
    fill(listing,
      h("nav", {class: "folder", "aria-label": "Folder"},
        h("button", {type: "button", class: "link", onclick: () => open("")}, "artifacts"),
        crumbs.map((name, i) => [" / ", h("button", {type: "button", class: "link",
          onclick: () => open(`${crumbs.slice(0, i + 1).join("/")}/`)}, name)])),
      table(["Name", "Size", "Actions"], [
        parent !== null ? [h("td", {}, h("button", {type: "button", class: "link", onclick: () => open(parent)}, "../")), "", ""] : null,
        ...folders.map((d) => [
          h("td", {}, h("button", {type: "button", class: "link folder-link", onclick: () => open(folder + d.name)}, d.name)),
          h("td", {class: "num"}, `${format.bytes(d.size)} · ${d.count} files`),
          h("td", {}, d.model ? h("button", {type: "button", class: "link", "aria-label": `Model package ${folder}${d.name}`,
            onclick: () => showModel(runId, `${folder}${d.name}`.replace(/\/$/, ""), preview)}, "model package") : ""),
        ]),
        ...here.map((f) => [
          h("td", {}, h("button", {type: "button", class: "link", "aria-label": f.path,
            onclick: () => show(runId, f, preview)}, f.path.slice(folder.length))),
          h("td", {class: "num"}, format.bytes(f.size)),
          h("td", {}, h("a", {href: artifactUrl(runId, f.path), download: f.path.split("/").pop(),
            "aria-label": `Download ${f.path}`}, "download")),
        ]),
      ].filter(Boolean), {class: "grid", id: "artifacts"}));
  }

  open("");
  const models = [...new Set(files.filter((f) => f.path === MANIFEST || f.path.endsWith(`/${MANIFEST}`))
    .map((f) => f.path.slice(0, -MANIFEST.length).replace(/\/$/, "")))];
  if (models.length === 1) showModel(runId, models[0], preview);
  return h("div", {class: "artifacts"}, listing, preview);
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
  if (TABLES.has(kind)) return tableHead(runId, file);
  if (kind === "json" && file.size <= JSON_LIMIT) {
    const text = await (await call("GET", url)).text();
    try {
      return h("pre", {class: "text", tabindex: "0"}, JSON.stringify(JSON.parse(text), null, 2));
    } catch {
      return h("pre", {class: "text", tabindex: "0"}, text);
    }
  }
  if (TEXTS.has(kind) || kind === "json" || file.size <= 4096) {
    const {bytes, truncated} = await head(url, TEXT_LIMIT);
    return h("div", {}, h("pre", {class: "text", tabindex: "0"}, new TextDecoder().decode(bytes)),
      truncated ? h("p", {class: "muted"}, `The first ${format.bytes(TEXT_LIMIT)} of ${format.bytes(file.size)}.`) : null);
  }
  return h("p", {class: "muted"}, "No preview for this kind of file: download it.");
}

async function tableHead(runId, file) {
  const answer = await getJson(`${runUrl(runId)}/table-head`, {path: file.path, rows: TABLE_ROWS});
  const headers = answer.columns.map((name, i) => h("th", {scope: "col"}, name,
    answer.types ? h("span", {class: "muted type"}, ` ${answer.types[i]}`) : null));
  const shown = answer.rows.map((row) => row.map((v) => h("td", {class: typeof v === "number" ? "num" : ""},
    v === null ? "" : String(v))));
  const total = answer.total_rows === null ? "" : ` of ${answer.total_rows.toLocaleString("en")}`;
  return h("div", {}, h("div", {class: "scroll", tabindex: "0", role: "region", "aria-label": `Head of ${file.path}`},
    table(headers, shown, {class: "grid table-head"})),
  h("p", {class: "muted"}, `The first ${answer.rows.length} rows${total}.`));
}

async function showModel(runId, path, preview) {
  const title = h("h3", {}, `Model package ${path || "(root)"}`);
  preview.replaceChildren(title, h("p", {class: "muted"}, "Loading…"));
  try {
    const {manifest, problem} = await getJson(`${runUrl(runId)}/model-package`, {path});
    preview.replaceChildren(title, problem ? h("p", {class: "error"}, `This manifest does not check: ${problem}`) : null,
      modelView(manifest));
  } catch (error) {
    preview.replaceChildren(title, h("p", {class: "error"}, error.message));
  }
}

/** A model manifest: what it is, what it needs, its signature and its files. */
export function modelView(manifest) {
  const text = (v) => (v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v));
  const about = {
    Flavor: text(manifest.flavor), Framework: `${text(manifest.framework)} ${text(manifest.framework_version)}`.trim(),
    Python: text(manifest.python_version), Created: text(manifest.created_at), "Source run": text(manifest.source_run_id),
    "Input example": text(manifest.input_example),
  };
  const signature = manifest.signature && Array.isArray(manifest.signature.inputs) ? manifest.signature : null;
  const requirements = Array.isArray(manifest.requirements) ? manifest.requirements : [];
  const files = manifest.files && typeof manifest.files === "object" ? manifest.files : {};
  const columns = (specs) => table(["Name", "Type", "Shape"], specs.map((s) => [h("td", {class: "key"}, text(s.name)),
    text(s.dtype) + (s.optional ? " (optional)" : ""), Array.isArray(s.shape) ? `(${s.shape.join(", ")})` : ""]),
  {class: "kv"});
  return h("div", {class: "model-package", id: "model-package"},
    keyValues(about, ""),
    h("h4", {}, "Signature"),
    signature ? [
      h("p", {class: "muted"}, `Kind: ${signature.kind}`),
      h("h5", {}, "Inputs"), columns(signature.inputs),
      h("h5", {}, "Outputs"), Array.isArray(signature.outputs) ? columns(signature.outputs)
        : h("p", {class: "muted"}, "Not recorded."),
    ] : h("p", {class: "muted"}, "No signature recorded."),
    h("h4", {}, "Requirements"),
    requirements.length ? h("ul", {}, requirements.map((r) => h("li", {}, h("code", {}, text(r)))))
      : h("p", {class: "muted"}, "None recorded."),
    h("h4", {}, "Files"),
    table(["Path", "sha256"], Object.entries(files).map(([p, d]) => [h("td", {class: "key"}, p),
      h("td", {class: "key"}, h("code", {}, text(d).slice(0, 12)))]), {class: "kv"}));
}
