// One pipeline run: its step graph (state, duration and cache hit of each step), a table of
// the steps, and the chosen step's log. While the run is in progress the page asks the API
// again every POLL_MS and redraws what changed; it stops when the run ends or the page is left.

import {ApiError, SignInNeeded, getJson} from "../api.js";
import {dagSvg} from "../dag.js";
import {fill, h, keyValues, notFound, table} from "../dom.js";
import * as format from "../format.js";
import {go} from "../nav.js";
import {statusBadge} from "./pipelines.js";

const POLL_MS = 1500;
const GIVE_UP_AFTER = 20; // failed polls in a row (half a minute) before updates stop
const ENDED = new Set(["FINISHED", "FAILED", "KILLED"]);
const FINAL_STEP = new Set(["done", "cached", "failed", "skipped", "cancelled"]);

/** A step's duration: "340 ms", "2.5 s", "3m 10s". */
export function seconds(value) {
  if (value === null || value === undefined) return "";
  if (value < 1) return `${Math.round(value * 1000)} ms`;
  if (value < 60) return `${value.toFixed(value < 10 ? 2 : 1)} s`;
  return format.duration(1, 1 + value * 1000);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The graph's nodes, with the steps the run recorded (a node the graph lacks is added, its
 * inputs become edges) and each node's state. */
function graphNodes(graph, run) {
  const records = new Map(run.steps.map((s) => [s.node, s]));
  const nodes = graph.steps.map((g) => ({id: g.name, step: g.step, upstream: [...g.upstream]}));
  const known = new Set(nodes.map((n) => n.id));
  for (const s of run.steps) if (!known.has(s.node)) nodes.push({id: s.node, step: s.step, upstream: []});
  for (const node of nodes) {
    const record = records.get(node.id);
    node.upstream = [...new Set([...node.upstream, ...Object.values(record ? record.inputs : {})])];
    node.state = record ? record.state : "pending";
    node.cacheHit = Boolean(record && record.cache_hit);
    node.meta = [node.state, record ? seconds(record.duration_s) : "", node.cacheHit ? "cache hit" : ""]
      .filter(Boolean).join(" · ");
  }
  return nodes;
}

