// Automation: the policies (each one's current version) and their runs, and one policy's
// page — its document as YAML or JSON, its versions, its runs and its audit trail.

import {ApiError, getJson} from "../api.js";
import {fill, h, notFound, table} from "../dom.js";
import * as format from "../format.js";
import {go} from "../nav.js";

export const STATES = ["triggered", "retraining", "evaluating", "gated", "awaiting_approval", "shadow", "canary",
  "promoted", "rolled_back", "rejected"];
const API = "/api/v1/automation";
export const policyUrl = (name) => `${API}/policies/${encodeURIComponent(name)}`;
export const policyLink = (name, version) =>
  `#/automation/policies/${encodeURIComponent(name)}${version ? `?version=${version}` : ""}`;
export const runLink = (id) => `#/automation/runs/${encodeURIComponent(id)}`;

/** A run's state as a badge ("awaiting approval"). */
export function stateBadge(state) {
  return h("span", {class: `status automation-${state}`}, String(state).replace(/_/g, " "));
}

const PLAIN = /^[A-Za-z_][A-Za-z0-9_.\-/ ]*$/;
const RESERVED = /^(true|false|null|yes|no|on|off|~)$/i;

function scalar(value) {
  if (value === null || value === undefined) return "null";
  if (typeof value !== "string") return String(value);
  return PLAIN.test(value) && !RESERVED.test(value) && value.trim() === value ? value : JSON.stringify(value);
}

/** A JSON value as YAML text (block style; strings quoted as JSON wherever YAML could misread them). */
export function toYaml(value, indent = "") {
  const isBlock = (v) => v !== null && typeof v === "object" && Object.keys(v).length > 0;
  const inline = (v) => v !== null && typeof v === "object" ? (Array.isArray(v) ? "[]" : "{}") : scalar(v);
  if (!isBlock(value)) return `${indent}${inline(value)}`;
  if (Array.isArray(value)) {
    // An item that is a block starts on the dash's line: its first line loses the indent.
    return value.map((item) => isBlock(item) ? `${indent}- ${toYaml(item, `${indent}  `).slice(indent.length + 2)}`
      : `${indent}- ${inline(item)}`).join("\n");
  }
  return Object.entries(value).map(([key, item]) => isBlock(item)
    ? `${indent}${scalar(key)}:\n${toYaml(item, `${indent}  `)}`
    : `${indent}${scalar(key)}: ${inline(item)}`).join("\n");
}

/** A table of automation runs, each linking to its page. */
export function runsTable(runs, {id = "automation-runs", empty = "No runs yet."} = {}) {
  if (!runs.length) return h("p", {class: "muted"}, empty);
  return table(["Run", "Policy", "Version", "State", "Started", "Last change", "Reason"], runs.map((run) =>
    h("tr", {dataset: {run: run.id}},
      h("td", {}, h("a", {href: runLink(run.id)}, h("code", {}, run.id.slice(0, 12)))),
      h("td", {class: "name"}, h("a", {href: policyLink(run.policy)}, run.policy)),
      h("td", {class: "num"}, h("a", {href: policyLink(run.policy, run.policy_version)}, `v${run.policy_version}`)),
      h("td", {}, stateBadge(run.state)),
      h("td", {}, format.time(run.started_at)),
      h("td", {}, format.time(run.ended_at || run.updated_at)),
      h("td", {class: "value"}, run.reason || ""))), {class: "grid", id});
}

/** Runs in pages (Previous / Next over the API's page tokens), filtered by state. */
function pagedRuns(query, live, {id, empty}) {
  const box = h("div", {class: "scroll"}), pager = h("div", {class: "pager"});
  const state = {tokens: [null], page: 0, next: null, state: ""};
  const filter = h("select", {"aria-label": "Only runs in state", id: `${id}-state`, onchange: () => {
    state.state = filter.value; state.tokens = [null]; state.page = 0; load().catch(fail);
  }}, h("option", {value: ""}, "Any state"), STATES.map((s) => h("option", {value: s}, s.replace(/_/g, " "))));
  async function load() {
    const q = {...query, max_results: 25};
    if (state.state) q.state = state.state;
    if (state.tokens[state.page]) q.page_token = state.tokens[state.page];
    const page = await getJson(`${API}/runs`, q);
    if (!live()) return;
    state.next = page.next_page_token || null;
    box.replaceChildren(runsTable(page.items, {id, empty: state.state ? "No run in this state." : empty}));
    pager.replaceChildren(
      h("button", {type: "button", disabled: state.page === 0, onclick: () => { state.page -= 1; load().catch(fail); }}, "← Previous"),
      h("span", {}, ` Page ${state.page + 1} `),
      h("button", {type: "button", disabled: !state.next, onclick: () => {
        state.tokens[state.page + 1] = state.next; state.page += 1; load().catch(fail);
      }}, "Next →"));
  }
  const fail = (error) => box.replaceChildren(h("p", {class: "error", role: "alert"}, error.message));
  return {element: [h("div", {class: "toolbar"}, filter), box, pager], load};
}

