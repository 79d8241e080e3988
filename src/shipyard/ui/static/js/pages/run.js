// One run: what it is, its model metrics and system metrics (`system/…`) as charts that
// other runs of the experiment can be overlaid on, its params and tags, its lineage and
// its artifacts.

import {ApiError, getJson, metricHistory, postJson, runUrl} from "../api.js";
import {artifactsSection} from "../artifacts.js";
import {ChartSettings, MetricChart, chartCard, color, metricHistories} from "../chart.js";
import {fill, h, keyValues, notFound, table} from "../dom.js";
import * as format from "../format.js";
import {go} from "../nav.js";
import {lineageSection} from "./run_lineage.js";

const SYSTEM = "system/";
const CHOICES = 100; // the latest runs of the experiment offered for overlaying
const MAX_OVERLAID = 9; // with this run, one colour each

export async function render(root, {params: [runId], query, live}) {
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
  const keys = Object.keys(run.metrics).sort();
  const modelKeys = keys.filter((k) => !k.startsWith(SYSTEM)), systemKeys = keys.filter((k) => k.startsWith(SYSTEM));
  const overlay = new Overlay(run, (query.get("with") || "").split(",").filter(Boolean), live);
  const charts = new Map(); // metric key → {card, chart}
  const settings = new ChartSettings(() => charts.forEach(({chart}) => chart && chart.update()));
  const modelGrid = h("div", {class: "charts", id: "model-charts"});
  const systemGrid = h("div", {class: "charts", id: "system-charts"});
  const artifacts = h("div", {}, h("p", {class: "muted"}, "Loading…"));
  const lineage = h("div", {}, h("p", {class: "muted"}, "Loading…"));

  async function draw(key) {
    const entry = charts.get(key);
    const curves = await overlay.curves(key, entry.card.width());
    if (!live()) return;
    if (entry.chart) entry.chart.setCurves(curves);
    else entry.chart = new MetricChart(entry.card.plot, key, curves, settings);
  }

  overlay.onChange = () => {
    go(`/runs/${encodeURIComponent(run.id)}`, {with: overlay.ids.join(",")}, {replace: true});
    return Promise.all([...charts.keys()].map(draw));
  };

  fill(root,
    h("p", {class: "crumbs"}, h("a", {href: "#/"}, "Experiments"), " / ", experimentLink, " / "),
    h("h1", {class: "run-name"}, run.name || run.id),
    summary(run),
    h("h2", {}, "Metrics"),
    keys.length ? [metricTable(run, modelKeys, "metrics"), settings.controls(), overlay.controls(), modelGrid]
      : h("p", {class: "muted"}, "No metrics logged."),
    systemKeys.length ? [h("h2", {}, "System metrics"), metricTable(run, systemKeys, "system-metrics"), systemGrid] : null,
    h("h2", {}, "Params"), keyValues(run.params, "No params logged."),
    h("h2", {}, "Tags"), keyValues(run.tags, "No tags."),
    h("h2", {}, "Lineage"), lineage,
    h("h2", {}, "Artifacts"), artifacts);

  getJson(`/api/v1/experiments/${encodeURIComponent(run.experiment_id)}`)
    .then((e) => { experimentLink.textContent = e.name; })
    .catch(() => {}); // the id stays as the link's text
  for (const [grid, group] of [[modelGrid, modelKeys], [systemGrid, systemKeys]]) {
    for (const key of group) {
      const card = chartCard(key);
      grid.append(card.card);
      charts.set(key, {card, chart: null});
    }
  }
  await overlay.loadShown();
  await Promise.all([
    ...[...charts.keys()].map(draw),
    overlay.loadChoices(), // drawn beside the charts: a large experiment's runs never hold them up
    lineageSection(run.id).then((section) => lineage.replaceChildren(section)),
    artifactsSection(run.id).then((section) => artifacts.replaceChildren(section)),
  ]);
}

