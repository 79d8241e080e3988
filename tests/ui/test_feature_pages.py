"""The feature-store pages in a real browser: entities and views with their freshness and
materialization, one view's definition and versions, and a skew check run from the page."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from shipyard import Client, Config
from shipyard import features as sf
from shipyard.server import create_app
from shipyard.server._features_schemas import SkewReport
from tests.services import ServerThread
from tests.ui.test_pages import HOSTILE, Tab, browser, tab

__all__ = ["browser", "tab"]  # the browser fixtures of the page tests

pytestmark = pytest.mark.xdist_group("browser")
NOW = pd.Timestamp.now(tz="UTC").floor("s").tz_localize(None)
USERS = list(range(1, 21))


@dataclass
class Site:
    url: str
    shots: Path


def _stats() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame([{"user_id": u, "event_ts": NOW - pd.Timedelta(hours=3 * k + 1),
                          "avg_spend": float(rng.normal(50, 10)), "orders": int(rng.integers(0, 20))}
                         for u in USERS for k in range(3)])


def _view(path: Path, user: sf.Entity, description: str) -> sf.FeatureView:
    return sf.FeatureView("user_stats", entities=[user], source=sf.ParquetSource(str(path), timestamp="event_ts"),
                          features={"avg_spend": "float64", "orders": "int64"}, ttl="7d", description=description)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("feature-ui")
    (home / "stats").mkdir()
    frame = _stats()
    frame.to_parquet(home / "stats" / "part.parquet")
    client = Client(Config(home=home / "home"))
    store = client.features
    user = sf.Entity("user", join_keys=["user_id"], description=HOSTILE)
    store.apply([user, _view(home / "stats", user, "spend per user")])
    store.apply([_view(home / "stats", user, HOSTILE)])  # a second version
    store.apply([sf.Entity("shop", join_keys=["shop_id"])])
    store.materialize(NOW - pd.Timedelta(days=7), NOW)
    latest = frame.sort_values("event_ts").groupby("user_id").tail(1).set_index("user_id")
    changed = latest.loc[[3, 8]].reset_index()  # two users' spend differs online from the offline path
    changed["avg_spend"] += 25.0
    changed["event_ts"] = NOW + pd.Timedelta(seconds=1)
    store.push("user_stats", changed)
    thread = ServerThread(create_app(client=client)).start()
    try:
        yield Site(thread.url, tmp_path_factory.mktemp("screenshots"))
    finally:
        thread.stop()


def test_the_list_shows_entities_and_views_with_freshness_and_materialization(site: Site, tab: Tab) -> None:
    tab.page.goto(site.url + "/")
    tab.page.get_by_role("link", name="Features").click()
    tab.page.wait_for_selector("#feature-objects tbody tr")
    names = tab.page.locator("#feature-objects tbody td.name").all_inner_texts()
    assert names == ["shop", "user", "user_stats"]  # entities, then views, each by name
    view = tab.page.locator("#feature-objects tr[data-name=user_stats]")
    tab.page.wait_for_function("() => !document.querySelector('#feature-objects tr[data-name=user_stats]')"
                               ".textContent.includes('…')")
    assert "ago" in view.inner_text() and "rows" in view.inner_text()
    tab.shot(site.shots, "features")
    tab.page.select_option("#kind-filter", "entity")
    tab.page.wait_for_function("() => document.querySelectorAll('#feature-objects tbody tr').length === 2")
    assert "kind=entity" in tab.page.url
    assert tab.errors == []


def test_a_view_shows_its_definition_versions_and_online_state_and_runs_a_skew_check(site: Site, tab: Tab) -> None:
    tab.page.goto(f"{site.url}/#/features/feature_view/user_stats")
    tab.page.wait_for_selector("#versions tbody tr")
    columns = tab.page.locator("#feature-columns tbody").inner_text().split()
    assert columns == ["avg_spend", "float64", "orders", "int64"]
    assert [t.strip() for t in tab.page.locator("#versions tbody td:first-child").all_inner_texts()] == ["v2", "v1"]
    tab.page.wait_for_selector("#freshness")
    assert "ago" in tab.page.locator("#freshness").inner_text()
    assert "rows" in tab.page.locator("#materialized").inner_text()

    tab.page.fill("#skew-sample", "100")
    tab.page.get_by_role("button", name="Run skew check").click()
    tab.page.wait_for_selector("#skew-features tbody tr")
    spend = tab.page.locator("#skew-features tbody tr", has_text="avg_spend").inner_text().split()
    assert spend[:4] == ["avg_spend", "float64", "20", "2"]
    assert "Skew found" in tab.page.locator("#skew-verdict").inner_text()
    assert tab.page.locator("#skew-differences tbody tr").count() == 2
    tab.shot(site.shots, "feature-view")

    tab.page.fill("#skew-tolerance", "-1")
    tab.page.get_by_role("button", name="Run skew check").click()
    assert tab.page.locator("#skew-tolerance").get_attribute("aria-invalid") == "true"
    tab.page.goto(f"{site.url}/#/features/feature_view/user_stats?version=1")
    tab.page.wait_for_selector("#versions a[aria-current=page]")
    assert tab.page.locator("#versions a[aria-current=page]").inner_text() == "v1"
    assert tab.errors == []


def test_names_and_descriptions_are_shown_as_text(site: Site, tab: Tab) -> None:
    tab.page.goto(f"{site.url}/#/features/entity/user")
    tab.page.wait_for_selector("h1.object-name")
    assert tab.page.locator("dl.summary").inner_text().count(HOSTILE) == 1
    tab.page.goto(f"{site.url}/#/features/feature_view/user_stats")
    tab.page.wait_for_selector("#versions tbody tr")
    assert tab.page.locator("img[src=x]").count() == 0
    tab.page.wait_for_timeout(300)  # an injected onerror would have fired by now
    assert tab.dialogs == [] and tab.errors == []


def test_a_missing_object_shows_the_not_found_view(site: Site, tab: Tab) -> None:
    for path in ("feature_view/nope", "entity/nope", "no_such_kind/user", "feature_view/user_stats?version=9"):
        tab.page.goto(f"{site.url}/#/features/{path}")
        tab.page.wait_for_selector("section.not-found")
        assert tab.page.locator("section.not-found h1").inner_text() == "Not found"
    tab.shot(site.shots, "feature-not-found")
    assert tab.errors == []


def test_the_skew_check_answers_its_declared_report_and_refuses_bad_input_naming_the_field(site: Site) -> None:
    url = site.url + "/api/v1/features/views/user_stats/skew-check"
    report = httpx.post(url, json={"sample": 5})
    assert report.status_code == 200
    assert SkewReport.model_validate(report.json()).sampled_online == 5
    for body, field in (({"sample": 0}, "sample"), ({"tolerance": -1}, "tolerance"), ({"sample": "many"}, "sample")):
        refused = httpx.post(url, json=body)
        assert refused.status_code == 422 and refused.json()["error"]["field"].endswith(field), refused.text
    assert httpx.post(site.url + "/api/v1/features/views/nope/skew-check", json={}).status_code == 404
