// Lineage around one node: datasets, runs, model versions, deployments and monitors, upstream
// and downstream. Clicking a node re-centres the graph on it; the tables below link each node
// to its own page where the UI has one.

import {ApiError, getJson} from "../api.js";
import {fill, h, notFound, table} from "../dom.js";
import {drawGraph, graphOf, lineageHref, pageOf, parseNode, typeLabel} from "../lineage_graph.js";
import {go} from "../nav.js";

const DEPTHS = [1, 2, 3, 5, 10];
const TYPES = ["dataset", "run", "model_version", "deployment", "monitor", "feature_view"];

/** The API call that shows whether the object a node names exists (null: no such check). */
function existence({type, id}) {
  const at = (sep) => id.lastIndexOf(sep);
  if (type === "run") return `/api/v1/runs/${encodeURIComponent(id)}`;
  if (type === "model_version" && at("/") > 0) {
    return `/api/v1/registry/models/${encodeURIComponent(id.slice(0, at("/")))}/versions/${encodeURIComponent(id.slice(at("/") + 1))}`;
  }
  if (type === "dataset" && at("@") > 0) {
    return `/api/v1/datasets/${encodeURIComponent(id.slice(0, at("@")))}/versions/${encodeURIComponent(id.slice(at("@") + 1))}`;
  }
  return null;
}

function chooser(current, depth) {
  const parsed = parseNode(current || "");
  const type = h("select", {id: "lineage-type", "aria-label": "Node type"},
    TYPES.map((t) => h("option", {value: t, selected: t === parsed.type}, typeLabel(t))));
  const id = h("input", {id: "lineage-id", value: parsed.id, placeholder: "churn/3, churn@2, a run id…",
    "aria-label": "Node id", spellcheck: "false"});
  return h("form", {class: "search lineage-chooser", onsubmit: (e) => {
    e.preventDefault();
    if (id.value.trim()) go("/lineage", {node: `${type.value}:${id.value.trim()}`, depth: depth === 3 ? "" : depth});
  }}, type, id, h("button", {type: "submit"}, "Show lineage"));
}

function nodeCell(node) {
  const page = pageOf(node);
  const {type, id} = parseNode(node);
  return h("td", {class: "key"}, h("a", {href: lineageHref(node), title: "Centre the graph here"}, `${typeLabel(type)} ${id}`),
    page ? [" · ", h("a", {href: page, class: "open"}, "open")] : null);
}

function edgeTable(edges, tableId) {
  if (!edges.length) return h("p", {class: "muted"}, "None recorded.");
  return table(["From", "Relation", "To"], edges.map((e) => [nodeCell(e.src), e.relation, nodeCell(e.dst)]),
    {class: "grid", id: tableId});
}

export async function render(root, {query, live}) {
  const node = query.get("node");
  const depth = DEPTHS.includes(Number(query.get("depth"))) ? Number(query.get("depth")) : 3;
  document.title = "Lineage · Shipyard";
  if (!node) {
    fill(root, h("h1", {}, "Lineage"),
      h("p", {class: "muted"}, "Choose a dataset version, run, model version, deployment or monitor to see what fed it ",
        "and what it fed. Model and dataset pages link here too."),
      chooser("", depth));
    return;
  }
  const parsed = parseNode(node);
  const check = existence(parsed);
  try {
    if (check) await getJson(check);
  } catch (error) {
    if (error instanceof ApiError && (error.notFound || error.status === 422)) {
      return notFound(root, `There is no ${typeLabel(parsed.type).toLowerCase()} ${parsed.id}.`);
    }
    throw error;
  }
  const answer = await getJson("/api/v1/registry/lineage", {type: parsed.type, id: parsed.id, max_depth: depth});
  if (!live()) return;
  document.title = `Lineage of ${parsed.id} · Shipyard`;
  const graph = graphOf(answer);
  const page = pageOf(node);
  const depthPicker = h("select", {id: "lineage-depth", onchange: (e) => go("/lineage", {node, depth: e.target.value})},
    DEPTHS.map((d) => h("option", {value: String(d), selected: d === depth}, `${d} hop${d > 1 ? "s" : ""}`)));
  fill(root,
    h("p", {class: "crumbs"}, h("a", {href: "#/lineage"}, "Lineage"), " / "),
    h("h1", {class: "lineage-root"}, `${typeLabel(parsed.type)} ${parsed.id}`),
    h("div", {class: "toolbar"},
      page ? h("a", {class: "button", href: page, id: "open-root"}, `Open the ${typeLabel(parsed.type).toLowerCase()}`) : null,
      h("label", {}, "Depth ", depthPicker), chooser(node, depth)),
    graph.edges.length
      ? h("div", {class: "scroll lineage-scroll", id: "lineage"}, drawGraph(graph, node))
      : h("p", {class: "muted", id: "lineage"}, "No lineage is recorded for this node yet."),
    h("p", {class: "muted"}, "Data flows left to right. Select a node to centre the graph on it."),
    h("h2", {}, "Upstream"), edgeTable(answer.upstream, "upstream"),
    h("h2", {}, "Downstream"), edgeTable(answer.downstream, "downstream"));
}
