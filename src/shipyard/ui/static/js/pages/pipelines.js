// Pipeline runs, newest first: filtered by pipeline and status (kept in the address), paged
// with the API's page tokens, each linking to its run page.

import {getJson} from "../api.js";
import {fill, h, table} from "../dom.js";
import * as format from "../format.js";
import {go} from "../nav.js";

const STATUSES = ["RUNNING", "FINISHED", "FAILED", "KILLED", "SCHEDULED"];
const SIZES = [25, 50, 100];

/** A status badge, as the runs table draws it. */
export function statusBadge(status) {
  return h("span", {class: `status ${String(status).toLowerCase()}`}, status);
}

/** "3 done · 1 cached": how many steps are in each state. */
export function stepCounts(states) {
  return Object.entries(states || {}).sort(([a], [b]) => a.localeCompare(b))
    .map(([state, n]) => h("span", {class: `tag step-${state}`}, `${n} ${state}`));
}

export async function render(root, {query, live}) {
  document.title = "Pipeline runs · Shipyard";
  const state = {pipeline: query.get("pipeline") || "", status: query.get("status") || "",
    size: Math.min(500, Math.max(1, Math.round(Number(query.get("size")) || 50))), tokens: [null], page: 0,
    next: null};
  const name = h("input", {type: "search", id: "pipeline-filter", value: state.pipeline, placeholder: "Pipeline name",
    "aria-label": "Pipeline name"});
  const status = h("select", {id: "status-filter", "aria-label": "Status"},
    h("option", {value: ""}, "Any status"),
    STATUSES.map((s) => h("option", {value: s, selected: s === state.status}, s)));
  const body = h("div", {class: "scroll"}, h("p", {class: "muted"}, "Loading…"));
  const pager = h("div", {class: "pager"});

  async function load() {
    const q = {max_results: state.size};
    if (state.pipeline) q.pipeline = state.pipeline;
    if (state.status) q.status = state.status;
    if (state.tokens[state.page]) q.page_token = state.tokens[state.page];
    const page = await getJson("/api/v1/pipelines/runs", q);
    if (!live()) return;
    state.next = page.next_page_token || null;
    draw(page.items);
  }

  function draw(runs) {
    body.replaceChildren(runs.length ? table(["Pipeline", "Run", "Status", "Started", "Duration", "Steps", "Params"],
      runs.map((run) => h("tr", {dataset: {run: run.run_id}},
        h("td", {class: "name"}, run.pipeline),
        h("td", {}, h("a", {href: `#/pipelines/runs/${encodeURIComponent(run.run_id)}`}, h("code", {}, run.run_id.slice(0, 12)))),
        h("td", {}, statusBadge(run.status)),
        h("td", {}, format.time(run.start_time)),
        h("td", {}, run.end_time ? format.duration(run.start_time, run.end_time) : "running"),
        h("td", {}, stepCounts(run.step_states)),
        h("td", {class: "value"}, Object.entries(run.params).map(([k, v]) => h("span", {class: "tag"}, `${k}=${v}`))))),
      {class: "grid", id: "pipeline-runs"})
      : h("p", {class: "muted"}, state.pipeline || state.status ? "No pipeline run matches." : "No pipeline has run yet."));
    pager.replaceChildren(
      h("button", {type: "button", disabled: state.page === 0, onclick: () => { state.page -= 1; refresh(false); }}, "← Previous"),
      h("span", {}, ` Page ${state.page + 1} `),
      h("button", {type: "button", disabled: !state.next, onclick: () => {
        state.tokens[state.page + 1] = state.next; state.page += 1; refresh(false);
      }}, "Next →"),
      h("label", {}, " Rows per page ", h("select", {onchange: (e) => { state.size = Number(e.target.value); refresh(); }},
        [...new Set([...SIZES, state.size])].sort((a, b) => a - b)
          .map((n) => h("option", {value: String(n), selected: n === state.size}, String(n))))));
  }

  function refresh(reset = true) {
    if (reset) { state.tokens = [null]; state.page = 0; }
    go("/pipelines", {pipeline: state.pipeline, status: state.status, size: state.size === 50 ? "" : state.size},
      {replace: true});
    return load().catch((error) => body.replaceChildren(h("p", {class: "error", role: "alert"}, error.message)));
  }

  const form = h("form", {class: "toolbar", onsubmit: (e) => {
    e.preventDefault();
    state.pipeline = name.value.trim();
    state.status = status.value;
    refresh();
  }}, name, status, h("button", {type: "submit"}, "Show"));
  status.addEventListener("change", () => form.requestSubmit());
  fill(root, h("h1", {}, "Pipeline runs"), form, body, pager);
  await load();
}
