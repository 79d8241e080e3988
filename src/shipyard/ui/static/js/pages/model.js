// One registered model: its aliases (and moving one, through the same gate and permission
// checks as any client), the promotion policy, its versions a page at a time, the chosen
// version's gate results, lineage and model card, and the audit trail.

import {ApiError, call, getJson} from "../api.js";
import {fill, h, keyValues, notFound, table} from "../dom.js";
import * as format from "../format.js";
import {auditView, cardView, checksTable, gatesView, lineageView, modelUrl, policyView, versionUrl} from "../model_parts.js";

const VERSIONS_PER_PAGE = 10;

async function section(target, build) {
  try {
    target.replaceChildren(await build());
  } catch (error) {
    if (error instanceof ApiError && error.status !== 401) target.replaceChildren(h("p", {class: "error"}, error.message));
    else throw error;
  }
}

/** The API's refusal as the page shows it: what it said, and each gate check when a gate refused. */
export function refusal(error) {
  const [first, ...rest] = error.message.split("\n");
  return [h("p", {class: "error"}, error.report ? first : [first, ...rest].join("\n")),
    error.report ? checksTable(error.report.checks || [], {id: "refusal-checks"}) : null];
}

function aliasesTable(model) {
  const guarded = new Set(model.policy ? model.policy.aliases || [] : []);
  const rows = Object.entries(model.aliases).sort(([a], [b]) => a.localeCompare(b));
  if (!rows.length) return h("p", {class: "muted", id: "aliases"}, "No aliases yet.");
  return table(["Alias", "Version", ""], rows.map(([alias, version]) => h("tr", {dataset: {alias}},
    h("td", {class: "key"}, `@${alias}`),
    h("td", {}, h("a", {href: `#/models/${encodeURIComponent(model.name)}/versions/${version}`}, `version ${version}`)),
    h("td", {}, guarded.has(alias) ? h("span", {class: "tag"}, "guarded") : ""))), {class: "kv", id: "aliases"});
}

function aliasForm(model, selected, moved) {
  const names = [...new Set([...(model.policy ? model.policy.aliases || [] : []), ...Object.keys(model.aliases)])].sort();
  const alias = h("input", {id: "alias-name", required: true, list: "alias-names", value: names[0] || "production",
    pattern: "[A-Za-z_][A-Za-z0-9_\\-]*", spellcheck: "false"});
  const version = h("input", {id: "alias-version", type: "number", min: "1", required: true, value: String(selected || 1)});
  const reason = h("input", {id: "alias-reason", type: "text", placeholder: "Why (kept in the audit trail)"});
  const result = h("div", {id: "alias-result", role: "status", "aria-live": "polite"});
  const submit = h("button", {type: "submit", id: "alias-move"}, "Move alias");
  const form = h("form", {class: "alias-form", onsubmit: async (e) => {
    e.preventDefault();
    submit.disabled = true;
    result.replaceChildren(h("p", {class: "muted"}, "Checking…"));
    try {
      const body = {version: Number(version.value), reason: reason.value.trim() || null};
      const answer = await (await call("PUT", `${modelUrl(model.name)}/aliases/${encodeURIComponent(alias.value.trim())}`,
        {json: body})).json();
      result.replaceChildren(h("p", {class: "ok"}, `@${alias.value.trim()} now points at version ${answer.version}.`));
      await moved();
    } catch (error) {
      if (!(error instanceof ApiError) || error.status === 401) throw error;
      result.replaceChildren(...refusal(error).filter(Boolean));
    } finally {
      submit.disabled = false;
    }
  }},
  h("datalist", {id: "alias-names"}, names.map((n) => h("option", {value: n}))),
  h("label", {for: "alias-name"}, "Alias"), alias,
  h("label", {for: "alias-version"}, "Version"), version,
  h("label", {for: "alias-reason"}, "Reason"), reason, submit);
  return h("div", {}, form, result);
}

