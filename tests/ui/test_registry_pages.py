"""The registry pages in a real browser: the paged models list, a model's page (versions,
aliases, policy, gate results, audit trail, model card, lineage), moving an alias through the
API's gate and permission checks, and the refusals a gate or a role gives, shown as the API
wrote them."""

from __future__ import annotations

import pytest

from tests.ui.conftest import HOSTILE, MODEL, Catalog
from tests.ui.test_pages import Tab, browser, tab

__all__ = ["browser", "tab"]  # the browser fixtures of the page tests

pytestmark = pytest.mark.xdist_group("browser")


def aliases(catalog: Catalog) -> dict[str, int]:
    with catalog.api("vera") as http:
        return dict(http.get(f"/registry/models/{MODEL}").json()["aliases"])


def open_model(tab: Tab, catalog: Catalog, user: str, query: str = "") -> None:
    catalog.sign_in(tab.page, user)
    tab.page.goto(f"{catalog.url}/#/models/{MODEL}{query}")
    tab.page.wait_for_selector("#versions tbody tr")


def move(tab: Tab, alias: str, version: int, reason: str = "") -> None:
    tab.page.fill("#alias-name", alias)
    tab.page.fill("#alias-version", str(version))
    tab.page.fill("#alias-reason", reason)
    tab.page.get_by_role("button", name="Move alias").click()


def test_the_models_list_pages_through_every_model_and_links_to_each(catalog: Catalog, tab: Tab) -> None:
    catalog.sign_in(tab.page, "vera")
    tab.page.goto(f"{catalog.url}/#/models")
    tab.page.wait_for_selector("#models tbody tr")
    first = tab.page.locator("#models td.name").all_inner_texts()
    tab.shot(catalog.shots, "models")
    tab.page.get_by_role("button", name="Next →").click()
    tab.page.wait_for_function("(top) => document.querySelector('#models td.name')?.textContent !== top", arg=first[0])
    second = tab.page.locator("#models td.name").all_inner_texts()
    with catalog.api("vera") as http:
        every = [m["name"] for m in http.get("/registry/models", params={"max_results": 1000}).json()["items"]]
    assert len(first) == 25 and first + second == every
    assert tab.page.get_by_role("button", name="Next →").is_disabled()
    tab.page.get_by_role("button", name="← Previous").click()
    tab.page.get_by_role("link", name=MODEL, exact=True).click()
    tab.page.wait_for_selector("h1.model-name")
    assert tab.page.locator("h1.model-name").inner_text() == MODEL
    assert tab.errors == []


def test_a_model_page_shows_versions_aliases_policy_gates_audit_card_and_lineage(catalog: Catalog, tab: Tab) -> None:
    open_model(tab, catalog, "vera", "/versions/3")
    assert tab.page.locator("#versions tbody tr").count() == 3
    assert tab.page.locator("#aliases tr[data-alias=production]").inner_text().split("\t")[1].startswith("version")
    assert "min_metric" in tab.page.locator("#policy").inner_text()
    gate = tab.page.locator("#gates section.gate[data-alias=production]")
    gate.wait_for()
    row = gate.locator("tr", has_text="auc >= 0.8")
    assert "fail" in row.inner_text() and "auc = 0.7" in row.inner_text()
    tab.page.wait_for_selector("#model-card h3")
    assert tab.page.locator("#model-card h3").first.inner_text() == f"Model card: {MODEL} v3"
    tab.page.wait_for_selector("#version-lineage li")
    assert tab.page.locator("#version-lineage").inner_text().count("Run ") == 1  # the run that produced it
    assert tab.page.locator("#audit tbody tr[data-action=set_alias]").count() >= 2
    tab.shot(catalog.shots, "model")
    assert tab.errors == []


def test_an_editor_moves_an_unguarded_alias_and_the_trail_records_it(catalog: Catalog, tab: Tab) -> None:
    open_model(tab, catalog, "eddie")
    before = tab.page.locator("#audit tbody tr").count()
    move(tab, "staging", 2, "ready for the shadow test")
    tab.page.wait_for_selector("#alias-result .ok")
    assert tab.page.locator("#alias-result").inner_text() == "@staging now points at version 2."
    tab.page.wait_for_function(
        "() => document.querySelector('#aliases tr[data-alias=staging]').textContent.includes('version 2')")
    tab.page.wait_for_function(f"() => document.querySelectorAll('#audit tbody tr').length === {before + 1}")
    last = tab.page.locator("#audit tbody tr").last.inner_text()
    assert "eddie" in last and "@staging: v1 → v2" in last and "ready for the shadow test" in last
    assert aliases(catalog)["staging"] == 2
    tab.shot(catalog.shots, "model-alias-moved")
    assert tab.errors == []


