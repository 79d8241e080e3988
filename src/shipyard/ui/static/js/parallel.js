// A parallel-coordinates plot in SVG: one vertical axis per param and a last one for a
// metric, one line per run across them. Numeric axes are scaled from their least to
// their greatest value; other values are spread evenly in sorted order. A run missing a
// value breaks its line there. Text goes in as text nodes, never as markup.

const NS = "http://www.w3.org/2000/svg";
const HEIGHT = 340, TOP = 48, BOTTOM = 36, SIDE = 70, SPACING = 150;

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) if (value !== null && value !== undefined) el.setAttribute(key, String(value));
  for (const child of children.flat()) if (child !== null && child !== undefined) el.append(child instanceof Node ? child : String(child));
  return el;
}

const numeric = (values) => values.every((v) => v === null || (v !== "" && Number.isFinite(Number(v))));
const shorten = (text, n = 18) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

/** How one axis places its values: y(value) in [TOP, HEIGHT - BOTTOM], and the labels to show. */
export function axisScale(values) {
  const present = values.filter((v) => v !== null);
  const low = TOP, high = HEIGHT - BOTTOM;
  if (present.length && numeric(present)) {
    const nums = present.map(Number);
    const min = Math.min(...nums), max = Math.max(...nums);
    const y = (v) => (max === min ? (low + high) / 2 : high - ((Number(v) - min) / (max - min)) * (high - low));
    const fmt = (n) => String(Number(n.toPrecision(4)));
    const labels = max === min ? [[fmt(min), y(min)]] : [[fmt(max), low], [fmt(min), high]];
    return {y, labels, kind: "number"};
  }
  const categories = [...new Set(present)].sort();
  const step = categories.length > 1 ? (high - low) / (categories.length - 1) : 0;
  const at = new Map(categories.map((c, i) => [c, categories.length > 1 ? high - i * step : (low + high) / 2]));
  return {y: (v) => at.get(v), labels: categories.map((c) => [shorten(c), at.get(c)]), kind: "category"};
}

/**
 * The plot of `runs` over `params` and `metric`: rows is [{label, color, values: [..per axis, null if missing]}],
 * axes is the axis names (the metric last).
 */
export function parallelCoordinates(axes, rows, {title = ""} = {}) {
  const width = SIDE * 2 + SPACING * Math.max(1, axes.length - 1);
  const x = (i) => (axes.length === 1 ? width / 2 : SIDE + i * SPACING);
  const scales = axes.map((_, i) => axisScale(rows.map((r) => r.values[i])));
  const root = svg("svg", {viewBox: `0 0 ${width} ${HEIGHT}`, width, height: HEIGHT, role: "img", class: "parallel",
    "aria-label": title || `Parallel coordinates of ${axes.join(", ")}`, "data-axes": axes.length, "data-lines": rows.length});
  root.append(svg("title", {}, title || `Parallel coordinates of ${axes.join(", ")}`));
  rows.forEach((row) => {
    let d = "", pen = false;
    row.values.forEach((v, i) => {
      const y = v === null ? undefined : scales[i].y(v);
      if (y === undefined) { pen = false; return; }
      d += `${pen ? "L" : "M"}${x(i).toFixed(1)},${y.toFixed(1)} `;
      pen = true;
    });
    const described = axes.map((a, i) => `${a} = ${row.values[i] ?? "–"}`).join(", ");
    root.append(svg("path", {d: d.trim() || "M0,0", class: "line", stroke: row.color, fill: "none", "stroke-width": 2,
      "data-run": row.id}, svg("title", {}, `${row.label}: ${described}`)));
  });
  axes.forEach((name, i) => {
    const metric = i === axes.length - 1;
    root.append(svg("g", {class: metric ? "axis metric" : "axis"},
      svg("line", {x1: x(i), x2: x(i), y1: TOP, y2: HEIGHT - BOTTOM, stroke: "#1d2329"}),
      svg("text", {x: x(i), y: TOP - 22, "text-anchor": "middle", "font-weight": "600"}, shorten(name, 22)),
      scales[i].labels.map(([text, y]) => svg("text", {x: x(i) + 6, y: y + 4, "font-size": 11}, text))));
  });
  return root;
}
