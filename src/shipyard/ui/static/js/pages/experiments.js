// The experiments: a table of every experiment, each linking to its runs.

import {getJson} from "../api.js";
import {failure, fill, h, table} from "../dom.js";
import * as format from "../format.js";

export async function render(root, {live}) {
  document.title = "Experiments · Shipyard";
  const items = [];
  const body = h("div");
  const more = h("button", {type: "button", hidden: true}, "More experiments");
  const quick = h("input", {type: "search", placeholder: "Filter by name", "aria-label": "Filter experiments by name",
    oninput: () => draw()});
  let token = null;

  function draw() {
    const needle = quick.value.trim().toLowerCase();
    const shown = items.filter((e) => e.name.toLowerCase().includes(needle));
    body.replaceChildren(shown.length ? table(["Name", "ID", "Created", "Tags"], shown.map((e) => [
      h("a", {href: `#/experiments/${encodeURIComponent(e.id)}`}, e.name),
      e.id,
      format.time(e.created_at),
      Object.entries(e.tags).map(([k, v]) => h("span", {class: "tag"}, `${k}=${v}`)),
    ]), {class: "grid", id: "experiments"}) : h("p", {class: "muted"}, items.length ? "No experiment matches." : "No experiments yet."));
  }

  async function load() {
    const page = await getJson("/api/v1/experiments", token ? {max_results: 500, page_token: token} : {max_results: 500});
    if (!live()) return;
    items.push(...page.items);
    token = page.next_page_token || null;
    more.hidden = !token;
    draw();
  }

  more.addEventListener("click", () => load().catch((error) => failure(root, error)));
  await load();
  fill(root, 
    h("h1", {}, "Experiments"),
    h("p", {class: "muted"}, "Log to this server with ", h("code", {}, `SHIPYARD_URL=${location.origin}`),
      " (or MLflow code with ", h("code", {}, `MLFLOW_TRACKING_URI=${location.origin}`), ")."),
    h("div", {class: "toolbar"}, quick),
    body, more);
}