/** The runs drawn over this run's curves: chosen from the experiment's latest runs, kept in the address. */
class Overlay {
  constructor(run, ids, live) {
    this.run = run;
    this.ids = ids.filter((id) => id !== run.id).slice(0, MAX_OVERLAID);
    this.live = live;
    this.runs = new Map(); // id → run, for the choices and the overlaid
    this.histories = new Map(); // "id\nkey\nwidth" → points
    this.onChange = () => {};
    this.picker = h("select", {id: "overlay-run", "aria-label": "Run to overlay on the charts"});
    this.list = h("ul", {class: "overlaid", "aria-label": "Overlaid runs"});
    this.error = h("p", {class: "error", role: "status"});
  }

  /** The runs the address names as overlaid (one that is gone is dropped). */
  async loadShown() {
    await Promise.all(this.ids.map(async (id) => {
      try { this.runs.set(id, await getJson(runUrl(id))); } catch { /* gone: dropped below */ }
    }));
    this.ids = this.ids.filter((id) => this.runs.has(id));
    this.drawControls();
  }

  /** The experiment's latest runs, offered for overlaying. */
  async loadChoices() {
    try {
      const page = await postJson("/api/v1/runs/search", {experiment_ids: [this.run.experiment_id], max_results: CHOICES,
        order_by: ["attributes.start_time DESC"]});
      if (!this.live()) return;
      page.items.forEach((r) => this.runs.set(r.id, r));
      this.drawControls();
    } catch (error) {
      this.error.textContent = error.message;
    }
  }

  shown() {
    return [this.run, ...this.ids.map((id) => this.runs.get(id))];
  }

  async curves(key, width) {
    const having = this.shown().map((r, i) => [r, i]).filter(([r]) => r.metrics[key]);
    const missing = having.filter(([r]) => !this.histories.has(`${r.id}\n${key}\n${width}`)).map(([r]) => r.id);
    if (missing.length) {
      const fetched = missing.length === 1 ? metricHistory(missing[0], key, width).then((p) => [p])
        : metricHistories(missing, key, width);
      missing.forEach((id, n) => this.histories.set(`${id}\n${key}\n${width}`, fetched.then((all) => all[n])));
    }
    return Promise.all(having.map(async ([r, i]) => ({label: r.name || r.id, color: color(i),
      points: await this.histories.get(`${r.id}\n${key}\n${width}`)})));
  }

  change(ids) {
    this.ids = ids;
    this.drawControls();
    this.onChange().catch((error) => { this.error.textContent = error.message; });
  }

  drawControls() {
    const choices = [...this.runs.values()].filter((r) => r.id !== this.run.id && !this.ids.includes(r.id));
    fill(this.picker, h("option", {value: ""}, choices.length ? "Choose a run…" : "No other runs"),
      choices.map((r) => h("option", {value: r.id}, `${r.name || r.id} (${format.time(r.start_time)})`)));
    fill(this.list, this.ids.map((id, i) => {
      const r = this.runs.get(id);
      return h("li", {}, h("span", {class: "swatch", dataset: {color: String((i + 1) % 10)}}),
        h("a", {href: `#/runs/${encodeURIComponent(id)}`}, r.name || id), " ",
        h("button", {type: "button", class: "link", "aria-label": `Stop overlaying ${r.name || id}`,
          onclick: () => this.change(this.ids.filter((x) => x !== id))}, "remove"));
    }));
  }

  controls() {
    const add = h("button", {type: "button", id: "overlay-add", onclick: () => {
      const id = this.picker.value;
      if (!id) return;
      if (this.ids.length >= MAX_OVERLAID) { this.error.textContent = `At most ${MAX_OVERLAID} runs can be overlaid.`; return; }
      this.error.textContent = "";
      this.change([...this.ids, id]);
    }}, "Overlay");
    return h("div", {class: "overlay"}, h("div", {class: "toolbar"}, this.picker, add), this.list, this.error);
  }
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

function metricTable(run, keys, id) {
  if (!keys.length) return null;
  return table(["Metric", "Latest", "Step", "Logged"], keys.map((k) => {
    const m = run.metrics[k];
    return [h("td", {class: "key"}, k), h("td", {class: "num"}, format.metric(m.value)), h("td", {class: "num"}, m.step),
      format.time(m.timestamp)];
  }), {class: "kv", id});
}
