// A run's lineage: the datasets it read, the model versions it produced, the runs around
// it, each linked to its page where the UI has one (GET /api/v1/registry/lineage), and a
// link to the lineage view centred on the run.

import {ApiError, getJson} from "../api.js";
import {h, table} from "../dom.js";
import {lineageHref, pageOf, parseNode} from "../lineage_graph.js";

const LABELS = {run: "Run", model_version: "Model version", model: "Model", dataset: "Dataset", feature_view: "Feature view",
  deployment: "Deployment", monitor: "Monitor"};

function nodeCell(text, self) {
  const node = parseNode(text);
  const label = `${LABELS[node.type] || node.type} ${node.id}`;
  if (node.type === "run" && node.id === self) return h("strong", {}, "This run");
  const href = pageOf(node);
  return href ? h("a", {href}, label) : label;
}

/** The lineage section of a run page: one row per edge, upstream first. */
export async function lineageSection(runId) {
  let graph;
  try {
    graph = await getJson("/api/v1/registry/lineage", {type: "run", id: runId});
  } catch (error) {
    if (error instanceof ApiError && [403, 404].includes(error.status)) return h("p", {class: "muted"}, "No lineage to show.");
    throw error;
  }
  const edges = [...graph.upstream, ...graph.downstream];
  if (!edges.length) return h("p", {class: "muted"}, "No lineage recorded for this run.");
  return h("div", {},
    table(["From", "Relation", "To"], edges.map((e) => [nodeCell(e.src, runId), e.relation, nodeCell(e.dst, runId)]),
      {class: "grid", id: "lineage"}),
    h("p", {}, h("a", {href: lineageHref(`run:${runId}`)}, "The run's whole lineage")));
}
