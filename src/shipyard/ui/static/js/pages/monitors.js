// Monitors: every monitor with its model, reference and window, and how far it has
// computed; paged with the API's page tokens, each linking to its monitor page.

import {getJson} from "../api.js";
import {fill, h, table} from "../dom.js";
import * as format from "../format.js";

const windowText = (seconds) => format.duration(1, 1 + seconds * 1000);

export async function render(root, {query, live}) {
  document.title = "Monitors · Shipyard";
  const size = Math.min(500, Math.max(1, Math.round(Number(query.get("size")) || 50)));
  const state = {tokens: [null], page: 0, next: null};
  const body = h("div");
  const pager = h("div", {class: "pager"});

  async function load() {
    const token = state.tokens[state.page];
    const page = await getJson("/api/v1/monitors", {max_results: size, ...(token ? {page_token: token} : {})});
    if (!live()) return;
    state.next = page.next_page_token || null;
    body.replaceChildren(page.items.length ? table(["Name", "Model", "Window", "Reference", "Computed up to", "Created"],
      page.items.map((m) => [
        h("a", {href: `#/monitors/${encodeURIComponent(m.name)}`}, m.name),
        m.model, windowText(m.window_s), m.reference || h("span", {class: "muted"}, "none (no drift)"),
        m.cursor ? format.time(m.cursor) : h("span", {class: "muted"}, "nothing yet"),
        format.time(m.created_at),
      ]), {class: "grid", id: "monitors"})
      : h("p", {class: "muted"}, "No monitors yet: shipyard monitor create <model> --reference ds:<name>@<version> --window 1h"));
    fill(pager,
      h("button", {type: "button", disabled: state.page === 0, onclick: () => { state.page -= 1; load(); }}, "← Previous"),
      h("button", {type: "button", disabled: !state.next, onclick: () => {
        state.tokens[state.page + 1] = state.next; state.page += 1; load();
      }}, "Next →"));
  }

  await load();
  fill(root, h("h1", {}, "Monitors"),
    h("p", {class: "muted"}, "Each monitor compares a served model's inference log with a reference dataset, window by window. ",
      h("a", {href: "#/alerts"}, "Alert rules"), " watch their series."),
    body, pager);
}
