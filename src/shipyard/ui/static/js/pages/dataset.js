// One dataset: its versions a page at a time, the chosen version's profile, the diff of any
// two versions, the contract inferred from a version and another version checked against it.
// The address holds the choices (#/datasets/churn/versions/3?old=2&new=3), so a view can be shared.

import {ApiError, getJson} from "../api.js";
import {fill, h, notFound, table} from "../dom.js";
import {contractView, diffView, profileView, validationView} from "../dataset_parts.js";
import * as format from "../format.js";
import {lineageHref} from "../lineage_graph.js";
import {go} from "../nav.js";

const VERSIONS_PER_PAGE = 10;

const datasetUrl = (name) => `/api/v1/datasets/${encodeURIComponent(name)}`;

/** Run `build` into `target`; an API refusal shows as its message, in place. */
async function into(target, build) {
  target.replaceChildren(h("p", {class: "muted"}, "Loading…"));
  try {
    target.replaceChildren(await build());
  } catch (error) {
    if (!(error instanceof ApiError) || error.status === 401) throw error;
    target.replaceChildren(h("p", {class: "error", role: "alert"}, error.message));
  }
}

function versionsView(name, selected, first) {
  const body = h("div", {class: "scroll"});
  const pager = h("div", {class: "pager"});
  const state = {tokens: [null], page: 0};
  function draw(page) {
    body.replaceChildren(table(["Version", "Rows", "Files", "Size", "Format", "Digest", "Run", "Registered", "Description"],
      page.items.map((v) => h("tr", {class: v.version === selected ? "selected" : null, dataset: {version: String(v.version)}},
        h("td", {}, h("a", {href: `#/datasets/${encodeURIComponent(name)}/versions/${v.version}`,
          "aria-current": v.version === selected ? "true" : null}, `v${v.version}`)),
        h("td", {class: "num"}, v.num_rows ?? ""), h("td", {class: "num"}, v.num_files), h("td", {class: "num"}, format.bytes(v.num_bytes)),
        h("td", {}, v.format), h("td", {}, h("code", {title: v.digest}, v.digest.slice(0, 12))),
        h("td", {}, v.run_id ? h("a", {href: `#/runs/${encodeURIComponent(v.run_id)}`}, v.run_id.slice(0, 8)) : ""),
        h("td", {}, format.time(v.created_at)), h("td", {class: "value"}, v.description || ""))), {class: "grid", id: "versions"}));
    pager.replaceChildren(
      h("button", {type: "button", disabled: state.page === 0, onclick: () => { state.page -= 1; load(); }}, "← Newer"),
      h("span", {}, ` Page ${state.page + 1} `),
      h("button", {type: "button", disabled: !page.next_page_token, onclick: () => {
        state.tokens[state.page + 1] = page.next_page_token; state.page += 1; load();
      }}, "Older →"));
  }
  async function load() {
    const params = {max_results: VERSIONS_PER_PAGE};
    if (state.tokens[state.page]) params.page_token = state.tokens[state.page];
    draw(await getJson(`${datasetUrl(name)}/versions`, params));
  }
  draw(first);
  return h("div", {}, body, pager);
}

function numberField(id, label, value, max) {
  return [h("label", {for: id}, label), h("input", {id, type: "number", min: "1", max: String(max), required: true, value: String(value)})];
}

function summary(v) {
  const rows = [["Digest", h("code", {}, v.digest)], ["Format", v.format], ["Rows", v.num_rows ?? ""],
    ["Files", `${v.num_files} (${format.bytes(v.num_bytes)})`], ["Source", v.source || ""], ["Registered", format.time(v.created_at)],
    ["By", v.user || ""], ["Description", v.description || ""]];
  if (v.run_id) rows.push(["Produced by", h("a", {href: `#/runs/${encodeURIComponent(v.run_id)}`}, v.run_id)]);
  for (const [k, value] of Object.entries(v.tags).sort()) rows.push([k, value]);
  return h("dl", {class: "summary"}, rows.flatMap(([k, value]) => [h("dt", {}, k), h("dd", {}, value)]));
}