export async function render(root, {params: [runId], query, live}) {
  const url = `/api/v1/pipelines/runs/${encodeURIComponent(runId)}`;
  const state = {run: null, graph: {steps: []}, selected: query.get("step"), log: {node: null, state: null}};
  try {
    [state.run, state.graph] = await Promise.all([getJson(url), getJson(`${url}/graph`)]);
  } catch (error) {
    if (error instanceof ApiError && error.notFound) return notFound(root, `There is no pipeline run ${runId}.`);
    throw error;
  }
  if (!live()) return;
  document.title = `${state.run.pipeline} · Pipeline run · Shipyard`;

  const heading = h("h1", {class: "run-name"});
  const summary = h("div");
  const liveNote = h("p", {id: "live-state", role: "status", class: "muted"});
  const graphBox = h("div", {class: "scroll dag-box", id: "dag"});
  const steps = h("div", {class: "scroll"});
  const logTitle = h("h2", {id: "log-title"}, "Log");
  const logBody = h("div", {id: "step-log"});
  let drawn = "";

  function choose(node) {
    state.selected = node;
    go(`/pipelines/runs/${encodeURIComponent(runId)}`, {step: node}, {replace: true});
    draw(true);
    loadLog().catch(logFailed);
  }

  function draw(force = false) {
    const {run, graph} = state;
    const key = JSON.stringify([run, graph, state.selected]);
    if (!force && key === drawn) return;
    drawn = key;
    heading.textContent = run.pipeline;
    fill(summary, h("dl", {class: "summary"}, [
      ["Run", [h("code", {}, run.run_id), " ", h("a", {href: `#/runs/${encodeURIComponent(run.run_id)}`}, "tracked run")]],
      ["Status", statusBadge(run.status)],
      ["Started", format.time(run.start_time)],
      ["Duration", run.end_time ? format.duration(run.start_time, run.end_time) : "running"],
      ["Executor", run.tags["shipyard.executor"] || ""],
      ...(run.tags["shipyard.resumed_from"] ? [["Resumed from", h("a", {href: `#/pipelines/runs/${encodeURIComponent(run.tags["shipyard.resumed_from"])}`}, run.tags["shipyard.resumed_from"])]] : []),
    ].flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    h("h2", {}, "Params"), keyValues(run.params, "No params."));
    const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest("g[data-node]");
    const nodes = graphNodes(graph, run);
    graphBox.replaceChildren(nodes.length ? dagSvg(nodes, {selected: state.selected, onSelect: choose,
      label: `Steps of ${run.pipeline}`}) : h("p", {class: "muted"}, "No step has been recorded yet."));
    if (focused) { // a redraw keeps the keyboard where it was
      const again = [...graphBox.querySelectorAll("g[data-node]")].find((g) => g.dataset.node === focused.dataset.node);
      if (again) again.focus();
    }
    fill(steps, run.steps.length ? table(["Step", "Function", "State", "Attempt", "Duration", "Cache", "Run", "Error"],
      run.steps.map((s) => h("tr", {dataset: {node: s.node}, class: s.node === state.selected ? "selected" : null},
        h("td", {class: "name"}, h("button", {type: "button", class: "link", "aria-pressed": String(s.node === state.selected),
          onclick: () => choose(s.node)}, s.node)),
        h("td", {}, s.step),
        h("td", {}, h("span", {class: `tag step-${s.state}`}, s.state)),
        h("td", {class: "num"}, s.attempt),
        h("td", {class: "num"}, seconds(s.duration_s)),
        h("td", {}, s.cache_hit ? ["hit", s.cached_from ? [" from ", h("a", {href: `#/runs/${encodeURIComponent(s.cached_from)}`}, s.cached_from.slice(0, 8))] : ""] : ""),
        h("td", {}, s.run_id ? h("a", {href: `#/runs/${encodeURIComponent(s.run_id)}`}, s.run_id.slice(0, 8)) : ""),
        h("td", {class: "value"}, s.error ? `${s.error.type}: ${s.error.message}` : ""))),
    {class: "grid", id: "steps"}) : h("p", {class: "muted"}, "No step has started yet."));
    drawLive();
  }

  function drawLive(problem = null) {
    const polling = !ENDED.has(state.run.status) && live();
    root.dataset.polling = String(polling);
    liveNote.textContent = problem ? `Not updated: ${problem}`
      : polling ? `In progress: updated every ${POLL_MS / 1000} s.` : `The run ended: ${state.run.status}.`;
  }

  async function loadLog() {
    const node = state.selected;
    const record = state.run.steps.find((s) => s.node === node);
    if (!node) {
      logTitle.textContent = "Log";
      fill(logBody, h("p", {class: "muted"}, "Choose a step in the graph or the table to see what it printed."));
      return;
    }
    const stepState = record ? record.state : "pending";
    if (state.log.node === node && state.log.state === stepState && FINAL_STEP.has(stepState)) return; // unchanged
    logTitle.textContent = `Log of ${node}`;
    if (!record) {
      state.log = {node, state: stepState};
      fill(logBody, h("p", {class: "muted"}, "This step has not started."));
      return;
    }
    let text;
    try {
      text = (await getJson(`${url}/steps/${encodeURIComponent(node)}/log`)).text;
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 404) throw error;
      text = null;
    }
    if (!live() || state.selected !== node) return;
    state.log = {node, state: stepState};
    fill(logBody, text ? h("pre", {class: "log", tabindex: "0", "aria-label": `Log of ${node}`}, text)
      : h("p", {class: "muted"}, "The step printed nothing."));
  }

  function logFailed(error) {
    fill(logBody, h("p", {class: "error", role: "alert"}, error.message));
  }

  async function poll() {
    let failures = 0;
    while (live() && !ENDED.has(state.run.status)) {
      await sleep(POLL_MS);
      if (!live()) break;
      try {
        const run = await getJson(url);
        const known = new Set(state.graph.steps.map((s) => s.name));
        if (run.steps.some((s) => !known.has(s.node))) state.graph = await getJson(`${url}/graph`);
        if (!live()) break;
        state.run = run;
        failures = 0;
        draw();
        await loadLog();
      } catch (error) {
        if (!live()) break;
        failures += 1;
        drawLive(error.message);
        if (error instanceof SignInNeeded || failures >= GIVE_UP_AFTER) break;
      }
    }
    if (live()) drawLive(ENDED.has(state.run.status) ? null : "updates stopped; reload the page to try again");
    else delete root.dataset.polling;
  }

  if (!state.selected) {
    const first = state.run.steps.find((s) => s.state === "failed") || state.run.steps.find((s) => s.state === "running");
    state.selected = first ? first.node : null;
  }
  fill(root,
    h("p", {class: "crumbs"}, h("a", {href: "#/pipelines"}, "Pipelines"), " / ",
      h("a", {href: `#/pipelines?${new URLSearchParams({pipeline: state.run.pipeline})}`}, state.run.pipeline), " / "),
    heading, liveNote, summary,
    h("h2", {}, "Steps"), graphBox, steps,
    logTitle, logBody);
  draw(true);
  await loadLog().catch(logFailed);
  poll(); // runs on its own: the page is drawn
}
