// The registered models: a table paged with the API's page tokens, filtered by name.

import {getJson} from "../api.js";
import {fill, h, table} from "../dom.js";
import * as format from "../format.js";
import {go} from "../nav.js";

const SIZES = [25, 50, 100];

/** A LIKE pattern that finds `text` anywhere in a name (names hold no %; an _ matches any one letter). */
const containing = (text) => `%${text}%`;

export async function render(root, {query, live}) {
  document.title = "Models · Shipyard";
  const state = {filter: query.get("filter") || "", size: SIZES.includes(Number(query.get("size"))) ? Number(query.get("size")) : 25,
    tokens: [null], page: 0, next: null};
  const body = h("div", {class: "scroll"});
  const pager = h("div", {class: "pager"});
  const box = h("input", {type: "search", id: "model-filter", value: state.filter, placeholder: "Filter by name",
    "aria-label": "Filter models by name"});

  async function load() {
    const params = {max_results: state.size};
    if (state.filter) params.name_like = containing(state.filter);
    if (state.tokens[state.page]) params.page_token = state.tokens[state.page];
    const page = await getJson("/api/v1/registry/models", params);
    if (!live()) return;
    state.next = page.next_page_token || null;
    body.replaceChildren(page.items.length ? table(["Name", "Latest version", "Aliases", "Updated", "Description"],
      page.items.map((m) => [
        h("td", {class: "name"}, h("a", {href: `#/models/${encodeURIComponent(m.name)}`}, m.name)),
        h("td", {class: "num"}, m.latest_version ?? ""),
        Object.entries(m.aliases).sort().map(([alias, v]) => h("span", {class: "tag"}, `@${alias} → v${v}`)),
        format.time(m.updated_at),
        h("td", {class: "value"}, m.description || ""),
      ]), {class: "grid", id: "models"})
      : h("p", {class: "muted"}, state.filter ? "No model matches the filter." : "No registered models yet."));
    pager.replaceChildren(
      h("button", {type: "button", disabled: state.page === 0, onclick: () => { state.page -= 1; load(); }}, "← Previous"),
      h("span", {}, ` Page ${state.page + 1} `),
      h("button", {type: "button", disabled: !state.next, onclick: () => {
        state.tokens[state.page + 1] = state.next; state.page += 1; load();
      }}, "Next →"));
  }

  const form = h("form", {class: "search", onsubmit: (e) => {
    e.preventDefault();
    state.filter = box.value.trim();
    state.tokens = [null];
    state.page = 0;
    go("/models", {filter: state.filter, size: state.size === 25 ? "" : state.size}, {replace: true});
    load();
  }}, box, h("button", {type: "submit"}, "Search"));
  fill(root, h("h1", {}, "Models"),
    h("p", {class: "muted"}, "Register a version with ", h("code", {}, "shipyard.register_model(\"runs:/<id>/model\", \"name\")"), "."),
    form, body, pager);
  await load();
}
