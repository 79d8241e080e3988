// One monitor: drift per feature over its windows as a heatmap, a feature's reference
// distribution beside a window's, realised and estimated performance over time, the
// share of drifted features, and the alerts it raised on a timeline.

import {ApiError, allPages, getJson, newestOnly} from "../api.js";
import {chartCard} from "../chart.js";
import {fill, h, notFound} from "../dom.js";
import * as format from "../format.js";
import {heatmap} from "../heatmap.js";
import {go} from "../nav.js";
import {alertTimeline} from "./alerts.js";
import {TimeChart} from "./deployments.js";

// Series that are not model-quality metrics (alerting/_series.py); every other one is.
const NOT_PERFORMANCE = new Set(["drift_share", "dataset_drift", "feature_drift_score", "prediction_drift_score",
  "missing_rate", "quality_violations", "rows", "labelled_rows", "unlabelled_rows", "p99_latency_ms", "error_rate"]);
const SPANS = [50, 200, 1000]; // windows shown
const NS = "http://www.w3.org/2000/svg";

const monitorUrl = (name) => `/api/v1/monitors/${encodeURIComponent(name)}`;

function svgEl(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

export async function render(root, {params: [name], query, live}) {
  let monitor;
  try {
    monitor = await getJson(monitorUrl(name));
  } catch (error) {
    if (error instanceof ApiError && (error.notFound || error.status === 422)) return notFound(root, `There is no monitor ${name}.`);
    throw error;
  }
  if (!live()) return;
  document.title = `${monitor.name} · Monitors · Shipyard`;
  const span = SPANS.includes(Number(query.get("windows"))) ? Number(query.get("windows")) : SPANS[0];
  const since = monitor.cursor ? monitor.cursor - span * monitor.window_s * 1000 : undefined;
  const points = monitor.cursor ? await allPages("/api/v1/monitoring/series",
    {monitor: monitor.name, since_ms: since, max_results: 10000}, 200000) : [];
  if (!live()) return;

  const series = new Map(); // series name -> [{start, end, value, labels}]
  for (const [, s, start, end, value, labels] of points) {
    if (!series.has(s)) series.set(s, []);
    series.get(s).push({start, end, value, labels});
  }
  const windows = [...new Set(points.map((p) => p[3]))].sort((a, b) => a - b); // window ends
  const drift = series.get("feature_drift_score") || [];
  const features = [...new Set(drift.map((p) => p.labels.feature))].sort();
  const wanted = query.get("feature");
  const state = {feature: features.includes(wanted) ? wanted : features[0] || "", window: windows.length ? windows[windows.length - 1] : null};

  const spanSelect = h("select", {id: "span", "aria-label": "Windows shown",
    onchange: (e) => go(`/monitors/${encodeURIComponent(monitor.name)}`, {windows: e.target.value})},
  SPANS.map((n) => h("option", {value: String(n), selected: n === span}, `Last ${n} windows`)));
  const featureSelect = h("select", {id: "feature", "aria-label": "Feature"},
    features.map((f) => h("option", {value: f, selected: f === state.feature}, f)));
  const windowSelect = h("select", {id: "window", "aria-label": "Window"},
    h("option", {value: "all"}, "All windows shown"),
    [...windows].reverse().map((end) => h("option", {value: String(end), selected: end === state.window},
      `${format.time(end - monitor.window_s * 1000)} – ${format.time(end)}`)));
  const distribution = h("div", {class: "distribution", id: "distribution"});

  // Each pick asks anew; only the newest answer is drawn, so a slow earlier answer (the
  // page's first one, say) never replaces the distribution of a cell clicked since.
  const ask = newestOnly();
  async function showDistribution() {
    if (!state.feature) return;
    const current = ask();
    const q = {feature: state.feature};
    if (state.window === null) {
      if (windows.length) { q.since_ms = windows[0] - 1; q.until_ms = windows[windows.length - 1]; }
    } else {
      q.since_ms = state.window - 1; q.until_ms = state.window;
    }
    const answer = await getJson(`${monitorUrl(monitor.name)}/distribution`, q);
    if (live() && current()) distribution.replaceChildren(distributionChart(answer));
  }
  featureSelect.addEventListener("change", () => { state.feature = featureSelect.value; showDistribution(); });
  windowSelect.addEventListener("change", () => {
    state.window = windowSelect.value === "all" ? null : Number(windowSelect.value); showDistribution();
  });

  const heat = features.length ? heatmap({
    rows: features, columns: windows.map((end) => format.time(end)),
    values: features.map((f) => {
      const byEnd = new Map(drift.filter((p) => p.labels.feature === f).map((p) => [p.end, p.value]));
      return windows.map((end) => byEnd.get(end) ?? null);
    }),
    describe: `Drift score of ${features.length} features over ${windows.length} windows`,
    onPick: (row, column) => {
      state.feature = features[row]; state.window = windows[column];
      featureSelect.value = state.feature; windowSelect.value = String(state.window);
      showDistribution();
    },
  }) : null;

  const charts = h("div", {class: "charts"});
  const timeline = h("div", {id: "alert-timeline"}, h("p", {class: "muted"}, "Loading…"));
  fill(root,
    h("p", {class: "crumbs"}, h("a", {href: "#/monitors"}, "Monitors"), " / "),
    h("h1", {}, monitor.name),
    summary(monitor),
    h("div", {class: "toolbar"}, spanSelect),
    h("h2", {}, "Drift per feature"),
    heat ? heat.figure : h("p", {class: "muted"}, monitor.reference ? "No windows computed yet." : "No reference: drift is not computed."),
    h("h2", {}, "Reference and current distribution"),
    features.length ? [h("div", {class: "toolbar"}, h("label", {}, "Feature ", featureSelect), h("label", {}, "Window ", windowSelect)),
      distribution] : h("p", {class: "muted"}, "No feature drift scores yet."),
    h("h2", {}, "Performance and drift over time"), charts,
    h("h2", {}, "Alerts"), timeline);

  const perf = [...series.keys()].filter((s) => !NOT_PERFORMANCE.has(s)).sort();
  const curve = (s) => ({label: s, points: (series.get(s) || []).map((p) => ({step: p.end / 1000, value: p.value}))});
  const groups = [];
  if (perf.length) groups.push(["Performance (realised and estimated)", perf.map(curve)]);
  if (series.has("drift_share")) groups.push(["Share of drifted features", [curve("drift_share")]]);
  if (series.has("error_rate")) groups.push(["Error rate", [curve("error_rate")]]);
  for (const [title, curves] of groups) {
    const card = chartCard(title);
    charts.append(card.card);
    new TimeChart(card.plot, title, curves, {smoothing: 0, log: false});
  }
  if (!groups.length) charts.replaceChildren(h("p", {class: "muted"}, "No windows computed yet."));

  await Promise.all([
    showDistribution(),
    (async () => {
      const alerts = (await allPages("/api/v1/alerts", {max_results: 1000}, 5000)).filter((a) => a.monitor === monitor.name);
      const history = (await Promise.all(alerts.slice(0, 20).map((a) =>
        getJson("/api/v1/alerts/history", {fingerprint: a.fingerprint, max_results: 200}).then((p) => p.items)))).flat();
      if (live()) timeline.replaceChildren(alertTimeline(alerts, history));
    })(),
  ]);
}

function summary(m) {
  const rows = [["Model", m.model], ["Window", format.duration(1, 1 + m.window_s * 1000)],
    ["Reference", m.reference || "none"], ["Task", m.task || "guessed from the log"],
    ["Label column", m.label_column || "–"], ["Computed up to", m.cursor ? format.time(m.cursor) : "nothing yet"],
    ["Labels applied up to", m.label_watermark ? format.time(m.label_watermark) : "–"], ["Created", format.time(m.created_at)]];
  return h("dl", {class: "summary"}, rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

/** Reference against current: densities over the reference's bins, or category shares side by side. */
export function distributionChart(answer) {
  const {reference, current, feature} = answer;
  const notes = [];
  if (answer.reference_error) notes.push(h("p", {class: "error"}, `Reference unavailable: ${answer.reference_error}`));
  if (!reference && !current) return h("div", {}, notes, h("p", {class: "muted"}, `No distribution of ${feature} in this period.`));
  const kind = (reference || current).kind;
  const width = 640, height = 220, pad = 30;
  const chart = svgEl("svg", {class: "distribution-chart", width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `${feature}: reference against ${answer.windows} window(s)`});
  const shapes = [];
  if (kind === "numeric") {
    // The reference's bins are its quantiles (narrow where values crowd): both sides are spread
    // evenly over BINS equal bins of the reference's range, so their heights compare as densities.
    const BINS = 40;
    const edges = (reference || current).edges;
    const lo = edges[0], hi = edges[edges.length - 1], spanX = hi - lo || 1, binWidth = spanX / BINS;
    const rebin = (side) => {
      if (!side || side.kind !== "numeric" || side.edges.length !== edges.length) return null;
      const out = new Array(BINS).fill(0);
      const total = side.count || 1;
      side.counts.forEach((c, i) => {
        const a = edges[i], b = edges[i + 1];
        if (!c) return;
        if (b <= a) { out[Math.min(BINS - 1, Math.floor((a - lo) / binWidth))] += c / total; return; }
        for (let k = Math.max(0, Math.floor((a - lo) / binWidth)); k < BINS && lo + k * binWidth < b; k += 1) {
          const overlap = Math.min(b, lo + (k + 1) * binWidth) - Math.max(a, lo + k * binWidth);
          if (overlap > 0) out[k] += c / total * overlap / (b - a);
        }
      });
      return out;
    };
    const ref = rebin(reference), cur = rebin(current);
    const top = Math.max(1e-12, ...(ref || []), ...(cur || []));
    const x = (k) => pad + (width - 2 * pad) * k / BINS;
    const y = (d) => height - pad - (height - 2 * pad) * d / top;
    if (ref) {
      ref.forEach((d, k) => shapes.push(svgEl("rect", {x: x(k), y: y(d), width: Math.max(1, x(k + 1) - x(k) - 1),
        height: height - pad - y(d), class: "reference"})));
    }
    if (cur) shapes.push(svgEl("path", {class: "current",
      d: cur.map((d, k) => `${k ? "L" : "M"}${x(k)},${y(d)}H${x(k + 1)}`).join("")}));
    shapes.push(svgEl("text", {x: pad, y: height - 8}, format.metric(lo)),
      svgEl("text", {x: width - pad, y: height - 8, "text-anchor": "end"}, format.metric(hi)));
    const outside = (side) => (side ? (side.below || 0) + (side.above || 0) : 0);
    if (outside(current)) {
      notes.push(h("p", {class: "muted"}, `Current values outside the reference's range: ${current.below} below, ${current.above} above.`));
    }
  } else {
    const share = (side) => {
      const m = new Map();
      if (!side || side.kind !== "categorical") return m;
      const total = side.count || 1;
      for (const [value, count] of side.categories) m.set(String(value), count / total);
      return m;
    };
    const ref = share(reference), cur = share(current);
    const cats = [...new Set([...ref.keys(), ...cur.keys()])].slice(0, 20);
    const top = Math.max(1e-12, ...ref.values(), ...cur.values());
    const step = (width - 2 * pad) / Math.max(1, cats.length);
    cats.forEach((cat, i) => {
      const base = pad + i * step;
      for (const [side, cls, offset] of [[ref, "reference", 0], [cur, "current", 0.45]]) {
        const v = side.get(cat) || 0, barHeight = (height - 2 * pad) * v / top;
        const bar = svgEl("rect", {x: base + offset * step, y: height - pad - barHeight, width: step * 0.42, height: barHeight, class: cls});
        bar.append(svgEl("title", {}, `${cat}: ${format.metric(Number((v * 100).toFixed(2)))} % (${cls})`));
        shapes.push(bar);
      }
      shapes.push(svgEl("text", {x: base + step / 2, y: height - 10, "text-anchor": "middle"},
        cat.length > 12 ? `${cat.slice(0, 11)}…` : cat));
    });
  }
  chart.append(...shapes);
  const count = (side) => (side ? `${side.count} values, ${side.nulls} missing` : "none");
  return h("figure", {class: "distribution-box", dataset: {feature}}, chart,
    h("figcaption", {}, h("span", {class: "swatch reference-swatch"}), `Reference (${count(reference)}) `,
      h("span", {class: "swatch current-swatch"}), `Current: ${answer.windows} window(s) (${count(current)})`),
    notes);
}