export async function render(root, {params: [name, chosen], query, live}) {
  let first;
  try {
    first = await getJson(`${datasetUrl(name)}/versions`, {max_results: VERSIONS_PER_PAGE});
  } catch (error) {
    if (error instanceof ApiError && (error.notFound || error.status === 422)) return notFound(root, `There is no dataset ${name}.`);
    throw error;
  }
  if (!live()) return;
  document.title = `${name} · Shipyard`;
  const latest = first.items.length ? first.items[0].version : null;
  const selected = Number(chosen || query.get("version")) || latest;
  let version = null;
  if (selected) {
    try {
      version = await getJson(`${datasetUrl(name)}/versions/${encodeURIComponent(selected)}`);
    } catch (error) {
      if (!(error instanceof ApiError && (error.notFound || error.status === 422))) throw error;
      return notFound(root, `Dataset ${name} has no version ${chosen || query.get("version")}.`);
    }
  }
  if (!live()) return;
  const here = `/datasets/${encodeURIComponent(name)}${selected ? `/versions/${selected}` : ""}`;
  const keep = (extra) => go(here, {old: query.get("old") || "", new: query.get("new") || "",
    against: query.get("against") || "", ...extra}, {replace: true});

  const diff = h("div", {id: "diff"});
  const [oldLabel, oldInput] = numberField("diff-old", "From version", query.get("old") || Math.max(1, (selected || 1) - 1), latest || 1);
  const [newLabel, newInput] = numberField("diff-new", "to version", query.get("new") || selected || 1, latest || 1);
  const showDiff = () => into(diff, async () => diffView(await getJson(`${datasetUrl(name)}/diff`,
    {old: oldInput.value, new: newInput.value})));
  const diffForm = h("form", {class: "inline-form", id: "diff-form", onsubmit: (e) => {
    e.preventDefault();
    keep({old: oldInput.value, new: newInput.value});
    showDiff();
  }}, oldLabel, oldInput, newLabel, newInput, h("button", {type: "submit"}, "Show the changes"));

  const contract = h("div", {});
  const validation = h("div", {id: "validation"});
  const [checkLabel, checkInput] = numberField("validate-version", "Check version", query.get("against") || latest || 1, latest || 1);
  const validate = () => into(validation, async () => validationView(await getJson(
    `${datasetUrl(name)}/versions/${encodeURIComponent(checkInput.value)}/validation`, {contract_version: selected})));
  const validateForm = h("form", {class: "inline-form", id: "validate-form", onsubmit: (e) => {
    e.preventDefault();
    keep({against: checkInput.value});
    validate();
  }}, checkLabel, checkInput, h("span", {}, ` against the contract of version ${selected}`),
  h("button", {type: "submit"}, "Validate"));

  const tabular = version && version.profile;
  fill(root,
    h("p", {class: "crumbs"}, h("a", {href: "#/datasets"}, "Datasets"), " / "),
    h("h1", {class: "dataset-name"}, name),
    h("h2", {}, "Versions"), first.items.length ? versionsView(name, selected, first) : h("p", {class: "muted"}, "No versions yet."),
    version ? [
      h("h2", {id: "version-heading"}, `Version ${version.version}`),
      h("p", {}, h("a", {href: lineageHref(`dataset:${name}@${version.version}`), id: "lineage-link"}, "Show the lineage graph")),
      summary(version),
      h("h3", {}, "Profile"),
      tabular ? profileView(version.profile) : h("p", {class: "muted"}, "This version holds files, not a table: it has no profile."),
      h("h2", {}, "Compare two versions"), diffForm, diff,
      h("h2", {}, "Contract"),
      tabular ? [h("p", {class: "muted"}, `The rules version ${version.version} meets, inferred from its profile.`), contract,
        validateForm, validation] : h("p", {class: "muted"}, "A contract applies to tables only."),
    ] : null);
  const pending = [];
  if (tabular) pending.push(into(contract, async () => contractView((await getJson(`${datasetUrl(name)}/versions/${selected}/contract`)).contract)));
  if (query.get("old") && query.get("new")) pending.push(showDiff());
  if (tabular && query.get("against")) pending.push(validate());
  await Promise.all(pending);
}
