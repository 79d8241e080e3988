// Small SVG charts for a dataset profile: a histogram, top categories as bars, a null-rate
// bar. Every label is SVG text (textContent) and every value a number the chart computes:
// nothing from the data is ever parsed as markup.

import * as format from "./format.js";

const NS = "http://www.w3.org/2000/svg";

/** An SVG element: svg("rect", {x: 1, class: "bar"}, child, "text"). */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

const short = (value, max = 18) => {
  const text = String(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
};

/**
 * A histogram from fixed bin edges (n + 1) and counts (n); values below the first edge and
 * above the last are drawn as their own bars at either end when there are any.
 */
export function histogram({edges, counts, below = 0, above = 0}, {width = 260, height = 90, label = "Histogram"} = {}) {
  const bars = [...(below ? [{count: below, title: `below ${format.metric(edges[0])}`}] : []),
    ...counts.map((count, i) => ({count, title: `${format.metric(edges[i])} – ${format.metric(edges[i + 1])}`})),
    ...(above ? [{count: above, title: `above ${format.metric(edges[edges.length - 1])}`}] : [])];
  const top = Math.max(1, ...bars.map((b) => b.count));
  const plot = height - 16, step = width / Math.max(1, bars.length);
  return svg("svg", {class: "mini histogram", width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": label},
  bars.map((bar, i) => {
    const h = bar.count ? Math.max(1, (bar.count / top) * plot) : 0;
    return svg("rect", {class: "bar", x: (i * step + 0.5).toFixed(1), y: (plot - h).toFixed(1),
      width: Math.max(1, step - 1).toFixed(1), height: h.toFixed(1)}, svg("title", {}, `${bar.title}: ${bar.count}`));
  }),
  svg("line", {class: "axis", x1: 0, x2: width, y1: plot + 0.5, y2: plot + 0.5}),
  svg("text", {x: 0, y: height - 2, class: "tick"}, short(format.metric(edges[0]), 14)),
  svg("text", {x: width, y: height - 2, class: "tick", "text-anchor": "end"},
    short(format.metric(edges[edges.length - 1]), 14)));
}

/** Horizontal bars of the most frequent values: [[value, count], …] out of `total` rows. */
export function categories(top, total, {width = 260, rows = 8, label = "Top categories"} = {}) {
  const shown = top.slice(0, rows);
  const line = 18, labelWidth = 96, room = width - labelWidth - 44;
  const most = Math.max(1, ...shown.map(([, c]) => c));
  return svg("svg", {class: "mini categories", width, height: shown.length * line + 2,
    viewBox: `0 0 ${width} ${shown.length * line + 2}`, role: "img", "aria-label": label},
  shown.map(([value, count], i) => {
    const y = i * line;
    const share = total ? count / total : 0;
    return svg("g", {class: "category"},
      svg("title", {}, `${value}: ${count} (${(share * 100).toFixed(1)}%)`),
      svg("text", {x: labelWidth - 4, y: y + 13, "text-anchor": "end", class: "label"}, short(value, 14)),
      svg("rect", {class: "bar", x: labelWidth, y: y + 3, height: line - 6,
        width: Math.max(1, (count / most) * room).toFixed(1)}),
      svg("text", {x: labelWidth + Math.max(1, (count / most) * room) + 4, y: y + 13, class: "tick"},
        `${(share * 100).toFixed(share < 0.1 ? 1 : 0)}%`));
  }));
}

/** A bar of the share of missing values (nulls and NaN) in a column. */
export function nullRate(fraction, {width = 120} = {}) {
  const share = Math.min(1, Math.max(0, fraction || 0));
  return svg("svg", {class: "mini null-rate", width, height: 10, viewBox: `0 0 ${width} 10`, role: "img",
    "aria-label": `${(share * 100).toFixed(1)}% missing`},
  svg("rect", {class: "track", x: 0, y: 0, width, height: 10}),
  svg("rect", {class: "bar", x: 0, y: 0, width: (share * width).toFixed(1), height: 10}));
}
