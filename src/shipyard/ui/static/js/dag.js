// A pipeline's step graph drawn as SVG: one box per node, coloured by its state (the
// colours live in app.css, as dag-node classes), edges from each node to those that read
// its output. Nodes are laid out left to right in layers: a node sits one layer past the
// furthest node it reads from. Every label is SVG text (textContent), never markup.

const NS = "http://www.w3.org/2000/svg";
const WIDTH = 190, HEIGHT = 54, GAP_X = 70, GAP_Y = 22, MARGIN = 12, MAX_LABEL = 24;

/** An SVG element: svg("rect", {x: 1, class: "box"}, child, "text"). */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/**
 * Each node's layer (0: reads from no node) and its place in the layer. `nodes` is a list of
 * {id, upstream: [id]}; an upstream id that names no node is ignored, and a cycle (which a
 * stored graph never has) cannot loop: a node's layer is fixed the first time it is asked.
 */
export function layout(nodes) {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const layer = new Map();
  const layerOf = (id, seen = new Set()) => {
    if (layer.has(id)) return layer.get(id);
    if (seen.has(id)) return 0;
    seen.add(id);
    const ups = (byId.get(id).upstream || []).filter((u) => byId.has(u) && u !== id);
    const value = ups.length ? 1 + Math.max(...ups.map((u) => layerOf(u, seen))) : 0;
    layer.set(id, value);
    return value;
  };
  nodes.forEach((n) => layerOf(n.id));
  const layers = [];
  nodes.forEach((n) => (layers[layer.get(n.id)] ||= []).push(n.id));
  const place = new Map();
  layers.forEach((ids, depth) => {
    if (depth > 0) {
      // Near the nodes it reads from: sort by their mean place (ties keep the graph's order).
      const weight = (id) => {
        const ups = (byId.get(id).upstream || []).filter((u) => place.has(u));
        return ups.length ? ups.reduce((sum, u) => sum + place.get(u), 0) / ups.length : Infinity;
      };
      const order = new Map(ids.map((id, i) => [id, i]));
      ids.sort((a, b) => (weight(a) - weight(b)) || (order.get(a) - order.get(b)));
    }
    ids.forEach((id, i) => place.set(id, i));
  });
  return {layers, layer, place};
}

function short(text) {
  return text.length > MAX_LABEL ? `${text.slice(0, MAX_LABEL - 1)}…` : text;
}

/**
 * The graph as an <svg>. `nodes`: [{id, upstream, state, meta, cacheHit}] where `meta`
 * is the second line (state, duration, cache); `selected` is the id drawn as chosen and
 * `onSelect(id)` is called when a node is clicked or chosen with Enter or Space.
 */
export function dagSvg(nodes, {selected = null, onSelect = null, label = "Step graph"} = {}) {
  const {layers, layer, place} = layout(nodes);
  const tallest = Math.max(1, ...layers.map((ids) => ids.length));
  const width = MARGIN * 2 + layers.length * WIDTH + Math.max(0, layers.length - 1) * GAP_X;
  const height = MARGIN * 2 + tallest * HEIGHT + (tallest - 1) * GAP_Y;
  const at = (id) => {
    const depth = layer.get(id), count = layers[depth].length;
    const offset = ((tallest - count) * (HEIGHT + GAP_Y)) / 2; // each layer centred
    return {x: MARGIN + depth * (WIDTH + GAP_X), y: MARGIN + offset + place.get(id) * (HEIGHT + GAP_Y)};
  };
  const ids = new Set(nodes.map((n) => n.id));
  const edges = [];
  for (const node of nodes) {
    for (const up of new Set(node.upstream || [])) {
      if (!ids.has(up) || up === node.id) continue;
      const from = at(up), to = at(node.id);
      const x1 = from.x + WIDTH, y1 = from.y + HEIGHT / 2, x2 = to.x - 4, y2 = to.y + HEIGHT / 2;
      const bend = Math.max(20, (x2 - x1) / 2);
      edges.push(svg("path", {class: "dag-edge", "marker-end": "url(#dag-arrow)",
        "data-from": up, "data-to": node.id, d: `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`}));
    }
  }
  const boxes = nodes.map((node) => {
    const {x, y} = at(node.id);
    const choose = onSelect ? () => onSelect(node.id) : null;
    const classes = ["dag-node", `state-${node.state || "pending"}`, node.cacheHit ? "cache-hit" : "",
      node.id === selected ? "selected" : ""].filter(Boolean).join(" ");
    return svg("g", {class: classes, transform: `translate(${x},${y})`, "data-node": node.id, "data-state": node.state,
      tabindex: onSelect ? "0" : null, role: onSelect ? "button" : "img", // named by its two lines of text
      "aria-pressed": onSelect ? String(node.id === selected) : null,
      onclick: choose,
      onkeydown: choose ? (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); choose(); } } : null},
    svg("rect", {class: "box", width: WIDTH, height: HEIGHT, rx: 6}),
    svg("text", {class: "name", x: 10, y: 21}, short(node.id)),
    svg("text", {class: "meta", x: 10, y: 41}, node.meta));
  });
  return svg("svg", {class: "dag", width, height, viewBox: `0 0 ${width} ${height}`, role: "group", "aria-label": label},
    svg("defs", {}, svg("marker", {id: "dag-arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7,
      markerHeight: 7, orient: "auto-start-reverse"}, svg("path", {class: "dag-arrow", d: "M0,0 L10,5 L0,10 z"}))),
    svg("g", {class: "edges"}, edges), svg("g", {class: "nodes"}, boxes));
}
