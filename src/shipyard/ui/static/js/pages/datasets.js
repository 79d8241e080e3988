// The datasets: a table by name, paged with the API's page tokens.

import {getJson} from "../api.js";
import {fill, h, table} from "../dom.js";
import * as format from "../format.js";

const PAGE = 50;

export async function render(root, {live}) {
  document.title = "Datasets · Shipyard";
  const state = {tokens: [null], page: 0};
  const body = h("div", {class: "scroll"});
  const pager = h("div", {class: "pager"});

  async function load() {
    const params = {max_results: PAGE};
    if (state.tokens[state.page]) params.page_token = state.tokens[state.page];
    const page = await getJson("/api/v1/datasets", params);
    if (!live()) return;
    body.replaceChildren(page.items.length ? table(["Name", "Latest version", "Updated", "Description"], page.items.map((d) => [
      h("td", {class: "name"}, h("a", {href: `#/datasets/${encodeURIComponent(d.name)}`}, d.name)),
      h("td", {class: "num"}, d.latest_version ?? ""),
      format.time(d.updated_at),
      h("td", {class: "value"}, d.description || ""),
    ]), {class: "grid", id: "datasets"}) : h("p", {class: "muted"}, "No datasets registered yet."));
    pager.replaceChildren(
      h("button", {type: "button", disabled: state.page === 0, onclick: () => { state.page -= 1; load(); }}, "← Previous"),
      h("span", {}, ` Page ${state.page + 1} `),
      h("button", {type: "button", disabled: !page.next_page_token, onclick: () => {
        state.tokens[state.page + 1] = page.next_page_token; state.page += 1; load();
      }}, "Next →"));
  }

  fill(root, h("h1", {}, "Datasets"),
    h("p", {class: "muted"}, "Register a version with ", h("code", {}, "shipyard.data.register(\"name\", df)"), "."),
    body, pager);
  await load();
}