def test_a_gate_that_refuses_a_promotion_shows_each_failed_check(catalog: Catalog, tab: Tab) -> None:
    open_model(tab, catalog, "april")
    move(tab, "production", 3)
    tab.page.wait_for_selector("#refusal-checks")
    checks = tab.page.locator("#refusal-checks tbody tr").all_inner_texts()
    assert any("auc >= 0.8" in c and "fail" in c for c in checks)
    assert any("beats holder" in c and "fail" in c for c in checks)
    assert "refused" in tab.page.locator("#alias-result p.error").inner_text()
    assert aliases(catalog)["production"] == 1
    tab.shot(catalog.shots, "model-promotion-refused")
    move(tab, "production", 2, "beats v1")  # the gate passes: the alias moves
    tab.page.wait_for_selector("#alias-result .ok")
    assert aliases(catalog)["production"] == 2
    assert tab.errors == []


def test_a_viewer_who_tries_to_move_an_alias_sees_the_apis_refusal(catalog: Catalog, tab: Tab) -> None:
    open_model(tab, catalog, "vera")
    before = aliases(catalog)
    with catalog.api("vera") as http:
        expected = http.put(f"/registry/models/{MODEL}/aliases/staging", json={"version": 3}).json()["error"]["message"]
    move(tab, "staging", 3)
    tab.page.wait_for_selector("#alias-result p.error")
    assert tab.page.locator("#alias-result p.error").inner_text() == expected
    assert "vera" in expected
    assert aliases(catalog) == before
    assert tab.page.get_by_role("button", name="Move alias").is_enabled()  # it can be tried again
    tab.shot(catalog.shots, "model-viewer-refused")
    assert tab.errors == []


def test_a_missing_model_or_version_shows_the_not_found_view(catalog: Catalog, tab: Tab) -> None:
    catalog.sign_in(tab.page, "vera")
    for path in ("#/models/no-such-model", f"#/models/{MODEL}/versions/99", "#/models/bad%20name!"):
        tab.page.goto(f"{catalog.url}/{path}")
        tab.page.wait_for_selector("section.not-found")
        assert tab.page.locator("section.not-found h1").inner_text() == "Not found"
    tab.shot(catalog.shots, "model-not-found")
    assert tab.errors == []


def test_markup_in_a_models_description_tags_and_trail_shows_as_text(catalog: Catalog, tab: Tab) -> None:
    open_model(tab, catalog, "vera")
    assert tab.page.locator("p.description").inner_text() == f"Predicts churn {HOSTILE}"
    tab.page.wait_for_selector("#model-card p")
    assert f"Ranking accounts {HOSTILE}" in tab.page.locator("#model-card").inner_text()
    assert HOSTILE in tab.page.locator("#audit").inner_text()  # an alias move's reason
    assert tab.page.locator("img[src=x]").count() == 0
    tab.page.wait_for_timeout(200)  # an injected onerror would have fired by now
    assert tab.dialogs == [] and tab.errors == []


def test_a_gate_check_that_cannot_run_is_reported_failed_with_its_reason(catalog: Catalog) -> None:
    registry = catalog.app.state.registry
    registry.create_model_version("timed", f"runs:/{catalog.runs['v1']}/model")  # a package that cannot load
    registry.set_policy("timed", {"rules": [{"type": "max_latency", "p99_ms": 50}]})
    with catalog.api("vera") as http:
        reports = http.get("/registry/models/timed/versions/1/gates").json()["items"]
        assert http.get("/registry/models/timed/versions/1/gates", params={"alias": "staging"}).json() == {"items": []}
    [check] = reports[0]["checks"]
    assert reports[0]["alias"] == "production" and reports[0]["passed"] is False
    assert check["rule"] == "max_latency" and check["detail"].startswith("could not be checked: ")