function versionsView(model, selected) {
  const body = h("div", {class: "scroll"});
  const pager = h("div", {class: "pager"});
  const state = {tokens: [null], page: 0};
  async function load() {
    const params = {name: model.name, max_results: VERSIONS_PER_PAGE};
    if (state.tokens[state.page]) params.page_token = state.tokens[state.page];
    const page = await getJson("/api/v1/registry/versions", params);
    const keys = [...new Set(page.items.flatMap((v) => Object.keys(v.metrics)))].sort().slice(0, 4);
    body.replaceChildren(page.items.length ? table(["Version", "Aliases", "Status", "Flavor", ...keys, "Run", "Registered", "By"],
      page.items.map((v) => h("tr", {class: v.version === selected ? "selected" : null, dataset: {version: String(v.version)}},
        h("td", {}, h("a", {href: `#/models/${encodeURIComponent(model.name)}/versions/${v.version}`,
          "aria-current": v.version === selected ? "true" : null}, `v${v.version}`)),
        h("td", {}, v.aliases.map((a) => h("span", {class: "tag"}, `@${a}`))),
        h("td", {}, v.status), h("td", {}, v.flavor || ""),
        keys.map((k) => h("td", {class: "num"}, k in v.metrics ? format.metric(v.metrics[k]) : "")),
        h("td", {}, v.run_id ? h("a", {href: `#/runs/${encodeURIComponent(v.run_id)}`}, v.run_id.slice(0, 8)) : ""),
        h("td", {}, format.time(v.created_at)), h("td", {}, v.user || ""))), {class: "grid", id: "versions"})
      : h("p", {class: "muted"}, "No versions yet."));
    pager.replaceChildren(
      h("button", {type: "button", disabled: state.page === 0, onclick: () => { state.page -= 1; load(); }}, "← Newer"),
      h("span", {}, ` Page ${state.page + 1} `),
      h("button", {type: "button", disabled: !page.next_page_token, onclick: () => {
        state.tokens[state.page + 1] = page.next_page_token; state.page += 1; load();
      }}, "Older →"));
  }
  return {element: h("div", {}, body, pager), load};
}

function versionSummary(v) {
  const rows = [["Source", h("code", {}, v.source)], ["Status", v.status], ["Flavor", v.flavor || ""],
    ["Aliases", v.aliases.map((a) => h("span", {class: "tag"}, `@${a}`))], ["Registered", format.time(v.created_at)],
    ["By", v.user || ""], ["Description", v.description || ""]];
  if (v.run_id) rows.push(["Run", h("a", {href: `#/runs/${encodeURIComponent(v.run_id)}`}, v.run_id)]);
  return h("dl", {class: "summary"}, rows.flatMap(([k, value]) => [h("dt", {}, k), h("dd", {}, value)]));
}

export async function render(root, {params: [name, chosen], query, live}) {
  let model;
  try {
    model = await getJson(modelUrl(name));
  } catch (error) {
    if (error instanceof ApiError && (error.notFound || error.status === 422)) return notFound(root, `There is no model ${name}.`);
    throw error;
  }
  if (!live()) return;
  document.title = `${model.name} · Shipyard`;
  const selected = Number(chosen || query.get("version")) || model.latest_version;
  let version = null;
  if (selected) {
    try {
      version = await getJson(versionUrl(model.name, selected));
    } catch (error) {
      if (!(error instanceof ApiError && (error.notFound || error.status === 422))) throw error;
      return notFound(root, `Model ${model.name} has no version ${chosen || query.get("version")}.`);
    }
  }
  const aliases = h("div", {}, aliasesTable(model));
  const versions = versionsView(model, selected);
  const audit = auditView(model.name);
  const gates = h("div", {}, h("p", {class: "muted"}, "Checking…"));
  async function moved() { // a new holder: the aliases, versions, trail and this version's gates change
    const fresh = await getJson(modelUrl(model.name));
    aliases.replaceChildren(aliasesTable(fresh));
    await Promise.all([versions.load(), audit.reload(),
      version ? section(gates, () => gatesView(model.name, version.version)) : null]);
  }
  const lineage = h("div", {}, h("p", {class: "muted"}, "Loading…"));
  const card = h("div", {}, h("p", {class: "muted"}, "Loading…"));
  fill(root,
    h("p", {class: "crumbs"}, h("a", {href: "#/models"}, "Models"), " / "),
    h("h1", {class: "model-name"}, model.name),
    model.description ? h("p", {class: "description"}, model.description) : null,
    Object.keys(model.tags).length ? keyValues(model.tags, "") : null,
    h("h2", {}, "Aliases"), aliases, aliasForm(model, selected, moved),
    h("h2", {}, "Promotion policy"), policyView(model.policy),
    h("h2", {}, "Versions"), versions.element,
    version ? [h("h2", {id: "version-heading"}, `Version ${version.version}`), versionSummary(version),
      h("h3", {}, "Metrics"), keyValues(Object.fromEntries(Object.entries(version.metrics).map(([k, v]) => [k, format.metric(v)])),
        "No metrics recorded."),
      h("h3", {}, "Gates"), gates, h("h3", {}, "Lineage"), lineage, h("h3", {}, "Model card"), card] : null,
    h("h2", {}, "Audit trail"), audit.element);
  await Promise.all([versions.load(), audit.load(), ...(version ? [
    section(gates, () => gatesView(model.name, version.version)),
    section(lineage, () => lineageView(model.name, version.version)),
    section(card, () => cardView(model.name, version.version))] : [])]);
}
