"""The dataset pages in a real browser: the list, a dataset's versions, a version's profile
drawn as small charts, the diff of two chosen versions, the inferred contract and a version
validated against it; a missing dataset, and markup in column names and values shown as text."""

from __future__ import annotations

import pytest

from tests.ui.conftest import DATASET, FILES, HOSTILE, Catalog
from tests.ui.test_pages import Tab, browser, tab

__all__ = ["browser", "tab"]  # the browser fixtures of the page tests

pytestmark = pytest.mark.xdist_group("browser")


def open_dataset(tab: Tab, catalog: Catalog, path: str = "") -> None:
    catalog.sign_in(tab.page, "vera")
    tab.page.goto(f"{catalog.url}/#/datasets/{DATASET}{path}")
    tab.page.wait_for_selector("#versions tbody tr")


def column(tab: Tab, name: str) -> str:
    return f"figure.column-profile[data-column='{name}']"


def test_the_list_links_to_a_dataset_and_its_versions(catalog: Catalog, tab: Tab) -> None:
    catalog.sign_in(tab.page, "vera")
    tab.page.goto(f"{catalog.url}/#/datasets")
    tab.page.wait_for_selector("#datasets tbody tr")
    tab.shot(catalog.shots, "datasets")
    tab.page.get_by_role("link", name=DATASET, exact=True).click()
    tab.page.wait_for_selector("#versions tbody tr")
    versions = [v.strip() for v in tab.page.locator("#versions tbody td:first-child").all_inner_texts()]
    assert versions == ["v2", "v1"]  # newest first
    assert tab.page.locator("#version-heading").inner_text() == "Version 2"
    assert tab.errors == []


def test_a_versions_profile_shows_null_rates_histograms_and_top_categories(catalog: Catalog, tab: Tab) -> None:
    open_dataset(tab, catalog, "/versions/2")
    age = tab.page.locator(column(tab, "age"))
    assert "25.0%" in age.locator("dl").inner_text()  # a quarter of the ages are missing
    bars = age.locator("svg.histogram rect.bar")
    assert bars.count() > 3
    assert sum(float(bars.nth(i).get_attribute("height") or 0) for i in range(bars.count())) > 50
    plan = tab.page.locator(column(tab, "plan"))
    labels = plan.locator("svg.categories text.label").all_text_contents()
    assert set(labels) == {"basic", "pro", "enterprise"}
    tab.page.locator(column(tab, "age")).scroll_into_view_if_needed()
    tab.shot(catalog.shots, "dataset-profile")
    assert tab.errors == []


def test_the_diff_of_two_chosen_versions_flags_the_columns_that_moved(catalog: Catalog, tab: Tab) -> None:
    open_dataset(tab, catalog)
    tab.page.fill("#diff-old", "1")
    tab.page.fill("#diff-new", "2")
    tab.page.get_by_role("button", name="Show the changes").click()
    tab.page.wait_for_selector("#diff-columns")
    age = tab.page.locator("#diff-columns tr[data-column=age]")
    assert "differs" in (age.get_attribute("class") or "") and "0.0% → 25.0%" in age.inner_text()
    plan = tab.page.locator("#diff-columns tr[data-column=plan]")
    assert "new: enterprise" in plan.inner_text().replace("\n", " ")
    assert "old=1" in tab.page.url and "new=2" in tab.page.url  # the choice is in the address
    tab.page.reload()
    tab.page.wait_for_selector("#diff-columns tr[data-column=age]")
    tab.shot(catalog.shots, "dataset-diff")
    assert tab.errors == []


def test_a_version_is_validated_against_the_contract_inferred_from_another(catalog: Catalog, tab: Tab) -> None:
    open_dataset(tab, catalog, "/versions/1")
    tab.page.wait_for_selector("#contract tbody tr")
    plan = tab.page.locator("#contract tbody tr", has_text="plan").inner_text()
    assert "basic" in plan and "team" in plan
    tab.page.fill("#validate-version", "2")
    tab.page.get_by_role("button", name="Validate").click()
    tab.page.wait_for_selector("#violations")
    assert "failed" in tab.page.locator("#validation-result p").first.inner_text()
    rules = {tuple(r.split("\t")[:2]) for r in tab.page.locator("#violations tbody tr").all_inner_texts()}
    assert rules == {("age", "type"), ("age", "nullable"), ("plan", "allowed")}
    tab.shot(catalog.shots, "dataset-validation")
    tab.page.fill("#validate-version", "1")
    tab.page.get_by_role("button", name="Validate").click()
    tab.page.wait_for_function("() => document.getElementById('validation-result')?.textContent.includes('passed')")
    assert tab.errors == []


def test_a_missing_dataset_or_version_shows_the_not_found_view(catalog: Catalog, tab: Tab) -> None:
    catalog.sign_in(tab.page, "vera")
    for path in ("#/datasets/no-such-data", f"#/datasets/{DATASET}/versions/9", "#/datasets/bad%20name!"):
        tab.page.goto(f"{catalog.url}/{path}")
        tab.page.wait_for_selector("section.not-found")
        assert tab.page.locator("section.not-found h1").inner_text() == "Not found"
    assert tab.errors == []


def test_markup_in_column_names_and_values_shows_as_text(catalog: Catalog, tab: Tab) -> None:
    open_dataset(tab, catalog, "/versions/2")
    hostile = tab.page.locator(column(tab, HOSTILE))
    assert hostile.locator(".column-name").inner_text() == HOSTILE
    assert HOSTILE[:13] in hostile.locator("svg.categories").inner_html().replace("&lt;", "<")  # drawn as text
    assert HOSTILE in tab.page.locator("#versions").inner_text()  # the version's description
    tab.page.wait_for_selector("#contract tbody tr")
    assert tab.page.locator("#contract td.key", has_text=HOSTILE).count() == 1
    assert tab.page.locator("img[src=x]").count() == 0
    tab.page.wait_for_timeout(200)  # an injected onerror would have fired by now
    assert tab.dialogs == [] and tab.errors == []


def test_a_version_of_files_has_no_profile_and_the_routes_say_which_version(catalog: Catalog, tab: Tab) -> None:
    catalog.sign_in(tab.page, "vera")
    tab.page.goto(f"{catalog.url}/#/datasets/{FILES}")
    tab.page.wait_for_selector("#version-heading")
    assert "holds files, not a table" in tab.page.locator("#view").inner_text()
    with catalog.api("vera") as http:
        for path, params, field in ((f"/datasets/{FILES}/diff", {"old": 1, "new": 1}, "old"),
                                    (f"/datasets/{FILES}/versions/1/contract", {}, "version"),
                                    (f"/datasets/{DATASET}/versions/1/validation", {"contract_version": 9}, None)):
            answer = http.get(path, params=params)
            assert answer.status_code == (422 if field else 404), answer.text
            assert answer.json()["error"].get("field") == field
    assert tab.errors == []
