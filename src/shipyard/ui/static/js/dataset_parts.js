// The parts of a dataset's page drawn from one answer each: a version's profile (per column:
// missing values, distinct count, range, a histogram or the top categories), the diff of two
// versions, an inferred contract and a validation report.

import {h, table} from "./dom.js";
import * as format from "./format.js";
import {categories, histogram, nullRate} from "./minicharts.js";

const percent = (share) => `${(100 * share).toFixed(share > 0 && share < 0.001 ? 3 : 1)}%`;

function stats(column) {
  const rows = column.count + column.nulls + (column.nan || 0);
  const missing = rows ? (column.nulls + (column.nan || 0)) / rows : 0;
  const std = column.m2 !== undefined && column.count ? Math.sqrt(Math.max(column.m2, 0) / column.count) : null;
  const pairs = [["Missing", [nullRate(missing), " ", percent(missing)]],
    ["Distinct", column.distinct_exact ?? column.distinct ?? ""]];
  for (const key of ["min", "max", "mean"]) if (column[key] !== undefined && column[key] !== null) pairs.push([key, format.metric(column[key])]);
  if (std !== null && column.kind === "numeric") pairs.push(["std", format.metric(std)]);
  return h("dl", {class: "summary"}, pairs.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

/** One card per column of a stored profile. */
export function profileView(profile) {
  return h("div", {class: "profile", id: "profile"}, profile.columns.map((column) => {
    const label = `Distribution of ${column.name}`;
    const chart = column.histogram && column.histogram.counts.some((c) => c > 0) ? histogram(column.histogram, {label})
      : column.top && column.top.length ? categories(column.top, column.count, {label: `Top values of ${column.name}`}) : null;
    return h("figure", {class: "column-profile", dataset: {column: column.name}},
      h("figcaption", {}, h("strong", {class: "column-name"}, column.name), " ",
        h("span", {class: "muted"}, `${column.type} · ${column.kind}`)),
      stats(column), chart);
  }));
}

const pair = (values, show = format.metric) => (values ? `${show(values[0])} → ${show(values[1])}` : "");

/** Schema changes and per-column shifts between two versions. */
export function diffView(diff) {
  const changes = [];
  if (diff.added.length) changes.push(h("li", {class: "added"}, "Added: ", diff.added.map((c) => h("code", {}, c))));
  if (diff.removed.length) changes.push(h("li", {class: "removed"}, "Removed: ", diff.removed.map((c) => h("code", {}, c))));
  for (const [column, before, after] of diff.retyped) changes.push(h("li", {class: "retyped"}, "Retyped: ", h("code", {}, column), ` ${before} → ${after}`));
  return h("div", {id: "diff-result"},
    h("p", {}, `Version ${diff.old} → version ${diff.new}: rows ${diff.rows[0]} → ${diff.rows[1]}.`),
    changes.length ? h("ul", {class: "schema-changes"}, changes) : h("p", {class: "muted"}, "Same columns and types."),
    diff.columns.length ? table(["Column", "Kind", "Missing", "Mean", "Distinct", "PSI", "KS", "JS", "Categories", "Shifted"],
      diff.columns.map((c) => h("tr", {class: c.shifted ? "differs" : null, dataset: {column: c.name}},
        h("td", {class: "key"}, c.name), h("td", {}, c.kind), h("td", {}, pair(c.null_fraction, percent)),
        h("td", {class: "num"}, pair(c.mean)), h("td", {class: "num"}, pair(c.distinct, (v) => v ?? "")),
        ["psi", "ks", "js"].map((k) => h("td", {class: "num"}, c[k] === undefined ? "" : format.metric(c[k]))),
        h("td", {class: "value"}, [
          (c.new_categories || []).length ? ["new: ", c.new_categories.map((v) => h("span", {class: "tag"}, String(v)))] : null,
          (c.lost_categories || []).length ? [" lost: ", c.lost_categories.map((v) => h("span", {class: "tag"}, String(v)))] : null]),
        h("td", {}, c.shifted ? h("span", {class: "status failed"}, "shifted") : "no"))),
      {class: "grid", id: "diff-columns"}) : null);
}

/** A contract's column rules as a table (the YAML form, as JSON). */
export function contractView(contract) {
  const columns = Object.entries(contract.columns || {});
  return table(["Column", "Type", "Nullable", "Min", "Max", "Allowed", "Unique"], columns.map(([name, rules]) => [
    h("td", {class: "key"}, name), rules.type || "", rules.nullable === false ? "no" : "yes",
    rules.min === undefined ? "" : format.metric(rules.min), rules.max === undefined ? "" : format.metric(rules.max),
    h("td", {class: "value"}, (rules.allowed || []).map((v) => h("span", {class: "tag"}, String(v)))),
    rules.unique ? "yes" : "",
  ]), {class: "kv", id: "contract"});
}

/** A validation report: passed, or each violation with a few offending values. */
export function validationView(answer) {
  const {report} = answer;
  const heading = h("p", {}, `Version ${answer.version} against the contract of version ${answer.contract_version}: `,
    h("span", {class: `status ${report.passed ? "finished" : "failed"}`}, report.passed ? "passed" : "failed"),
    ` (${report.rules} rules, ${report.rows} rows)`);
  if (report.passed) return h("div", {id: "validation-result"}, heading);
  return h("div", {id: "validation-result"}, heading,
    table(["Column", "Rule", "Rows", "Message", "Examples"], report.violations.map((v) => [
      h("td", {class: "key"}, v.column ?? "(table)"), v.rule, h("td", {class: "num"}, v.count), h("td", {class: "value"}, v.message),
      h("td", {class: "value"}, v.samples.map((s) => h("span", {class: "tag"}, typeof s === "object" ? JSON.stringify(s) : String(s)))),
    ]), {class: "grid", id: "violations"}));
}
