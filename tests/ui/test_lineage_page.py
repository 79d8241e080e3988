"""The lineage page in a real browser: dataset → run → model version → deployment → monitor
drawn as a layered SVG graph, re-centred by clicking a node upstream or downstream, linked
from and to the model and dataset pages; unknown nodes and markup in node ids."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.ui.conftest import DATASET, DEPLOYMENT, HOSTILE, MODEL, MONITOR, Catalog
from tests.ui.test_pages import Tab, browser, tab

__all__ = ["browser", "tab"]  # the browser fixtures of the page tests

pytestmark = pytest.mark.xdist_group("browser")

VERSION_NODE = f"model_version:{MODEL}/2"
DATASET_NODE = f"dataset:{DATASET}@2"


def open_lineage(tab: Tab, catalog: Catalog, node: str) -> None:
    tab.page.goto(f"{catalog.url}/#/lineage?node={quote(node, safe='')}")
    tab.page.wait_for_selector("svg.lineage-graph a.node.root")


def drawn(tab: Tab) -> list[str]:
    nodes = tab.page.eval_on_selector_all("svg.lineage-graph a.node", "(ns) => ns.map((n) => n.dataset.node)")
    return [str(n) for n in nodes]


def wait_centre(tab: Tab, name: str) -> None:
    tab.page.wait_for_function("(name) => document.querySelector('a.node.root')?.dataset.node === name", arg=name)


def centre(tab: Tab) -> str:
    return str(tab.page.get_attribute("svg.lineage-graph a.node.root", "data-node"))


def node(tab: Tab, name: str) -> str:
    return f"svg.lineage-graph a.node[data-node='{name}']"


def test_the_whole_chain_is_drawn_left_to_right_around_a_model_version(catalog: Catalog, tab: Tab) -> None:
    catalog.sign_in(tab.page, "vera")
    open_lineage(tab, catalog, VERSION_NODE)
    run = f"run:{catalog.runs['v2']}"
    chain = [DATASET_NODE, run, VERSION_NODE, f"deployment:{DEPLOYMENT}", f"monitor:{MONITOR}"]
    assert sorted(drawn(tab)) == sorted(chain) and centre(tab) == VERSION_NODE
    boxes = [tab.page.locator(f"{node(tab, n)} rect").bounding_box() for n in chain]
    assert all(a["x"] + a["width"] < b["x"] for a, b in zip(boxes, boxes[1:], strict=False))  # data flows rightwards
    assert tab.page.locator("svg.lineage-graph g.edge").count() == 4
    assert [r.split("\t")[1] for r in tab.page.locator("#upstream tbody tr").all_inner_texts()] == ["produced", "input"]
    tab.shot(catalog.shots, "lineage")
    assert tab.errors == []


def test_clicking_nodes_recentres_the_graph_upstream_then_downstream(catalog: Catalog, tab: Tab) -> None:
    catalog.sign_in(tab.page, "vera")
    open_lineage(tab, catalog, VERSION_NODE)
    tab.page.locator(node(tab, DATASET_NODE)).click()  # upstream
    wait_centre(tab, DATASET_NODE)
    assert "dataset" in tab.page.url and tab.page.locator("h1.lineage-root").inner_text() == f"Dataset {DATASET}@2"
    tab.page.locator(node(tab, f"deployment:{DEPLOYMENT}")).click()  # downstream, three hops away
    wait_centre(tab, f"deployment:{DEPLOYMENT}")
    assert f"monitor:{MONITOR}" in drawn(tab) and DATASET_NODE in drawn(tab)
    tab.page.go_back()  # the browser's history holds each centre
    wait_centre(tab, DATASET_NODE)
    tab.page.locator(node(tab, VERSION_NODE)).focus()  # nodes are links: usable from the keyboard
    tab.page.keyboard.press("Enter")
    wait_centre(tab, VERSION_NODE)
    tab.page.locator("#open-root").click()  # and on to the model version's own page
    tab.page.wait_for_selector("h1.model-name")
    assert tab.page.locator("#version-heading").inner_text() == "Version 2"
    assert tab.errors == []


def test_model_and_dataset_pages_link_to_the_graph_and_back(catalog: Catalog, tab: Tab) -> None:
    catalog.sign_in(tab.page, "vera")
    tab.page.goto(f"{catalog.url}/#/models/{MODEL}/versions/2")
    tab.page.locator("#lineage-link").click()
    wait_centre(tab, VERSION_NODE)
    tab.page.locator("#upstream a.open[href^='#/datasets/']").click()  # the dataset's page, from the table
    tab.page.wait_for_selector("h1.dataset-name")
    assert tab.page.locator("#version-heading").inner_text() == "Version 2"
    tab.page.locator("#lineage-link").click()
    wait_centre(tab, DATASET_NODE)
    assert tab.errors == []


def test_an_unknown_node_shows_the_not_found_view_and_one_without_edges_says_so(catalog: Catalog, tab: Tab) -> None:
    catalog.sign_in(tab.page, "vera")
    for missing in (f"model_version:{MODEL}/99", "dataset:nothing@1", "run:" + "0" * 32):
        tab.page.goto(f"{catalog.url}/#/lineage?node={quote(missing, safe='')}")
        tab.page.wait_for_selector("section.not-found")
    tab.page.goto(f"{catalog.url}/#/lineage?node={quote(f'model_version:{MODEL}/3', safe='')}")
    tab.page.wait_for_selector("svg.lineage-graph")  # v3's run produced it: one edge
    tab.page.goto(f"{catalog.url}/#/lineage?node=deployment%3Aunknown")
    tab.page.wait_for_selector("p#lineage")
    assert "No lineage" in tab.page.locator("p#lineage").inner_text()
    tab.page.goto(f"{catalog.url}/#/lineage")
    tab.page.fill("#lineage-id", f"{DATASET}@2")
    tab.page.select_option("#lineage-type", "dataset")
    tab.page.get_by_role("button", name="Show lineage").click()
    wait_centre(tab, DATASET_NODE)
    assert tab.errors == []


def test_markup_in_a_node_id_shows_as_text(catalog: Catalog, tab: Tab) -> None:
    catalog.sign_in(tab.page, "vera")
    open_lineage(tab, catalog, f"monitor:{MONITOR}")
    assert tab.page.locator("h1.lineage-root").inner_text() == f"Monitor {MONITOR}"
    label = tab.page.locator(f"{node(tab, f'monitor:{MONITOR}')} tspan.id").text_content() or ""
    assert label.startswith("drift <img")  # drawn as SVG text, cut to fit the box
    assert tab.page.locator("img[src=x]").count() == 0
    tab.page.wait_for_timeout(200)  # an injected onerror would have fired by now
    assert tab.dialogs == [] and tab.errors == []
    assert HOSTILE in tab.page.locator("#upstream").inner_text()
