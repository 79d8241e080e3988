// Deployments: every `shipyard serve` registered in this server's store, what it serves
// where, and its live figures. Each serving process heartbeats a summary of its own
// metrics into the store, so this page reads them through /api/v1/deployments and never
// reaches a serving port; it refreshes every few seconds while it is shown.

import {ApiError, getJson} from "../api.js";
import {MetricChart, chartCard} from "../chart.js";
import {fill, h, notFound, table} from "../dom.js";
import * as format from "../format.js";
import {go} from "../nav.js";

const REFRESH_MS = 2000;
const HISTORY = 300; // samples of the live charts kept while the page is open
const API = "/api/v1/deployments";

const num = (value, digits = 2) => (value === null || value === undefined ? "–" : String(Number(value.toFixed(digits))));
const stateBadge = (state) => h("span", {class: `status deployment-${state}`}, state);

/** "production → v3 (models:/churn@production, 90 %)" for each route of a served model. */
function routesOf(model, figures) {
  const versions = Object.fromEntries((figures?.routes || []).map((r) => [r.route, r.version]));
  const routes = model.routes.map((r) => h("li", {},
    h("strong", {}, r.route), versions[r.route] ? ` → v${versions[r.route]}` : "",
    " ", h("span", {class: "muted"}, `${r.uri}${model.routes.length > 1 ? `, weight ${num(r.weight, 1)}` : ""}`)));
  if (model.shadow) {
    routes.push(h("li", {}, h("strong", {}, model.shadow.route), versions[model.shadow.route] ? ` → v${versions[model.shadow.route]}` : "",
      " ", h("span", {class: "muted"}, `${model.shadow.uri}, shadow of ${num(model.shadow.fraction * 100, 0)} %`)));
  }
  return h("ul", {class: "routes"}, routes);
}

function figuresOf(deployment, name) {
  return (deployment.live?.models || []).find((m) => m.name === name) || null;
}

function latency(figures) {
  const l = figures?.latency_ms;
  return l ? `${num(l.p50)} / ${num(l.p90)} / ${num(l.p99)}` : "–";
}

export async function render(root, {query, live}) {
  document.title = "Deployments · Shipyard";
  const state = {filter: query.get("state") || "", tokens: [null], page: 0, next: null,
    size: Math.min(500, Math.max(1, Math.round(Number(query.get("size")) || 50)))};
  const filter = h("select", {id: "state-filter", "aria-label": "State"},
    [["", "Live and gone"], ["live", "Live"], ["gone", "Gone"]].map(([value, text]) =>
      h("option", {value, selected: value === state.filter}, text)));
  const body = h("div");
  const pager = h("div", {class: "pager"});
  const updated = h("span", {class: "muted", id: "updated"});

  async function load() {
    const q = {max_results: state.size, ...(state.filter ? {state: state.filter} : {}),
      ...(state.tokens[state.page] ? {page_token: state.tokens[state.page]} : {})};
    const page = await getJson(API, q);
    if (!live()) return;
    state.next = page.next_page_token || null;
    draw(page.items);
  }

  function draw(items) {
    const rows = items.flatMap((d) => (d.models.length ? d.models : [{name: "", routes: []}]).map((model, i) => {
      const f = figuresOf(d, model.name);
      return h("tr", {dataset: {deployment: d.id}},
        i === 0 ? h("td", {rowspan: d.models.length || 1}, h("a", {href: `#/deployments/${encodeURIComponent(d.id)}`}, d.url)) : null,
        i === 0 ? h("td", {rowspan: d.models.length || 1}, stateBadge(d.state)) : null,
        h("td", {class: "name"}, model.name),
        h("td", {}, routesOf(model, f)),
        h("td", {class: "num"}, num(f?.requests_per_s)),
        h("td", {class: "num"}, num(f?.errors_per_s)),
        h("td", {class: "num"}, latency(f)),
        h("td", {class: "num"}, num(f?.mean_batch_size, 1)),
        i === 0 ? h("td", {rowspan: d.models.length || 1}, `${d.host} · pid ${d.pid}`, h("br"),
          h("span", {class: "muted"}, `heartbeat ${format.time(d.heartbeat_at)}`)) : null);
    }));
    body.replaceChildren(items.length ? h("div", {class: "scroll", tabindex: "0", role: "region", "aria-label": "Deployments"},
      table(["Server", "State", "Model", "Routes → version now", "Requests/s", "Errors/s", "Latency p50 / p90 / p99 (ms)",
        "Mean batch", "Host"], rows, {class: "grid", id: "deployments"}))
      : h("p", {class: "muted"}, state.filter ? `No ${state.filter} deployments.` :
        "No deployments yet: each shipyard serve that uses this server's metadata store appears here."));
    fill(pager,
      h("button", {type: "button", disabled: state.page === 0, onclick: () => { state.page -= 1; load().catch(show); }}, "← Previous"),
      h("button", {type: "button", disabled: !state.next, onclick: () => {
        state.tokens[state.page + 1] = state.next; state.page += 1; load().catch(show);
      }}, "Next →"));
    updated.textContent = `Updated ${format.time(Date.now())}`;
  }

  const show = (error) => { if (live()) console.warn(error); };
  filter.addEventListener("change", () => {
    state.filter = filter.value; state.tokens = [null]; state.page = 0;
    go("/deployments", {state: state.filter}, {replace: true});
    load().catch(show);
  });
  await load();
  fill(root,
    h("h1", {}, "Deployments"),
    h("p", {class: "muted"}, "Every shipyard serve with this server's metadata store registers itself and sends a heartbeat " +
      "with its own metrics every few seconds; rates are over the last heartbeat interval."),
    h("div", {class: "toolbar"}, h("label", {}, "Show ", filter), updated),
    body, pager);
  const tick = () => {
    if (!live()) return;
    load().catch(show).finally(() => setTimeout(tick, REFRESH_MS));
  };
  setTimeout(tick, REFRESH_MS);
}

