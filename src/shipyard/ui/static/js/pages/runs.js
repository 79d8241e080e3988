// The runs of one experiment: a table searched with the API's filter syntax, sorted by
// any column, paged with the API's page tokens, with a column chooser, saved views
// (kept in this browser) and a selection to compare.

import {ApiError, getJson, newestOnly, postJson} from "../api.js";
import {fill, h, notFound} from "../dom.js";
import * as format from "../format.js";
import {go} from "../nav.js";

const KINDS = [["params", "Params"], ["metrics", "Metrics"], ["tags", "Tags"]];
const ATTRIBUTES = [["Name", "attributes.run_name"], ["Status", "attributes.status"],
  ["Started", "attributes.start_time"], ["Duration", null], ["User", "attributes.user"]];
const DEFAULT_ORDER = "attributes.start_time DESC";
const AUTO_COLUMNS = 5; // columns of each kind shown before any are chosen

/** A sortable name in the search syntax: metrics.`val loss` (backticks allow any key). */
export function term(kind, key) {
  return `${kind}.\`${key.replace(/\\/g, "\\\\").replace(/`/g, "``")}\``;
}

const stored = (name, fallback) => {
  try { return JSON.parse(localStorage.getItem(name)) ?? fallback; } catch { return fallback; }
};
const store = (name, value) => localStorage.setItem(name, JSON.stringify(value));

