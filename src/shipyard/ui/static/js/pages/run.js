// One run: what it is, its params and tags, its metrics as charts, and its artifacts.

import {ApiError, getJson, metricHistory, runUrl} from "../api.js";
import {artifactsSection} from "../artifacts.js";
import {ChartSettings, MetricChart, chartCard} from "../chart.js";
import {fill, h, keyValues, notFound, table} from "../dom.js";
import * as format from "../format.js";

export async function render(root, {params: [runId], live}) {
  let run;
  try {
    run = await getJson(runUrl(runId));
  } catch (error) {
    if (error instanceof ApiError && error.notFound) return notFound(root, `There is no run ${runId}.`);
    throw error;
  }
  if (!live()) return;
  document.title = `${run.name || run.id} · Shipyard`;
  const experimentLink = h("a", {href: `#/experiments/${encodeURIComponent(run.experiment_id)}`}, `Experiment ${run.experiment_id}`);
  const charts = [];
  const settings = new ChartSettings(() => charts.forEach((c) => c.update()));
  const chartGrid = h("div", {class: "charts"});
  const artifacts = h("div", {}, h("p", {class: "muted"}, "Loading…"));
  const metricKeys = Object.keys(run.metrics).sort();

  fill(root, 
    h("p", {class: "crumbs"}, h("a", {href: "#/"}, "Experiments"), " / ", experimentLink, " / "),
    h("h1", {class: "run-name"}, run.name || run.id),
    summary(run),
    h("h2", {}, "Metrics"),
    metricKeys.length ? [metricTable(run), settings.controls(), chartGrid] : h("p", {class: "muted"}, "No metrics logged."),
    h("h2", {}, "Params"), keyValues(run.params, "No params logged."),
    h("h2", {}, "Tags"), keyValues(run.tags, "No tags."),
    h("h2", {}, "Artifacts"), artifacts);

  getJson(`/api/v1/experiments/${encodeURIComponent(run.experiment_id)}`)
    .then((e) => { experimentLink.textContent = e.name; })
    .catch(() => {}); // the id stays as the link's text
  const cards = metricKeys.map((key) => {
    const card = chartCard(key);
    chartGrid.append(card.card);
    return [key, card];
  });
  await Promise.all([
    ...cards.map(async ([key, card]) => {
      const points = await metricHistory(run.id, key, card.width());
      if (live()) charts.push(new MetricChart(card.plot, key, [{label: key, points}], settings));
    }),
    artifactsSection(run.id).then((section) => artifacts.replaceChildren(section)),
  ]);
}

function summary(run) {
  const rows = [
    ["ID", h("code", {}, run.id)],
    ["Status", h("span", {class: `status ${run.status.toLowerCase()}`}, run.status)],
    ["Started", format.time(run.start_time)],
    ["Duration", format.duration(run.start_time, run.end_time) || (run.end_time ? "" : "running")],
    ["User", run.user || ""],
  ];
  if (run.parent_run_id) rows.push(["Parent run", h("a", {href: `#/runs/${encodeURIComponent(run.parent_run_id)}`}, run.parent_run_id)]);
  return h("dl", {class: "summary"}, rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function metricTable(run) {
  const keys = Object.keys(run.metrics).sort();
  return table(["Metric", "Latest", "Step", "Logged"], keys.map((k) => {
    const m = run.metrics[k];
    return [h("td", {class: "key"}, k), h("td", {class: "num"}, format.metric(m.value)), h("td", {class: "num"}, m.step),
      format.time(m.timestamp)];
  }), {class: "kv", id: "metrics"});
}
