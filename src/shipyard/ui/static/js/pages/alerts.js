// Alerts: the rules, the alerts they raised (firing first) on a timeline, and the
// append-only history, newest first, paged with the API's page tokens; one page per rule.

import {ApiError, allPages, getJson} from "../api.js";
import {fill, h, notFound, table} from "../dom.js";
import * as format from "../format.js";
import {go} from "../nav.js";

const NS = "http://www.w3.org/2000/svg";
const API = "/api/v1/alerts";

function svgEl(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

const labelsText = (labels) => Object.entries(labels || {}).map(([k, v]) => `${k}=${v}`).join(", ");
const stateBadge = (state) => h("span", {class: `status alert-${state}`}, state);
const ruleLink = (name) => h("a", {href: `#/alerts/rules/${encodeURIComponent(name)}`}, name);

/**
 * Alerts on a time axis: one row per alert (rule, monitor, labels), a bar from when it
 * fired to when it resolved (or now), and a mark for each history entry of it.
 */
export function alertTimeline(alerts, history = []) {
  if (!alerts.length) return h("p", {class: "muted"}, "No alerts.");
  const now = Date.now();
  const times = [...alerts.flatMap((a) => [a.started_at, a.resolved_at || now]), ...history.map((e) => e.at)];
  const lo = Math.min(...times), hi = Math.max(...times, lo + 1);
  const rows = alerts.slice(0, 40);
  const label = 240, width = 900, row = 24, height = rows.length * row + 26;
  const x = (t) => label + (width - label - 10) * (t - lo) / (hi - lo);
  const chart = svgEl("svg", {class: "alert-timeline", width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `${alerts.length} alert(s) between ${format.time(lo)} and ${format.time(hi)}`});
  rows.forEach((a, i) => {
    const y = i * row;
    const name = `${a.rule} · ${a.monitor}${Object.keys(a.labels).length ? ` · ${labelsText(a.labels)}` : ""}`;
    chart.append(svgEl("text", {x: 4, y: y + row / 2 + 4, class: "row-label"}, name.length > 36 ? `${name.slice(0, 35)}…` : name));
    const end = a.resolved_at || now;
    const bar = svgEl("rect", {x: x(a.started_at), y: y + 5, width: Math.max(3, x(end) - x(a.started_at)), height: row - 10,
      class: `span ${a.state} severity-${a.severity}`});
    bar.append(svgEl("title", {}, `${name}: ${a.state} since ${format.time(a.started_at)}` +
      `${a.resolved_at ? `, resolved ${format.time(a.resolved_at)}` : ""}; last value ${format.metric(a.last_value)}`));
    chart.append(bar);
    for (const e of history.filter((entry) => entry.fingerprint === a.fingerprint)) {
      const mark = svgEl("circle", {cx: x(e.at), cy: y + row / 2, r: 4, class: `mark ${e.kind}`});
      mark.append(svgEl("title", {}, `${e.kind} at ${format.time(e.at)}${e.value === null ? "" : `: ${format.metric(e.value)}`}`));
      chart.append(mark);
    }
  });
  chart.append(svgEl("text", {x: label, y: height - 6, class: "axis"}, format.time(lo)),
    svgEl("text", {x: width - 10, y: height - 6, "text-anchor": "end", class: "axis"}, format.time(hi)));
  return h("figure", {class: "timeline-box"}, h("div", {class: "scroll", tabindex: "0", role: "region", "aria-label": "Alert timeline"}, chart),
    rows.length < alerts.length ? h("figcaption", {class: "muted"}, `The first ${rows.length} of ${alerts.length} alerts.`) : null);
}

function alertsTable(alerts) {
  return table(["State", "Rule", "Monitor", "Labels", "Severity", "Fired", "Resolved", "Last value", "Times"], alerts.map((a) => [
    stateBadge(a.state), ruleLink(a.rule), h("a", {href: `#/monitors/${encodeURIComponent(a.monitor)}`}, a.monitor),
    labelsText(a.labels), a.severity, format.time(a.started_at), format.time(a.resolved_at),
    h("td", {class: "num"}, format.metric(a.last_value)), h("td", {class: "num"}, String(a.count)),
  ]), {class: "grid", id: "alerts"});
}

/** The history, newest first, a page at a time (the API's tokens), optionally of one rule. */
function historySection(rule, live) {
  const state = {tokens: [null], page: 0, next: null};
  const body = h("div");
  const pager = h("div", {class: "pager"});
  async function load() {
    const token = state.tokens[state.page];
    const page = await getJson(`${API}/history`, {max_results: 50, ...(rule ? {rule} : {}), ...(token ? {page_token: token} : {})});
    if (!live()) return;
    state.next = page.next_page_token || null;
    body.replaceChildren(page.items.length ? table(["When", "What", "Rule", "Monitor", "Labels", "Value", "Notifier", "Detail"],
      page.items.map((e) => [format.time(e.at), h("span", {class: `status history-${e.kind}`}, e.kind), ruleLink(e.rule),
        e.monitor || "", labelsText(e.labels), h("td", {class: "num"}, format.metric(e.value)), e.notifier || "",
        h("td", {class: "value"}, e.detail || "")]), {class: "grid", id: "history"})
      : h("p", {class: "muted"}, "No history yet."));
    fill(pager,
      h("button", {type: "button", disabled: state.page === 0, onclick: () => { state.page -= 1; load(); }}, "← Newer"),
      h("button", {type: "button", disabled: !state.next, onclick: () => {
        state.tokens[state.page + 1] = state.next; state.page += 1; load();
      }}, "Older →"));
  }
  return {section: h("div", {}, body, pager), load};
}

export async function render(root, {query, live}) {
  document.title = "Alerts · Shipyard";
  const stateFilter = query.get("state") || "";
  const [rules, alerts] = await Promise.all([
    allPages(`${API}/rules`, {max_results: 500}, 5000),
    allPages(API, {max_results: 1000, ...(stateFilter ? {state: stateFilter} : {})}, 5000),
  ]);
  if (!live()) return;
  const history = historySection(null, live);
  await history.load();
  const filter = h("select", {id: "alert-state", "aria-label": "Alert state",
    onchange: (e) => go("/alerts", {state: e.target.value})},
  [["", "Firing and resolved"], ["firing", "Firing"], ["resolved", "Resolved"]].map(([value, text]) =>
    h("option", {value, selected: value === stateFilter}, text)));
  fill(root,
    h("h1", {}, "Alerts"),
    h("h2", {}, "Rules"),
    rules.length ? table(["Name", "Condition", "Monitor", "Labels", "Severity", "Notify", "Enabled"], rules.map((r) => [
      ruleLink(r.name), h("code", {}, r.condition), r.monitor, labelsText(r.labels), r.severity, r.notify.join(", "),
      r.enabled ? "yes" : "no",
    ]), {class: "grid", id: "rules"}) : h("p", {class: "muted"}, "No alert rules: shipyard alerts create NAME \"drift_share > 0.3 for 2 windows\""),
    h("h2", {}, "Alerts"),
    h("div", {class: "toolbar"}, filter),
    alertTimeline(alerts),
    alerts.length ? alertsTable(alerts) : null,
    h("h2", {}, "History"),
    history.section);
}

/** One rule: its definition, its alerts on a timeline, its history. */
export async function renderRule(root, {params: [name], live}) {
  let rule;
  try {
    rule = await getJson(`${API}/rules/${encodeURIComponent(name)}`);
  } catch (error) {
    if (error instanceof ApiError && (error.notFound || error.status === 422)) return notFound(root, `There is no alert rule ${name}.`);
    throw error;
  }
  if (!live()) return;
  document.title = `${rule.name} · Alerts · Shipyard`;
  const alerts = await allPages(API, {rule: rule.name, max_results: 1000}, 5000);
  const recent = (await getJson(`${API}/history`, {rule: rule.name, max_results: 500})).items;
  if (!live()) return;
  const history = historySection(rule.name, live);
  await history.load();
  const rows = [["Condition", h("code", {}, rule.condition)], ["Monitor", rule.monitor], ["Labels", labelsText(rule.labels) || "any"],
    ["Severity", rule.severity], ["Notify", rule.notify.join(", ") || "–"],
    ["Repeat every", rule.repeat_interval_ms ? format.duration(0, rule.repeat_interval_ms) : "never"],
    ["Enabled", rule.enabled ? "yes" : "no"], ["Description", rule.description || ""], ["Created", format.time(rule.created_at)]];
  fill(root,
    h("p", {class: "crumbs"}, h("a", {href: "#/alerts"}, "Alerts"), " / "),
    h("h1", {}, rule.name),
    h("dl", {class: "summary"}, rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    h("h2", {}, "Alerts"),
    alertTimeline(alerts, recent),
    alerts.length ? alertsTable(alerts) : null,
    h("h2", {}, "History"),
    history.section);
}
