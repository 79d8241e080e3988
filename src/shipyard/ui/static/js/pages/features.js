// The feature store: its entities and views (paged, by kind), and one object's page — its
// definition and versions, and for a feature view how fresh its online values are, what
// was last materialized, and a skew check of online values against the offline path.

import {ApiError, getJson, postJson} from "../api.js";
import {fill, h, keyValues, notFound, table} from "../dom.js";
import * as format from "../format.js";
import {go} from "../nav.js";

const KINDS = [["entity", "Entities"], ["feature_view", "Feature views"], ["on_demand_view", "On-demand views"]];
const LABEL = {entity: "Entity", feature_view: "Feature view", on_demand_view: "On-demand view"};
const objectUrl = (kind, name) => `/api/v1/features/objects/${encodeURIComponent(kind)}/${encodeURIComponent(name)}`;
const objectLink = (kind, name, version) =>
  `#/features/${encodeURIComponent(kind)}/${encodeURIComponent(name)}${version ? `?version=${version}` : ""}`;
const viewUrl = (name) => `/api/v1/features/views/${encodeURIComponent(name)}`;

/** How long ago `ms` was: "5m 3s ago" ("in the future" for a later time). */
function ago(ms) {
  const now = Date.now();
  return ms > now ? "in the future" : `${format.duration(ms, now) || "0s"} ago`;
}

/** The view's freshness and last materialization, as two short cells. */
async function viewState(name) {
  const [fresh, done] = await Promise.all([
    getJson(`/api/v1/features/online-store/${encodeURIComponent(name)}/freshness`),
    getJson(`${viewUrl(name)}/materialization`)]);
  return {newest: fresh.newest_us, state: done.state};
}

function freshnessText(newestUs, ttlUs) {
  if (newestUs === null || newestUs === undefined) return h("span", {class: "muted"}, "nothing online");
  const stale = ttlUs && Date.now() * 1000 - newestUs > ttlUs;
  return h("span", {class: stale ? "stale" : "fresh", title: format.time(newestUs / 1000)},
    `${ago(newestUs / 1000)}${stale ? " (older than the TTL)" : ""}`);
}

function materializedText(state) {
  if (!state) return h("span", {class: "muted"}, "never");
  return `up to ${format.time(state.end_us / 1000)} (${state.rows} rows)`;
}

export async function render(root, {query, live}) {
  document.title = "Features · Shipyard";
  const kind = KINDS.some(([k]) => k === query.get("kind")) ? query.get("kind") : "";
  const state = {tokens: [null], page: 0, next: null};
  const select = h("select", {id: "kind-filter", "aria-label": "Kind of object",
    onchange: () => go("/features", {kind: select.value})},
  h("option", {value: ""}, "Every kind"), KINDS.map(([k, label]) => h("option", {value: k, selected: k === kind}, label)));
  const body = h("div", {class: "scroll"}, h("p", {class: "muted"}, "Loading…"));
  const pager = h("div", {class: "pager"});

  async function load() {
    const q = {max_results: 50};
    if (kind) q.kind = kind;
    if (state.tokens[state.page]) q.page_token = state.tokens[state.page];
    const page = await getJson("/api/v1/features/objects", q);
    if (!live()) return;
    state.next = page.next_page_token || null;
    const rows = page.items.map((o) => {
      const fresh = h("td", {}, o.kind === "feature_view" ? "…" : ""), done = h("td", {}, o.kind === "feature_view" ? "…" : "");
      if (o.kind === "feature_view") {
        viewState(o.name).then(({newest, state: last}) => {
          fill(fresh, freshnessText(newest, o.spec.ttl_us));
          fill(done, materializedText(last));
        }).catch((error) => fill(fresh, h("span", {class: "error"}, error.message)));
      }
      return h("tr", {dataset: {kind: o.kind, name: o.name}},
        h("td", {}, LABEL[o.kind] || o.kind),
        h("td", {class: "name"}, h("a", {href: objectLink(o.kind, o.name)}, o.name)),
        h("td", {class: "num"}, o.version),
        h("td", {}, format.time(o.created_at)),
        h("td", {}, Object.keys(o.spec.features || {}).length || ""),
        fresh, done);
    });
    body.replaceChildren(rows.length
      ? table(["Kind", "Name", "Version", "Applied", "Features", "Online freshness", "Materialized"], rows,
        {class: "grid", id: "feature-objects"})
      : h("p", {class: "muted"}, "Nothing applied yet: shipyard features apply <definitions.py>"));
    pager.replaceChildren(
      h("button", {type: "button", disabled: state.page === 0, onclick: () => { state.page -= 1; load().catch(fail); }}, "← Previous"),
      h("span", {}, ` Page ${state.page + 1} `),
      h("button", {type: "button", disabled: !state.next, onclick: () => {
        state.tokens[state.page + 1] = state.next; state.page += 1; load().catch(fail);
      }}, "Next →"));
  }

  function fail(error) {
    body.replaceChildren(h("p", {class: "error", role: "alert"}, error.message));
  }

  fill(root, h("h1", {}, "Features"), h("div", {class: "toolbar"}, select), body, pager);
  await load();
}

