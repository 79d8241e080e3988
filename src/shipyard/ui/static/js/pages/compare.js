// Runs side by side: which params differ, the latest metrics, and every metric's
// curves overlaid, one colour per run.

import {ApiError, getJson, metricHistory, runUrl} from "../api.js";
import {ChartSettings, MetricChart, chartCard, color} from "../chart.js";
import {fill, h, notFound, table} from "../dom.js";
import * as format from "../format.js";

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
  const paramsTable = sideBySide(runs, "params", (v) => v ?? "");
  paramsTable.id = "params-diff";
  const metricKeys = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].sort();

  fill(root, 
    h("p", {class: "crumbs"}, h("a", {href: "#/"}, "Experiments"), " / "),
    h("h1", {}, `Comparing ${runs.length} runs`),
    missing.length ? h("p", {class: "error"}, `Not found: ${missing.join(", ")}`) : null,
    h("div", {class: "scroll"}, table(["", ...runs.map((r, i) => runHeader(r, i))], [
      ["Status", ...runs.map((r) => r.status)],
      ["Started", ...runs.map((r) => format.time(r.start_time))],
      ["Duration", ...runs.map((r) => format.duration(r.start_time, r.end_time))],
      ["Experiment", ...runs.map((r) => h("a", {href: `#/experiments/${encodeURIComponent(r.experiment_id)}`}, r.experiment_id))],
    ], {class: "grid compare", id: "compare-runs"})),
    h("h2", {}, "Params"),
    h("label", {}, onlyDiffs, " Only the params that differ"),
    h("div", {class: "scroll"}, paramsTable),
    h("h2", {}, "Metrics"),
    h("div", {class: "scroll"}, sideBySide(runs, "metrics", (m) => (m ? format.metric(m.value) : ""))),
    metricKeys.length ? [settings.controls(), chartGrid] : null);

  await Promise.all(metricKeys.map(async (key) => {
    const card = chartCard(key);
    chartGrid.append(card.card);
    const having = runs.map((r, i) => [r, i]).filter(([r]) => r.metrics[key]);
    const curves = await Promise.all(having.map(async ([r, i]) => ({
      label: r.name || r.id, color: color(i), points: await metricHistory(r.id, key, card.width()),
    })));
    if (live()) charts.push(new MetricChart(card.plot, key, curves, settings));
  }));
}

function runHeader(run, index) {
  return h("th", {class: "run-head"}, h("span", {class: "swatch", dataset: {color: String(index % 10)}}),
    h("a", {href: `#/runs/${encodeURIComponent(run.id)}`}, run.name || run.id));
}

/** Rows of every key of `kind` across the runs; a row whose values differ is marked. */
function sideBySide(runs, kind, show) {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r[kind])))].sort();
  if (!keys.length) return h("p", {class: "muted"}, `No ${kind}.`);
  return table(["", ...runs.map((r, i) => runHeader(r, i))], keys.map((key) => {
    const values = runs.map((r) => show(r[kind][key]));
    const differs = new Set(values).size > 1;
    return h("tr", {class: differs ? "differs" : "same"}, h("td", {class: "key"}, key),
      values.map((v) => h("td", {class: kind === "metrics" ? "num" : ""}, v)));
  }), {class: "grid compare"});
}
