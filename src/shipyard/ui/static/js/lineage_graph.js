// Lineage as a picture: the nodes the API returns ("type:id") laid out in layers, left to right
// in the direction data flows, and drawn as SVG. Each node is a link that re-centres the graph
// on it. The layout is a small layered one (longest path from the sources, then barycentre
// sweeps to untangle each layer): lineage graphs are a few dozen nodes, and a general layout
// library would be many times the size of this page.

import {svg} from "./minicharts.js";

const WIDTH = 180, HEIGHT = 46, GAP_X = 48, GAP_Y = 18, MARGIN = 10, MAX_LABEL = 22;

/** "model_version:churn/3" → {type: "model_version", id: "churn/3"}. */
export function parseNode(text) {
  const at = String(text).indexOf(":");
  return at < 0 ? {type: "", id: String(text)} : {type: text.slice(0, at), id: text.slice(at + 1)};
}

const TYPE_LABELS = {dataset: "Dataset", run: "Run", model_version: "Model version", deployment: "Deployment",
  monitor: "Monitor", feature_view: "Feature view", model: "Model"};

export const typeLabel = (type) => TYPE_LABELS[type] || type.replace(/_/g, " ");

/** The UI page that shows a node's object, or null where there is none. */
export function pageOf(node) {
  const {type, id} = typeof node === "string" ? parseNode(node) : node;
  const split = (sep) => {
    const at = id.lastIndexOf(sep);
    return at > 0 ? [id.slice(0, at), id.slice(at + 1)] : null;
  };
  if (type === "run") return `#/runs/${encodeURIComponent(id)}`;
  if (type === "deployment") return `#/deployments/${encodeURIComponent(id)}`;
  if (type === "monitor") return `#/monitors/${encodeURIComponent(id)}`;
  if (type === "model_version" && split("/")) {
    const [name, version] = split("/");
    return `#/models/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}`;
  }
  if (type === "dataset" && split("@")) {
    const [name, version] = split("@");
    return `#/datasets/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}`;
  }
  return null;
}

/** The lineage page centred on `node` ("type:id"). */
export const lineageHref = (node) => `#/lineage?${new URLSearchParams({node})}`;

/** Every node and distinct edge of an API lineage answer ({root, upstream, downstream}). */
export function graphOf(answer) {
  const nodes = [answer.root], edges = [], seen = new Set();
  for (const edge of [...answer.upstream, ...answer.downstream]) {
    const key = `${edge.src}\u0000${edge.relation}\u0000${edge.dst}`;
    if (seen.has(key)) continue;
    seen.add(key);
    edges.push(edge);
    for (const end of [edge.src, edge.dst]) if (!nodes.includes(end)) nodes.push(end);
  }
  return {nodes, edges};
}

/**
 * Positions: each node's layer is one past the furthest node feeding it (a cycle, which
 * lineage should not have, is cut where it closes), then each layer is ordered by the mean
 * place of its neighbours in the layer before, sweeping down and up a few times.
 */
export function layout(nodes, edges) {
  const ups = new Map(nodes.map((n) => [n, []])), downs = new Map(nodes.map((n) => [n, []]));
  for (const e of edges) {
    if (e.src === e.dst || !ups.has(e.dst) || !ups.has(e.src)) continue;
    ups.get(e.dst).push(e.src);
    downs.get(e.src).push(e.dst);
  }
  const layer = new Map();
  const layerOf = (n, path = new Set()) => {
    if (layer.has(n)) return layer.get(n);
    path.add(n);
    const feeding = ups.get(n).filter((u) => !path.has(u));
    const value = feeding.length ? 1 + Math.max(...feeding.map((u) => layerOf(u, path))) : 0;
    path.delete(n);
    layer.set(n, value);
    return value;
  };
  nodes.forEach((n) => layerOf(n));
  const layers = [];
  for (const n of nodes) (layers[layer.get(n)] ||= []).push(n);
  const place = new Map();
  const number = () => layers.forEach((row) => row.forEach((n, i) => place.set(n, i)));
  number();
  const mean = (list, fallback) => list.length ? list.reduce((s, n) => s + place.get(n), 0) / list.length : fallback;
  for (let sweep = 0; sweep < 4; sweep += 1) {
    const down = sweep % 2 === 0;
    const order = down ? layers.slice(1) : layers.slice(0, -1).reverse();
    for (const row of order) {
      const key = new Map(row.map((n) => [n, mean(down ? ups.get(n) : downs.get(n), place.get(n))]));
      row.sort((a, b) => key.get(a) - key.get(b));
      row.forEach((n, i) => place.set(n, i));
    }
  }
  const tallest = Math.max(...layers.map((row) => row.length));
  const positions = new Map();
  layers.forEach((row, l) => {
    const offset = ((tallest - row.length) * (HEIGHT + GAP_Y)) / 2;
    row.forEach((n, i) => positions.set(n, {x: MARGIN + l * (WIDTH + GAP_X), y: MARGIN + offset + i * (HEIGHT + GAP_Y)}));
  });
  return {positions, width: 2 * MARGIN + layers.length * WIDTH + (layers.length - 1) * GAP_X,
    height: 2 * MARGIN + tallest * HEIGHT + (tallest - 1) * GAP_Y};
}

const cut = (text) => (text.length > MAX_LABEL ? `${text.slice(0, MAX_LABEL - 1)}…` : text);

/** The graph as an SVG element; `root` is drawn as the centre, each node links to `href(node)`. */
export function drawGraph({nodes, edges}, root, href = lineageHref) {
  const {positions, width, height} = layout(nodes, edges);
  const arrows = edges.filter((e) => e.src !== e.dst).map((e) => {
    const a = positions.get(e.src), b = positions.get(e.dst);
    const x1 = a.x + WIDTH, y1 = a.y + HEIGHT / 2, x2 = b.x, y2 = b.y + HEIGHT / 2;
    const bend = Math.max(24, Math.abs(x2 - x1) / 2);
    return svg("g", {class: "edge", "data-src": e.src, "data-dst": e.dst},
      svg("path", {d: `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`, "marker-end": "url(#arrow)"}),
      svg("title", {}, `${e.src} —${e.relation}→ ${e.dst}`));
  });
  const boxes = nodes.map((n) => {
    const {x, y} = positions.get(n);
    const {type, id} = parseNode(n);
    return svg("a", {href: href(n), class: `node node-${type.replace(/[^a-z_]/g, "")}${n === root ? " root" : ""}`,
      "data-node": n, "aria-current": n === root ? "true" : null, "aria-label": `${typeLabel(type)} ${cut(id)}`},
    svg("title", {}, n), // the whole id, where the box shows it cut
    svg("rect", {x, y, width: WIDTH, height: HEIGHT, rx: 6}),
    // One text of two lines, the space between them kept, so what is read is what is shown.
    svg("text", {},
      svg("tspan", {x: x + 10, y: y + 17, class: "type"}, `${typeLabel(type)} `),
      svg("tspan", {x: x + 10, y: y + 35, class: "id"}, cut(id))));
  });
  return svg("svg", {class: "lineage-graph", width, height, viewBox: `0 0 ${width} ${height}`, role: "group",
    "aria-label": `Lineage of ${root}`},
  svg("defs", {}, svg("marker", {id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7,
    orient: "auto-start-reverse"}, svg("path", {d: "M0,0 L10,5 L0,10 z"}))),
  arrows, boxes);
}