function specView(object) {
  const spec = object.spec;
  const parts = [];
  const plain = Object.fromEntries(Object.entries(spec).filter(([k, v]) =>
    !["kind", "name", "features", "entities", "source", "inputs", "function", "tags"].includes(k) && v !== null && typeof v !== "object"));
  if (spec.ttl_us) plain.ttl = format.duration(1, 1 + spec.ttl_us / 1000);
  if (Array.isArray(spec.join_keys)) plain.join_keys = spec.join_keys.join(", ");
  if (Array.isArray(spec.entities)) plain.entities = spec.entities.map((e) => `${e.name} (${e.join_keys.join(", ")})`).join("; ");
  if (spec.source) plain.source = Object.entries(spec.source).filter(([, v]) => v !== null).map(([k, v]) => `${k}: ${v}`).join(", ");
  if (Array.isArray(spec.inputs)) plain.inputs = spec.inputs.map((i) => typeof i === "string" ? i : `${i.request} (request, ${i.dtype})`).join(", ");
  delete plain.ttl_us;
  parts.push(keyValues(plain, "No settings."));
  if (spec.features) {
    parts.push(h("h2", {}, "Features"), table(["Feature", "Type"], Object.entries(spec.features).map(([k, v]) =>
      [h("td", {class: "key"}, k), v]), {class: "grid", id: "feature-columns"}));
  }
  if (spec.tags && Object.keys(spec.tags).length) parts.push(h("h2", {}, "Tags"), keyValues(spec.tags, ""));
  parts.push(h("details", {class: "spec"}, h("summary", {}, "Definition (JSON)"),
    h("pre", {class: "text", tabindex: "0", "aria-label": "Definition as JSON"}, JSON.stringify(spec, null, 2))));
  return parts;
}

function skewSection(name) {
  const sample = h("input", {type: "number", id: "skew-sample", min: "1", max: "100000", value: "1000", required: true});
  const tolerance = h("input", {type: "text", id: "skew-tolerance", value: "1e-9", inputmode: "decimal", size: "8"});
  const error = h("p", {class: "error", role: "alert", id: "skew-error"});
  const result = h("div", {id: "skew-report"});
  const button = h("button", {type: "submit"}, "Run skew check");
  const form = h("form", {class: "toolbar", onsubmit: async (e) => {
    e.preventDefault();
    error.textContent = "";
    const tol = Number(tolerance.value);
    if (tolerance.value.trim() === "" || !Number.isFinite(tol) || tol < 0) {
      tolerance.setAttribute("aria-invalid", "true");
      error.textContent = "The tolerance must be a number of at least 0.";
      return;
    }
    tolerance.removeAttribute("aria-invalid");
    button.disabled = true;
    fill(result, h("p", {class: "muted"}, "Comparing…"));
    try {
      fill(result, skewReport(await postJson(`${viewUrl(name)}/skew-check`, {sample: Number(sample.value), tolerance: tol})));
    } catch (failed) {
      if (!(failed instanceof ApiError)) throw failed;
      error.textContent = failed.message;
      result.replaceChildren();
    } finally {
      button.disabled = false;
    }
  }},
  h("label", {for: "skew-sample"}, "Entities to sample"), sample,
  h("label", {for: "skew-tolerance"}, "Tolerance"), tolerance, button);
  return [h("h2", {}, "Skew check"),
    h("p", {class: "muted"}, "Online values against what the offline (training) path computes as of now."),
    form, error, result];
}

