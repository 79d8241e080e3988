// A heatmap on a canvas: one row per name (a feature), one column per window, each cell
// coloured by its value (darker: larger; hatched grey: no value). Pointing at a cell
// shows its value; clicking it calls `onPick(row, column)`. The same choice is offered
// by the page's own labelled controls, so the canvas is a picture for the keyboard.

import {h} from "./dom.js";
import {metric as formatMetric} from "./format.js";

const CELL_MIN = 6, CELL_MAX = 28, ROW = 22, LABEL = 170, AXIS = 22;

/** The colour of `share` in [0, 1]: pale yellow through orange to dark red. */
export function heat(share) {
  const s = Math.max(0, Math.min(1, share));
  const hue = 55 - 55 * s, light = 92 - 52 * s;
  return `hsl(${hue}, 85%, ${light}%)`;
}

/**
 * Draw `values` (rows × columns, null for no value) into a new figure.
 * `rows` are the row names, `columns` the column labels (shown on hover and as the axis ends);
 * `describe` says in words what the picture holds (its accessible name).
 * Returns {figure, canvas, cells}: `cells` is how many cells hold a value.
 */
export function heatmap({rows, columns, values, describe, onPick, max: given}) {
  const finite = values.flat().filter((v) => typeof v === "number" && Number.isFinite(v));
  const max = given || Math.max(1e-12, ...finite);
  const width = Math.max(320, Math.min(1100, LABEL + columns.length * CELL_MAX));
  const cell = Math.max(CELL_MIN, Math.min(CELL_MAX, (width - LABEL) / Math.max(1, columns.length)));
  const canvas = h("canvas", {class: "heatmap", role: "img", "aria-label": describe});
  const ratio = window.devicePixelRatio || 1;
  const cssWidth = LABEL + cell * columns.length, cssHeight = ROW * rows.length + AXIS;
  canvas.width = Math.ceil(cssWidth * ratio);
  canvas.height = Math.ceil(cssHeight * ratio);
  canvas.style.width = `${cssWidth}px`;
  canvas.style.height = `${cssHeight}px`;
  const g = canvas.getContext("2d");
  g.scale(ratio, ratio);
  g.font = "12px system-ui, sans-serif";
  g.textBaseline = "middle";
  let cells = 0;
  rows.forEach((name, r) => {
    g.fillStyle = "#1d2329";
    const label = name.length > 24 ? `${name.slice(0, 23)}…` : name;
    g.fillText(label, 4, r * ROW + ROW / 2); // drawn as pixels: a name is never markup here
    columns.forEach((_, c) => {
      const v = values[r][c];
      const x = LABEL + c * cell, y = r * ROW + 1;
      if (typeof v === "number" && Number.isFinite(v)) {
        g.fillStyle = heat(v / max);
        cells += 1;
      } else {
        g.fillStyle = "#eef0f2";
      }
      g.fillRect(x, y, Math.max(1, cell - 1), ROW - 2);
    });
  });
  g.fillStyle = "#66707a";
  if (columns.length) {
    g.fillText(columns[0], LABEL, rows.length * ROW + AXIS / 2);
    const last = columns[columns.length - 1];
    g.textAlign = "right";
    g.fillText(last, cssWidth - 2, rows.length * ROW + AXIS / 2);
  }
  const tip = h("output", {class: "heatmap-tip muted"}, "Point at a cell for its value; click it to compare distributions.");
  const at = (event) => {
    const box = canvas.getBoundingClientRect();
    const c = Math.floor((event.clientX - box.left - LABEL) / cell), r = Math.floor((event.clientY - box.top) / ROW);
    return r >= 0 && r < rows.length && c >= 0 && c < columns.length ? [r, c] : null;
  };
  canvas.addEventListener("mousemove", (event) => {
    const found = at(event);
    if (!found) return;
    const [r, c] = found;
    const v = values[r][c];
    tip.textContent = `${rows[r]} · ${columns[c]}: ${typeof v === "number" ? formatMetric(v) : "no value"}`;
  });
  if (onPick) {
    canvas.addEventListener("click", (event) => {
      const found = at(event);
      if (found) onPick(...found);
    });
  }
  canvas.dataset.cells = String(cells);
  const legend = h("div", {class: "heatmap-legend"}, h("span", {class: "muted"}, "0"),
    h("span", {class: "heatmap-scale", "aria-hidden": "true"}),
    h("span", {class: "muted"}, formatMetric(max)));
  const scroller = h("div", {class: "scroll", tabindex: "0", role: "region", "aria-label": describe}, canvas);
  const figure = h("figure", {class: "heatmap-box"}, scroller, legend, tip);
  return {figure, canvas, cells};
}