/** One deployment: its process, each model's routes and versions, live charts and batch sizes. */
export async function renderOne(root, {params: [id], live}) {
  let deployment;
  try {
    deployment = await getJson(`${API}/${encodeURIComponent(id)}`);
  } catch (error) {
    if (error instanceof ApiError && (error.notFound || (error.status === 422 && error.field === "id"))) {
      return notFound(root, `There is no deployment ${id}.`);
    }
    throw error;
  }
  if (!live()) return;
  document.title = `${deployment.url} · Deployments · Shipyard`;
  const summary = h("dl", {class: "summary"});
  const models = h("div");
  const history = new Map(); // model -> [{at, rps, p50, p99}]
  const charts = new Map();

  function remember(d) {
    for (const f of d.live?.models || []) {
      const points = history.get(f.name) || [];
      if (!points.length || points[points.length - 1].at !== d.live.at) {
        points.push({at: d.live.at, rps: f.requests_per_s, eps: f.errors_per_s, p50: f.latency_ms.p50, p99: f.latency_ms.p99});
      }
      history.set(f.name, points.slice(-HISTORY));
    }
  }

  function drawSummary(d) {
    fill(summary, [["State", stateBadge(d.state)], ["URL", h("code", {}, d.url)], ["Host", d.host], ["Process", String(d.pid)],
      ["Started", format.time(d.started_at)], ["Last heartbeat", format.time(d.heartbeat_at)],
      ["Heartbeat every", `${num(d.interval_ms / 1000, 1)} s`], ["Workers", String(d.live?.workers ?? "–")]]
      .flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
  }

  function drawModels(d) {
    models.replaceChildren(...d.models.map((model) => {
      const f = figuresOf(d, model.name);
      const section = h("section", {class: "served-model", dataset: {model: model.name}},
        h("h2", {}, model.name),
        routesOf(model, f),
        table(["Requests/s", "Errors/s", "Error share", "p50 ms", "p90 ms", "p99 ms", "Mean batch", "Answered", "5xx", "4xx"], [[
          h("td", {class: "num"}, num(f?.requests_per_s)), h("td", {class: "num"}, num(f?.errors_per_s)),
          h("td", {class: "num"}, f?.error_share === null || !f ? "–" : `${num(f.error_share * 100)} %`),
          h("td", {class: "num"}, num(f?.latency_ms.p50)), h("td", {class: "num"}, num(f?.latency_ms.p90)),
          h("td", {class: "num"}, num(f?.latency_ms.p99)), h("td", {class: "num"}, num(f?.mean_batch_size, 1)),
          h("td", {class: "num"}, String(f?.requests_total ?? 0)), h("td", {class: "num"}, String(f?.errors_total ?? 0)),
          h("td", {class: "num"}, String(f?.client_errors_total ?? 0))]], {class: "kv figures"}),
        h("h3", {}, f?.batch_window_s ? `Batch sizes (last ${num(f.batch_window_s, 1)} s)` : "Batch sizes (since start)"),
        batchBars(f?.batch_sizes || []));
      const holder = charts.get(model.name) || {rate: {card: chartCard(`${model.name}: requests per second`)},
        latency: {card: chartCard(`${model.name}: latency (ms)`)}};
      charts.set(model.name, holder);
      section.append(h("div", {class: "charts"}, holder.rate.card.card, holder.latency.card.card));
      return section;
    }));
  }

  function drawCharts() {
    const at = (p) => p.at / 1000;
    for (const [name, holder] of charts) {
      const seen = history.get(name) || [];
      if (!seen.length) continue;
      // One sample (the page just opened): the minute before it frames the axis, drawn as a gap.
      const points = seen.length > 1 ? seen : [{at: seen[0].at - 60000, rps: null, eps: null, p50: null, p99: null}, ...seen];
      const curves = {
        rate: [{label: "requests/s", points: points.map((p) => ({step: at(p), value: p.rps}))},
          {label: "errors/s", points: points.map((p) => ({step: at(p), value: p.eps}))}],
        latency: [{label: "p50", points: points.map((p) => ({step: at(p), value: p.p50}))},
          {label: "p99", points: points.map((p) => ({step: at(p), value: p.p99}))}],
      };
      for (const kind of ["rate", "latency"]) {
        const part = holder[kind];
        if (part.chart) part.chart.plot.destroy();
        part.chart = new TimeChart(part.card.plot, kind === "rate" ? `${name}: requests per second` : `${name}: latency (ms)`,
          curves[kind], {smoothing: 0, log: false});
      }
    }
  }

  remember(deployment);
  drawSummary(deployment);
  drawModels(deployment);
  fill(root,
    h("p", {class: "crumbs"}, h("a", {href: "#/deployments"}, "Deployments"), " / "),
    h("h1", {}, deployment.url),
    summary, models);
  drawCharts();

  const tick = async () => {
    if (!live()) return;
    try {
      const d = await getJson(`${API}/${encodeURIComponent(id)}`);
      if (!live()) return;
      remember(d);
      drawSummary(d);
      drawModels(d);
      drawCharts();
    } catch (error) {
      if (!live()) return;
      if (error instanceof ApiError && error.notFound) {
        summary.replaceChildren(h("dt", {}, "State"), h("dd", {}, "stopped (its registration was removed)"));
        return;
      }
      console.warn(error);
    }
    setTimeout(tick, REFRESH_MS);
  };
  setTimeout(tick, REFRESH_MS);
}

/** Model calls by batch size, as SVG bars (one per bucket that holds calls). */
function batchBars(buckets) {
  if (!buckets.length) return h("p", {class: "muted"}, "No model calls yet.");
  const NS = "http://www.w3.org/2000/svg";
  const el = (tag, attrs, text) => {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const width = 44 * buckets.length + 10, height = 120, top = Math.max(...buckets.map((b) => b.count));
  const chart = el("svg", {class: "batch-sizes", width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `Model calls by batch size: ${buckets.map((b) => `${b.count} of at most ${b.le} rows`).join(", ")}`});
  buckets.forEach((b, i) => {
    const barHeight = Math.max(1, (height - 34) * b.count / top);
    const x = 8 + i * 44;
    const bar = el("rect", {x, y: height - 18 - barHeight, width: 34, height: barHeight, class: "bar"});
    bar.append(el("title", {}, `${b.count} calls of at most ${b.le} rows`));
    chart.append(bar, el("text", {x: x + 17, y: height - 4, "text-anchor": "middle"}, `≤${b.le}`),
      el("text", {x: x + 17, y: height - 22 - barHeight, "text-anchor": "middle"}, String(b.count)));
  });
  return chart;
}

/** A MetricChart whose x axis is time (seconds since the epoch) rather than steps. */
class TimeChart extends MetricChart {
  series() {
    const [, ...rest] = super.series();
    const few = this.curves.every((c) => c.points.filter((p) => p.value !== null).length <= 30);
    return [{label: "time", value: (u, v) => (v === null || v === undefined ? "–" : format.time(v * 1000))},
      ...rest.map((s) => (few ? {...s, points: {show: true, size: 6}} : s))];
  }

  build() {
    if (this.plot) this.plot.destroy();
    const width = Math.max(200, this.target.clientWidth || 400);
    this.plot = new window.uPlot({
      title: this.title, width, height: 220, series: this.series(),
      scales: {x: {time: true}}, axes: [{}, {size: 60}], cursor: {drag: {x: true, y: false}},
    }, this.data(), this.target);
    this.target.dataset.points = String(this.curves.reduce((n, c) => n + c.points.length, 0));
  }
}

export {TimeChart};