function skewReport(report) {
  const value = (v) => v === null || v === undefined ? h("span", {class: "muted"}, "null") : typeof v === "number" ? format.metric(v) : String(v);
  const entity = (e) => Object.entries(e).map(([k, v]) => `${k}=${v}`).join(", ");
  const features = Object.values(report.features);
  const largest = features.flatMap((f) => f.largest.map((d) => [h("td", {class: "key"}, f.name), entity(d.entity),
    h("td", {class: "num"}, value(d.offline)), h("td", {class: "num"}, value(d.online)),
    h("td", {class: "num"}, d.difference === null ? "" : format.metric(d.difference))]));
  return [
    h("p", {class: report.ok ? "fresh" : "stale", id: "skew-verdict"}, report.ok
      ? `No skew: ${report.compared} entities compared.`
      : `Skew found: ${features.reduce((n, f) => n + f.mismatches, 0)} differing values over ${report.compared} entities.`),
    keyValues({"checked at": report.checked_at, tolerance: String(report.tolerance),
      "sampled online": String(report.sampled_online), "sampled offline": String(report.sampled_offline),
      "missing online": String(report.missing_online), "missing offline": String(report.missing_offline)}, ""),
    table(["Feature", "Type", "Compared", "Mismatches", "Rate"], features.map((f) => h("tr", {class: f.mismatches ? "differs" : null},
      h("td", {class: "key"}, f.name), h("td", {}, f.dtype), h("td", {class: "num"}, f.compared),
      h("td", {class: "num"}, f.mismatches), h("td", {class: "num"}, `${(f.mismatch_rate * 100).toFixed(2)}%`))),
    {class: "grid", id: "skew-features"}),
    largest.length ? [h("h3", {}, "Largest differences"),
      table(["Feature", "Entity", "Offline", "Online", "Difference"], largest, {class: "grid", id: "skew-differences"})] : null,
    [["Missing online", report.missing_online_examples], ["Missing offline", report.missing_offline_examples]]
      .filter(([, e]) => e.length).map(([label, e]) => h("p", {}, `${label}, e.g. `, e.map(entity).join("; "))),
  ];
}

export async function renderObject(root, {params: [kind, name], query, live}) {
  const version = Number(query.get("version")) || null;
  let object;
  try {
    object = await getJson(objectUrl(kind, name), version ? {version} : undefined);
  } catch (error) {
    if (error instanceof ApiError && (error.notFound || error.status === 422)) {
      return notFound(root, `There is no ${LABEL[kind] ? LABEL[kind].toLowerCase() : kind} ${name}${version ? ` version ${version}` : ""}.`);
    }
    throw error;
  }
  if (!live()) return;
  document.title = `${object.name} · Features · Shipyard`;
  const versions = h("div", {class: "scroll"});
  const more = h("button", {type: "button", hidden: true}, "More versions");
  const state = h("div", {id: "view-state"});
  let token = null;
  const rows = [];

  async function loadVersions() {
    const page = await getJson(`${objectUrl(kind, name)}/versions`, token ? {max_results: 20, page_token: token} : {max_results: 20});
    if (!live()) return;
    rows.push(...page.items);
    token = page.next_page_token || null;
    more.hidden = !token;
    versions.replaceChildren(table(["Version", "Applied", "Fingerprint", "Forced"], rows.map((v) =>
      h("tr", {class: v.version === object.version ? "selected" : null},
        h("td", {}, h("a", {href: objectLink(kind, name, v.version), "aria-current": v.version === object.version ? "page" : null}, `v${v.version}`)),
        h("td", {}, format.time(v.created_at)), h("td", {}, h("code", {}, v.fingerprint.slice(0, 12))),
        h("td", {}, v.forced ? "forced" : ""))), {class: "grid", id: "versions"}));
  }
  more.addEventListener("click", () => loadVersions().catch((e) => versions.append(h("p", {class: "error"}, e.message))));

  fill(root,
    h("p", {class: "crumbs"}, h("a", {href: "#/features"}, "Features"), " / ",
      h("a", {href: `#/features?kind=${encodeURIComponent(object.kind)}`}, LABEL[object.kind] || object.kind), " / "),
    h("h1", {class: "object-name"}, object.name),
    h("dl", {class: "summary"}, [["Kind", LABEL[object.kind] || object.kind], ["Version", `v${object.version}`],
      ["Applied", format.time(object.created_at)], ["Fingerprint", h("code", {}, object.fingerprint)],
      ...(object.spec.description ? [["Description", object.spec.description]] : []),
    ].flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    object.kind === "feature_view" ? [h("h2", {}, "Online state"), state] : null,
    h("h2", {}, "Definition"), specView(object),
    h("h2", {}, "Versions"), versions, more,
    object.kind === "feature_view" ? skewSection(object.name) : null);
  const loads = [loadVersions()];
  if (object.kind === "feature_view") {
    fill(state, h("p", {class: "muted"}, "Loading…"));
    loads.push(viewState(object.name).then(({newest, state: last}) => {
      if (!live()) return;
      fill(state, table(["What", "State"], [
        [h("td", {class: "key"}, "Freshness"), h("td", {id: "freshness"}, freshnessText(newest, object.spec.ttl_us),
          newest ? ` (newest event ${format.time(newest / 1000)})` : "")],
        [h("td", {class: "key"}, "Materialized"), h("td", {id: "materialized"}, last
          ? `[${last.start_us === null ? "the beginning" : format.time(last.start_us / 1000)}, ${format.time(last.end_us / 1000)}): ${last.rows} rows, ${ago(last.materialized_at)}`
          : h("span", {class: "muted"}, "never materialized"))],
      ], {class: "kv"}));
    }));
  }
  await Promise.all(loads);
}
