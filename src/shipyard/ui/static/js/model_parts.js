// The parts of a model's page that only show what the registry holds: the promotion policy,
// a version's gate results, its model card and lineage neighbours, and the audit trail.

import {getJson} from "./api.js";
import {h, table} from "./dom.js";
import * as format from "./format.js";
import {lineageHref, pageOf, parseNode, typeLabel} from "./lineage_graph.js";
import {markdown} from "./markdown.js";

export const modelUrl = (name) => `/api/v1/registry/models/${encodeURIComponent(name)}`;
export const versionUrl = (name, version) => `${modelUrl(name)}/versions/${encodeURIComponent(version)}`;

const RULE_FIELDS = {min_metric: ["metric", "threshold", "higher_is_better"], beats_holder: ["metric", "min_delta", "higher_is_better"],
  max_latency: ["p99_ms"], compatible_signature: []};

/** "passed"/"failed" as a badge. */
export const verdict = (passed) => h("span", {class: `status ${passed ? "finished" : "failed"}`}, passed ? "pass" : "fail");

/** The policy: which aliases it guards and each rule's settings. */
export function policyView(policy) {
  if (!policy) return h("p", {class: "muted", id: "policy"}, "No promotion policy: every alias moves freely.");
  return h("div", {id: "policy"},
    h("p", {}, "Guards ", (policy.aliases || []).map((a) => h("span", {class: "tag"}, `@${a}`)),
      " — a move of a guarded alias needs the approver role and must pass every rule."),
    table(["Rule", "Settings"], (policy.rules || []).map((rule) => [
      h("td", {class: "key"}, rule.type),
      (RULE_FIELDS[rule.type] || Object.keys(rule).filter((k) => k !== "type"))
        .map((k) => h("span", {class: "tag"}, `${k} = ${rule[k]}`)),
    ]), {class: "kv"}));
}

/** The checks of a gate report ({rule, passed, detail}) as a table. */
export function checksTable(checks, attrs = {}) {
  return table(["Check", "Result", "Detail"], checks.map((c) => [h("td", {class: "key"}, c.rule), verdict(c.passed),
    h("td", {class: "value"}, c.detail)]), {class: "kv gate-checks", ...attrs});
}

/** How the version fares against each guarded alias's gate, as a move would check it. */
export async function gatesView(name, version) {
  const {items} = await getJson(`${versionUrl(name, version)}/gates`);
  if (!items.length) return h("p", {class: "muted", id: "gates"}, "No promotion policy: no gate to pass.");
  return h("div", {id: "gates"}, items.map((report) => h("section", {class: "gate", dataset: {alias: report.alias}},
    h("h4", {}, `@${report.alias} `, verdict(report.passed), " ",
      h("span", {class: "muted"}, report.holder ? `against the holder, version ${report.holder}` : "no current holder")),
    checksTable(report.checks))));
}

/** The version's model card, drawn from the server's Markdown. */
export async function cardView(name, version) {
  const card = await getJson(`${versionUrl(name, version)}/card`);
  return h("section", {class: "model-card", id: "model-card"}, markdown(card.markdown));
}

function neighbour(node) {
  const {type, id} = parseNode(node);
  const page = pageOf(node);
  return h("li", {}, h("a", {href: page || lineageHref(node)}, `${typeLabel(type)} ${id}`));
}

/** What fed the version and what it fed (one hop), and a link to the whole graph. */
export async function lineageView(name, version) {
  const node = `model_version:${name}/${version}`;
  const answer = await getJson("/api/v1/registry/lineage", {type: "model_version", id: `${name}/${version}`, max_depth: 1});
  const ups = [...new Set(answer.upstream.map((e) => e.src))], downs = [...new Set(answer.downstream.map((e) => e.dst))];
  return h("div", {class: "lineage-links", id: "version-lineage"},
    h("div", {}, h("h4", {}, "Upstream"), ups.length ? h("ul", {}, ups.map(neighbour)) : h("p", {class: "muted"}, "None recorded.")),
    h("div", {}, h("h4", {}, "Downstream"), downs.length ? h("ul", {}, downs.map(neighbour)) : h("p", {class: "muted"}, "None recorded.")),
    h("p", {}, h("a", {href: lineageHref(node), id: "lineage-link"}, "Show the lineage graph")));
}

function change(event) {
  const before = event.before || {}, after = event.after || {};
  if ("alias" in before || "alias" in after) {
    const alias = after.alias || before.alias;
    return `@${alias}: ${before.version ? `v${before.version}` : "none"} → ${event.after ? `v${after.version}` : "removed"}`;
  }
  const brief = (value) => {
    const text = value === null || value === undefined ? "none" : JSON.stringify(value);
    return text.length > 80 ? `${text.slice(0, 79)}…` : text;
  };
  return event.before || event.after ? `${brief(event.before)} → ${brief(event.after)}` : "";
}

/** The audit trail, oldest first, a page at a time. */
export function auditView(name) {
  const rows = h("tbody");
  const more = h("button", {type: "button", id: "audit-more", hidden: true}, "Older entries…");
  const box = h("div", {id: "audit"},
    h("table", {class: "grid"}, h("thead", {}, h("tr", {}, ["When", "Actor", "Action", "Entity", "Change", "Reason", ""]
      .map((c) => h("th", {}, c)))), rows), more);
  let token = null;
  async function load() {
    const page = await getJson(`${modelUrl(name)}/history`, token ? {max_results: 50, page_token: token} : {max_results: 50});
    token = page.next_page_token || null;
    more.hidden = !token;
    rows.append(...page.items.map((e) => h("tr", {dataset: {action: e.action}},
      h("td", {}, format.time(e.at)), h("td", {}, e.actor || ""), h("td", {}, e.action),
      h("td", {class: "key"}, `${e.entity_type} ${e.entity_id}`), h("td", {class: "value"}, change(e)),
      h("td", {class: "value"}, e.reason || ""), h("td", {}, e.forced ? h("span", {class: "status failed"}, "forced") : ""))));
    if (!rows.children.length) rows.append(h("tr", {}, h("td", {colspan: "7", class: "muted"}, "No entries yet.")));
  }
  more.addEventListener("click", () => load());
  /** From the first entry again (after a change that added one). */
  async function reload() {
    token = null;
    rows.replaceChildren();
    await load();
  }
  return {element: box, load, reload};
}
