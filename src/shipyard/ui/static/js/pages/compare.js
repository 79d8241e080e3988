// Runs side by side: which params differ, the latest metrics, every metric's curves
// overlaid (one colour per run), and the params plotted against a chosen metric in
// parallel coordinates.

import {ApiError, getJson, runUrl} from "../api.js";
import {ChartSettings, MetricChart, chartCard, color, metricHistories} from "../chart.js";
import {fill, h, notFound, table} from "../dom.js";
import * as format from "../format.js";
import {parallelCoordinates} from "../parallel.js";

export async function render(root, {query, live}) {
  const ids = [...new Set((query.get("runs") || "").split(",").filter(Boolean))];
  const found = await Promise.all(ids.map(async (id) => {
    try {
      return await getJson(runUrl(id));
    } catch (error) {
      if (error instanceof ApiError && error.notFound) return null;
      throw error;
    }
  }));
  if (!live()) return;
  const runs = found.filter(Boolean);
  const missing = ids.filter((_, i) => !found[i]);
  if (!runs.length) return notFound(root, ids.length ? `There is no run ${ids.join(", ")}.` : "No runs were chosen to compare.");
  document.title = `Compare ${runs.length} runs · Shipyard`;

  const charts = [];
  const settings = new ChartSettings(() => charts.forEach((c) => c.update()));
  const chartGrid = h("div", {class: "charts"});
  const onlyDiffs = h("input", {type: "checkbox", name: "only-differences", onchange: () => {
    paramsTable.classList.toggle("only-differences", onlyDiffs.checked);
  }});
  const paramsTable = sideBySide(runs, "params", (v) => v ?? "", "params-diff");
  const metricKeys = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].sort();
  const parallel = parallelSection(runs, metricKeys);

  fill(root, 
    h("p", {class: "crumbs"}, h("a", {href: "#/"}, "Experiments"), " / "),
    h("h1", {}, `Comparing ${runs.length} runs`),
    missing.length ? h("p", {class: "error"}, `Not found: ${missing.join(", ")}`) : null,
    h("div", {class: "scroll", tabindex: "0", role: "region", "aria-label": "Runs"}, table([h("th", {}, h("span", {class: "visually-hidden"}, "Run")), ...runs.map((r, i) => runHeader(r, i))], [
      ["Status", ...runs.map((r) => r.status)],
      ["Started", ...runs.map((r) => format.time(r.start_time))],
      ["Duration", ...runs.map((r) => format.duration(r.start_time, r.end_time))],
      ["Experiment", ...runs.map((r) => h("a", {href: `#/experiments/${encodeURIComponent(r.experiment_id)}`}, r.experiment_id))],
    ], {class: "grid compare", id: "compare-runs"})),
    h("h2", {}, "Params"),
    h("label", {}, onlyDiffs, " Only the params that differ"),
    h("div", {class: "scroll", tabindex: "0", role: "region", "aria-label": "Params"}, paramsTable),
    h("h2", {}, "Metrics"),
    h("div", {class: "scroll", tabindex: "0", role: "region", "aria-label": "Latest metrics"},
      sideBySide(runs, "metrics", (m) => (m ? format.metric(m.value) : ""), "metrics-diff")),
    h("h2", {}, "Params against a metric"), parallel,
    h("h2", {}, "Curves"),
    metricKeys.length ? [settings.controls(), chartGrid] : h("p", {class: "muted"}, "No metrics."));

  await Promise.all(metricKeys.map(async (key) => {
    const card = chartCard(key);
    chartGrid.append(card.card);
    const having = runs.map((r, i) => [r, i]).filter(([r]) => r.metrics[key]);
    const histories = await metricHistories(having.map(([r]) => r.id), key, card.width());
    const curves = having.map(([r, i], n) => ({label: r.name || r.id, color: color(i), points: histories[n]}));
    if (live()) charts.push(new MetricChart(card.plot, key, curves, settings));
  }));
}

function runHeader(run, index) {
  return h("th", {class: "run-head"}, h("span", {class: "swatch", dataset: {color: String(index % 10)}}),
    h("a", {href: `#/runs/${encodeURIComponent(run.id)}`}, run.name || run.id));
}

/** Rows of every key of `kind` across the runs; a row whose values differ is marked. */
function sideBySide(runs, kind, show, id) {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r[kind])))].sort();
  if (!keys.length) return h("p", {class: "muted", id}, `No ${kind}.`);
  return table([h("th", {}, kind === "params" ? "Param" : "Metric"), ...runs.map((r, i) => runHeader(r, i))], keys.map((key) => {
    const values = runs.map((r) => show(r[kind][key]));
    const differs = new Set(values).size > 1;
    return h("tr", {class: differs ? "differs" : "same"}, h("td", {class: "key"}, key,
      differs ? h("span", {class: "visually-hidden"}, " (differs)") : null),
    values.map((v) => h("td", {class: kind === "metrics" ? "num" : ""}, v)));
  }), {class: "grid compare", id});
}

/** Every param (the ones that differ first, at most 12) against the chosen metric, one line per run. */
function parallelSection(runs, metricKeys) {
  const paramKeys = [...new Set(runs.flatMap((r) => Object.keys(r.params)))].sort();
  const differing = paramKeys.filter((k) => new Set(runs.map((r) => r.params[k])).size > 1);
  const axes = [...differing, ...paramKeys.filter((k) => !differing.includes(k))].slice(0, 12);
  if (!axes.length || !metricKeys.length) return h("p", {class: "muted"}, "Needs params and metrics to plot.");
  const plot = h("div", {class: "scroll parallel-plot", id: "parallel", tabindex: "0", role: "region",
    "aria-label": "Parallel coordinates"});
  const picker = h("select", {id: "parallel-metric", onchange: () => draw()},
    metricKeys.map((k) => h("option", {value: k}, k)));
  function draw() {
    const metric = picker.value;
    const rows = runs.map((r, i) => ({id: r.id, label: r.name || r.id, color: color(i),
      values: [...axes.map((k) => r.params[k] ?? null), r.metrics[metric] ? numberOf(r.metrics[metric].value) : null]}));
    plot.replaceChildren(parallelCoordinates([...axes, metric], rows, {title: `Params of ${runs.length} runs against ${metric}`}));
  }
  draw();
  return h("div", {}, h("div", {class: "toolbar"}, h("label", {for: "parallel-metric"}, "Metric "), picker), plot);
}

const numberOf = (value) => (typeof value === "number" && Number.isFinite(value) ? value : null);