/** A list that grows by a "More" button following the API's page tokens. */
function growing(url, draw, label) {
  const box = h("div", {class: "scroll"}), more = h("button", {type: "button", hidden: true}, label);
  const items = [];
  let token = null;
  async function load() {
    const page = await getJson(url, token ? {max_results: 50, page_token: token} : {max_results: 50});
    items.push(...page.items);
    token = page.next_page_token || null;
    more.hidden = !token;
    box.replaceChildren(draw(items));
  }
  more.addEventListener("click", () => load().catch((e) => box.append(h("p", {class: "error"}, e.message))));
  return {element: [box, more], load};
}

export async function render(root, {live}) {
  document.title = "Automation · Shipyard";
  const policies = growing(`${API}/policies`, (items) => items.length
    ? table(["Policy", "Model", "Version", "Applied", "By", "Triggers"], items.map((p) => [
      h("td", {class: "name"}, h("a", {href: policyLink(p.name)}, p.name)),
      p.policy.model || "",
      h("td", {class: "num"}, `v${p.version}`),
      format.time(p.created_at),
      p.actor || "",
      (p.policy.triggers || []).map((t) => h("span", {class: "tag"}, t.type)),
    ]), {class: "grid", id: "policies"})
    : h("p", {class: "muted"}, "No policy applied yet: shipyard automation apply <policy.yaml>"), "More policies");
  const runs = pagedRuns({}, live, {id: "automation-runs", empty: "No policy has run yet."});
  fill(root, h("h1", {}, "Automation"), h("h2", {}, "Policies"), policies.element, h("h2", {}, "Runs"), runs.element);
  await Promise.all([policies.load(), runs.load()]);
}

/** Audit entries as a table: when, who, what, from what to what, and why. */
export function auditTable(events, id) {
  const change = (v) => v === null || v === undefined ? "" : v.state ? String(v.state).replace(/_/g, " ")
    : v.version ? `v${v.version}` : JSON.stringify(v);
  return events.length ? table(["When", "Who", "Action", "Of", "From", "To", "Reason"], events.map((e) => [
    format.time(e.at), e.actor || "", e.action, h("td", {class: "value"}, e.entity_id), change(e.before), change(e.after),
    h("td", {class: "value"}, e.reason || "")]), {class: "grid", id})
    : h("p", {class: "muted"}, "No entries.");
}

export async function renderPolicy(root, {params: [name], query, live}) {
  const version = Number(query.get("version")) || null;
  let shown, current;
  try {
    [shown, current] = await Promise.all([getJson(policyUrl(name), version ? {version} : undefined), getJson(policyUrl(name))]);
  } catch (error) {
    if (error instanceof ApiError && (error.notFound || error.status === 422)) {
      return notFound(root, `There is no automation policy ${name}${version ? ` version ${version}` : ""}.`);
    }
    throw error;
  }
  if (!live()) return;
  document.title = `${shown.name} · Automation · Shipyard`;
  const form = query.get("format") === "json" ? "json" : "yaml";
  const documentBox = h("pre", {class: "text", id: "policy-document", tabindex: "0", "aria-label": "The policy"});
  const showDocument = (as) => {
    documentBox.textContent = as === "json" ? JSON.stringify(shown.policy, null, 2) : toYaml(shown.policy);
  };
  const choice = h("fieldset", {class: "choice"}, h("legend", {}, "Show as"), [["yaml", "YAML"], ["json", "JSON"]].map(([value, label]) =>
    h("label", {}, h("input", {type: "radio", name: "policy-format", value, checked: value === form, onchange: () => {
      showDocument(value);
      go(`/automation/policies/${encodeURIComponent(name)}`, {version: version || "", format: value === "json" ? "json" : ""}, {replace: true});
    }}), ` ${label}`)));
  showDocument(form);
  const versions = growing(`${policyUrl(name)}/versions`, (items) => table(["Version", "Applied", "By"], items.map((v) =>
    h("tr", {class: v.version === shown.version ? "selected" : null},
      h("td", {}, h("a", {href: policyLink(name, v.version), "aria-current": v.version === shown.version ? "page" : null}, `v${v.version}`),
        v.version === current.version ? " (current)" : ""),
      h("td", {}, format.time(v.created_at)), h("td", {}, v.actor || ""))), {class: "grid", id: "policy-versions"}), "More versions");
  const audit = growing(`${policyUrl(name)}/audit`, (items) => auditTable(items, "policy-audit"), "More entries");
  const runs = pagedRuns({policy: name}, live, {id: "policy-runs", empty: "This policy has not run yet."});
  fill(root,
    h("p", {class: "crumbs"}, h("a", {href: "#/automation"}, "Automation"), " / "),
    h("h1", {class: "policy-name"}, shown.name),
    h("dl", {class: "summary"}, [
      ["Model", shown.policy.model || ""],
      ["Version", shown.version === current.version ? `v${shown.version} (current)`
        : [`v${shown.version} — the current version is `, h("a", {href: policyLink(name)}, `v${current.version}`)]],
      ["Applied", format.time(shown.created_at)],
      ["By", shown.actor || ""],
    ].flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    h("h2", {}, "Policy"), choice, documentBox,
    h("h2", {}, "Versions"), versions.element,
    h("h2", {}, "Runs"), runs.element,
    h("h2", {}, "Audit trail"), audit.element);
  await Promise.all([versions.load(), runs.load(), audit.load()]);
}