export async function render(root, {params: [experimentId], query, live}) {
  const size = Number(query.get("size")) || 50;
  // The first page of runs is asked for together with the experiment, not after it: one
  // round trip less before the table shows. An error is reported by load(), which awaits it.
  let firstPage = postJson("/api/v1/runs/search", {experiment_ids: [experimentId], max_results: size,
    order_by: [query.get("order") || DEFAULT_ORDER], filter: query.get("filter") || null, page_token: null});
  firstPage.catch(() => {});
  let experiment;
  try {
    experiment = await getJson(`/api/v1/experiments/${encodeURIComponent(experimentId)}`);
  } catch (error) {
    if (error instanceof ApiError && error.notFound) return notFound(root, `There is no experiment ${experimentId}.`);
    throw error;
  }
  if (!live()) return;
  document.title = `${experiment.name} · Shipyard`;
  const columnsKey = `shipyard.columns.${experiment.id}`, viewsKey = `shipyard.views.${experiment.id}`;
  const state = {
    filter: query.get("filter") || "", order: query.get("order") || DEFAULT_ORDER,
    size, tokens: [null], page: 0, runs: [], next: null,
    columns: stored(columnsKey, null), selected: new Set(),
  };

  const filterBox = h("input", {type: "search", id: "filter", value: state.filter, spellcheck: "false",
    placeholder: "metrics.loss < 0.5 and params.lr = '0.01' and tags.team LIKE 'vision%'",
    "aria-label": "Filter runs", "aria-describedby": "filter-error"});
  const filterError = h("p", {class: "error", id: "filter-error", role: "alert"});
  const grid = h("div", {class: "scroll"});
  const pager = h("div", {class: "pager"});
  const chooser = h("details", {class: "columns"});
  const views = h("select", {"aria-label": "Saved views"});
  const compareButton = h("button", {type: "button", id: "compare", disabled: true, onclick: () =>
    go("/compare", {runs: [...state.selected].join(",")})}, "Compare");
  const clearButton = h("button", {type: "button", id: "clear-selection", hidden: true, onclick: () => {
    state.selected.clear();
    grid.querySelectorAll("input[type=checkbox]").forEach((box) => { box.checked = false; });
    selection();
  }}, "Clear selection");

  function remember() {
    go(`/experiments/${encodeURIComponent(experiment.id)}`,
      {filter: state.filter, order: state.order === DEFAULT_ORDER ? "" : state.order, size: state.size === 50 ? "" : state.size},
      {replace: true});
  }

  // Only the newest search is drawn: a slow answer to an older filter, sort or page never
  // replaces the one asked for since.
  const ask = newestOnly();
  async function load() {
    const current = ask();
    const body = {experiment_ids: [experiment.id], max_results: state.size, order_by: [state.order],
      filter: state.filter || null, page_token: state.tokens[state.page]};
    const early = experiment.id === experimentId ? firstPage : null;
    firstPage = null;
    let page;
    try {
      page = await (early ?? postJson("/api/v1/runs/search", body));
    } catch (error) {
      if (!current()) return;
      if (!(error instanceof ApiError) || ![400, 422].includes(error.status)) throw error;
      filterError.textContent = error.message; // the API says what is wrong, and where
      filterBox.setAttribute("aria-invalid", "true");
      return;
    }
    if (!live() || !current()) return;
    filterError.textContent = "";
    filterBox.removeAttribute("aria-invalid");
    state.runs = page.items;
    state.next = page.next_page_token || null;
    draw();
  }

  function search(reset = true) {
    if (reset) { state.tokens = [null]; state.page = 0; }
    remember();
    return load().catch(fail);
  }

  function fail(error) {
    filterError.textContent = error.message;
  }

  function available() {
    const found = {params: new Set(), metrics: new Set(), tags: new Set()};
    for (const run of state.runs) for (const [kind] of KINDS) Object.keys(run[kind]).forEach((k) => found[kind].add(k));
    return found;
  }

  function columns() {
    if (state.columns) return state.columns;
    const seen = available();
    return {params: [...seen.params].sort().slice(0, AUTO_COLUMNS), metrics: [...seen.metrics].sort().slice(0, AUTO_COLUMNS), tags: []};
  }

  function sortHeader(label, sortTerm) {
    if (!sortTerm) return h("th", {}, label);
    const ascending = state.order === `${sortTerm} ASC`, descending = state.order === `${sortTerm} DESC`;
    return h("th", {"aria-sort": ascending ? "ascending" : descending ? "descending" : "none"},
      h("button", {type: "button", class: "sort", title: `Sort by ${label}`, onclick: () => {
        state.order = `${sortTerm} ${ascending ? "DESC" : "ASC"}`;
        search();
      }}, label, ascending ? " ▲" : descending ? " ▼" : ""));
  }

  function row(run, shown) {
    const box = h("input", {type: "checkbox", "aria-label": `Select ${run.name}`, checked: state.selected.has(run.id),
      onchange: (e) => { e.target.checked ? state.selected.add(run.id) : state.selected.delete(run.id); selection(); }});
    const cells = [
      h("td", {}, box),
      h("td", {class: "name"}, h("a", {href: `#/runs/${encodeURIComponent(run.id)}`}, run.name || run.id)),
      h("td", {}, h("span", {class: `status ${run.status.toLowerCase()}`}, run.status)),
      h("td", {}, format.time(run.start_time)),
      h("td", {}, format.duration(run.start_time, run.end_time)),
      h("td", {}, run.user || ""),
      ...shown.params.map((k) => h("td", {}, run.params[k] ?? "")),
      ...shown.metrics.map((k) => h("td", {class: "num"}, run.metrics[k] ? format.metric(run.metrics[k].value) : "")),
      ...shown.tags.map((k) => h("td", {}, run.tags[k] ?? "")),
    ];
    return h("tr", {dataset: {run: run.id}}, cells);
  }

  function draw() {
    const shown = columns();
    const all = h("input", {type: "checkbox", id: "select-page", "aria-label": "Select every run on this page",
      checked: state.runs.length > 0 && state.runs.every((r) => state.selected.has(r.id)), onchange: (e) => {
        state.runs.forEach((r) => (e.target.checked ? state.selected.add(r.id) : state.selected.delete(r.id)));
        grid.querySelectorAll("tbody input[type=checkbox]").forEach((box) => { box.checked = e.target.checked; });
        selection();
      }});
    const headers = [h("th", {}, all), ...ATTRIBUTES.map(([label, sortTerm]) => sortHeader(label, sortTerm)),
      ...KINDS.flatMap(([kind]) => shown[kind].map((k) => sortHeader(k, term(kind, k))))];
    grid.replaceChildren(state.runs.length
      ? h("table", {class: "grid", id: "runs"}, h("thead", {}, h("tr", {}, headers)),
        h("tbody", {}, state.runs.map((run) => row(run, shown))))
      : h("p", {class: "muted"}, state.filter ? "No run matches the filter." : "No runs in this experiment yet."));
    pager.replaceChildren(
      h("button", {type: "button", disabled: state.page === 0, onclick: () => { state.page -= 1; search(false); }}, "← Previous"),
      h("span", {}, ` Page ${state.page + 1} `),
      h("button", {type: "button", disabled: !state.next, onclick: () => {
        state.tokens[state.page + 1] = state.next; state.page += 1; search(false);
      }}, "Next →"),
      h("label", {}, " Rows per page ", h("select", {onchange: (e) => { state.size = Number(e.target.value); search(); }},
        [25, 50, 100, 250].map((n) => h("option", {value: String(n), selected: n === state.size}, String(n))))));
    drawChooser(shown);
    selection();
  }

  function drawChooser(shown) {
    const seen = available();
    const groups = KINDS.map(([kind, label]) => {
      const keys = [...new Set([...seen[kind], ...shown[kind]])].sort();
      return h("fieldset", {}, h("legend", {}, label), keys.length ? keys.map((k) => h("label", {},
        h("input", {type: "checkbox", checked: shown[kind].includes(k), dataset: {kind, key: k}, onchange: () => {
          const picked = {params: [], metrics: [], tags: []};
          chooser.querySelectorAll("input[data-kind]:checked").forEach((c) => picked[c.dataset.kind].push(c.dataset.key));
          state.columns = picked;
          store(columnsKey, picked);
          draw();
        }}), " ", k)) : h("p", {class: "muted"}, "none on this page"));
    });
    chooser.replaceChildren(h("summary", {}, "Columns"), h("div", {class: "menu"}, groups));
  }

  function selection() {
    compareButton.disabled = state.selected.size < 2;
    compareButton.textContent = state.selected.size ? `Compare ${state.selected.size} runs` : "Compare";
    clearButton.hidden = state.selected.size === 0;
    const all = grid.querySelector("#select-page");
    if (all) all.checked = state.runs.length > 0 && state.runs.every((r) => state.selected.has(r.id));
  }

  function drawViews() {
    const saved = stored(viewsKey, []);
    fill(views, h("option", {value: ""}, saved.length ? "Saved views…" : "No saved views"),
      saved.map((v, i) => h("option", {value: String(i)}, v.name)));
    deleteView.disabled = true;
  }

  const deleteView = h("button", {type: "button", id: "delete-view", disabled: true, onclick: () => {
    const saved = stored(viewsKey, []);
    saved.splice(Number(views.value), 1);
    store(viewsKey, saved);
    drawViews();
  }}, "Delete view");

  views.addEventListener("change", () => {
    const view = stored(viewsKey, [])[Number(views.value)];
    deleteView.disabled = !view;
    if (!view) return;
    state.filter = filterBox.value = view.filter;
    state.order = view.order;
    state.columns = view.columns;
    store(columnsKey, view.columns);
    search();
  });

  const viewName = h("input", {type: "text", placeholder: "View name", "aria-label": "Name of the view to save", size: "12"});
  const saveView = h("form", {class: "save-view", onsubmit: (e) => {
    e.preventDefault();
    const name = viewName.value.trim();
    if (!name) return;
    const saved = stored(viewsKey, []).filter((v) => v.name !== name);
    saved.push({name, filter: state.filter, order: state.order, columns: columns()});
    store(viewsKey, saved);
    viewName.value = "";
    drawViews();
  }}, viewName, h("button", {type: "submit"}, "Save view"));

  const form = h("form", {class: "search", onsubmit: (e) => { e.preventDefault(); state.filter = filterBox.value.trim(); search(); }},
    filterBox, h("button", {type: "submit"}, "Search"));
  drawViews();
  fill(root, 
    h("p", {class: "crumbs"}, h("a", {href: "#/"}, "Experiments"), " / "),
    h("h1", {}, experiment.name),
    form, filterError,
    h("div", {class: "toolbar"}, chooser, views, deleteView, saveView, compareButton, clearButton),
    grid, pager);
  await load();
}
