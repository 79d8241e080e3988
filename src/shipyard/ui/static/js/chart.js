// Metric curves with uPlot (vendored: /ui/assets/vendor): zoom by dragging across a
// chart (double-click zooms out), values under the cursor in the legend, exponential
// smoothing and a log scale for every chart of the page at once.

import {getJson, queuedRead} from "./api.js";
import {h} from "./dom.js";
import {metric as formatMetric, plotted} from "./format.js";

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"];
const HEIGHT = 220;
const HISTORY_RUNS = 100; // the most runs one /metric-histories request takes

export const color = (index) => COLORS[index % COLORS.length];

/** Exponential moving average, debiased as TensorBoard does; nulls stay nulls. */
export function smooth(values, weight) {
  if (!weight) return values;
  let last = 0, count = 0;
  return values.map((v) => {
    if (v === null) return null;
    count += 1;
    last = last * weight + (1 - weight) * v;
    return last / (1 - weight ** count);
  });
}

/** Settings shared by every chart of a page, and the controls that change them. */
export class ChartSettings {
  constructor(onChange) {
    this.smoothing = 0;
    this.log = false;
    this.onChange = onChange;
  }

  controls() {
    const shown = h("output", {}, "0");
    return h("div", {class: "chart-controls"},
      h("label", {}, "Smoothing ",
        h("input", {type: "range", min: "0", max: "0.99", step: "0.01", value: "0", name: "smoothing",
          oninput: (e) => { this.smoothing = Number(e.target.value); shown.value = e.target.value; this.onChange("smoothing"); }}),
        " ", shown),
      h("label", {}, h("input", {type: "checkbox", name: "log-scale",
        onchange: (e) => { this.log = e.target.checked; this.onChange("log"); }}), " Log scale"),
      h("span", {class: "muted"}, "Drag across a chart to zoom, double-click to zoom out."));
  }
}

/**
 * One chart of one or more curves: `curves` is [{label, points}] with the API's metric
 * points (step, value).
 */
export class MetricChart {
  constructor(target, title, curves, settings) {
    this.target = target;
    this.title = title;
    this.curves = curves.map((c, i) => ({...c, color: c.color || color(i)}));
    this.settings = settings;
    this.plot = null;
    this.build();
  }

  data() {
    const log = this.settings.log;
    const aligned = window.uPlot.join(this.curves.map((c) => [
      c.points.map((p) => p.step),
      c.points.map((p) => { const v = plotted(p.value); return log && v !== null && v <= 0 ? null : v; }),
    ]));
    const [xs, ...ys] = aligned;
    if (!this.settings.smoothing) return [xs, ...ys];
    return [xs, ...ys.flatMap((raw) => [raw, smooth(raw, this.settings.smoothing)])];
  }

  series() {
    const smoothed = this.settings.smoothing > 0;
    const value = (u, v) => (v === null || v === undefined ? "–" : formatMetric(v));
    return [{label: "step"}, ...this.curves.flatMap((c) => {
      const raw = {label: c.label, stroke: c.color, width: smoothed ? 1 : 1.5, spanGaps: true, value,
        alpha: smoothed ? 0.3 : 1, points: {show: c.points.length < 2}};
      return smoothed ? [raw, {label: `${c.label} (smoothed)`, stroke: c.color, width: 2, spanGaps: true, value}] : [raw];
    })];
  }

  build() {
    if (this.plot) this.plot.destroy();
    const width = Math.max(200, this.target.clientWidth || 400);
    this.plot = new window.uPlot({
      title: this.title, width, height: HEIGHT, series: this.series(),
      scales: {x: {time: false}, y: {distr: this.settings.log ? 3 : 1}},
      axes: [{label: "step"}, {size: 60}],
      cursor: {drag: {x: true, y: false}},
    }, this.data(), this.target);
    this.target.dataset.points = String(this.curves.reduce((n, c) => n + c.points.length, 0));
  }

  /** Redraw after the settings change (smoothing adds series and a log scale changes the axis: a new plot). */
  update() {
    this.build();
  }

  /** Draw other curves (runs overlaid or taken away), keeping the settings. */
  setCurves(curves) {
    this.curves = curves.map((c, i) => ({...c, color: c.color || color(i)}));
    this.build();
  }
}

/** A card holding one chart: sized before its points are asked for, so the server sends one per pixel. */
export function chartCard(title) {
  const plot = h("div", {class: "plot"});
  const card = h("figure", {class: "chart", dataset: {metric: title}, "aria-label": `Chart of ${title}`}, plot);
  return {card, plot, width: () => Math.max(200, plot.clientWidth || 400)};
}

/** One metric of several runs in one request, each downsampled by the server to about `maxPoints`: [points per run]. */
export async function metricHistories(runIds, key, maxPoints) {
  const groups = [];
  for (let i = 0; i < runIds.length; i += HISTORY_RUNS) groups.push(runIds.slice(i, i + HISTORY_RUNS));
  const answers = await Promise.all(groups.map((ids) => queuedRead(() => getJson("/api/v1/metric-histories",
    new URLSearchParams([["key", key], ["max_points", String(Math.max(2, Math.round(maxPoints)))],
      ...ids.map((id) => ["run_id", id])])))));
  return answers.flatMap((a) => a.items);
}
