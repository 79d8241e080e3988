"""The deployments pages in a real browser (Debian's Chromium) against a real server whose
store holds two registered serving processes: one live with two heartbeats of metrics (so
rates, percentiles and batch sizes are known), one whose heartbeat stopped. A served model
named with markup checks that pages show names as text."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from shipyard import Config
from shipyard.server import create_app
from shipyard.server._deployments_schemas import Deployment
from shipyard.serving._metrics import Metrics, merge
from shipyard.serving._registration import ServeRegistration
from shipyard.serving._serve_stats import summarize
from shipyard.serving._sql_registrations import SqlRegistrationStore
from shipyard.tracking import now_ms
from tests.services import ServerThread
from tests.ui.test_pages import HOSTILE, Tab, browser, tab

__all__ = ["browser", "tab"]  # the browser fixtures, shared with the other page tests

pytestmark = pytest.mark.xdist_group("browser")


@dataclass
class Fleet:
    url: str
    live: str
    gone: str
    shots: Path


def _stats(requests: int, at: int) -> dict[str, Any]:
    metrics = Metrics()
    for i in range(requests):
        metrics.request("churn", "3", "production", 500 if i % 50 == 0 else 200, 0.002 + (i % 10) / 1000)
        metrics.request(HOSTILE, "1", "production", 200, 0.004)
    for _ in range(requests // 100):  # model calls grow with the answers
        for size in (1, 4, 4, 16, 64):
            metrics.batch("churn", "3", size, 0.001)
    metrics.inc("shipyard_model_version_info", ("churn", "production", "3"))
    metrics.inc("shipyard_model_version_info", ("churn", "canary", "4"))
    metrics.inc("shipyard_model_version_info", (HOSTILE, "production", "1"))
    return summarize(merge([metrics.snapshot()]), at=at)


def _models() -> list[dict[str, Any]]:
    return [{"name": "churn", "routes": [{"route": "production", "uri": "models:/churn@production", "weight": 90.0},
                                         {"route": "canary", "uri": "models:/churn/4", "weight": 10.0}],
             "shadow": None},
            {"name": HOSTILE, "routes": [{"route": "production", "uri": f"models:/{HOSTILE}@production",
                                          "weight": 100.0}], "shadow": None}]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    app = create_app(Config(home=tmp_path_factory.mktemp("fleet")))
    thread = ServerThread(app).start()
    try:
        store: SqlRegistrationStore = app.state.deployments
        now = now_ms()
        store.register(ServeRegistration("a" * 32, "http://10.0.0.7:8080", "serving-1", 4242, now - 3_600_000, now,
                                         600_000, _models(), _stats(400, now), _stats(200, now - 2_000)))
        store.register(ServeRegistration("b" * 32, "http://10.0.0.8:8080", "serving-2", 77, now - 7_200_000,
                                         now - 600_000, 2_000, _models()[:1], None))
        yield Fleet(thread.url, "a" * 32, "b" * 32, tmp_path_factory.mktemp("screenshots"))
    finally:
        thread.stop()


def test_the_deployments_page_shows_what_is_served_where_with_live_rates(fleet: Fleet, tab: Tab) -> None:
    expected = httpx.get(f"{fleet.url}/api/v1/deployments/{fleet.live}").json()
    Deployment.model_validate(expected)  # the answer the route declares
    rate = next(m for m in expected["live"]["models"] if m["name"] == "churn")["requests_per_s"]
    assert rate == 100.0  # 200 more answers over the 2 s between the heartbeats
    tab.page.goto(fleet.url + "/")
    tab.page.get_by_role("link", name="Deployments").click()
    tab.page.wait_for_selector("#deployments tbody tr")
    rows = tab.page.locator("#deployments tbody tr")
    assert rows.count() == 3  # two models of the live server, one of the gone one
    live_row = tab.page.locator(f"#deployments tr[data-deployment='{fleet.live}']").first
    text = live_row.inner_text()
    assert "live" in text and "production → v3" in text and "canary → v4" in text and "100" in text
    assert "gone" in tab.page.locator(f"#deployments tr[data-deployment='{fleet.gone}']").inner_text()
    assert tab.page.locator("#deployments td.name", has_text=HOSTILE).count() == 1  # markup shown as text
    assert tab.page.locator("#deployments img").count() == 0
    tab.shot(fleet.shots, "deployments")
    tab.page.select_option("#state-filter", "gone")
    tab.page.wait_for_function("() => document.querySelectorAll('#deployments tbody tr').length === 1")
    assert "state=gone" in tab.page.url
    assert tab.errors == []


def test_a_deployment_page_shows_routes_figures_batch_sizes_and_a_live_chart(fleet: Fleet, tab: Tab) -> None:
    tab.page.goto(f"{fleet.url}/#/deployments")
    tab.page.get_by_role("link", name="http://10.0.0.7:8080").click()
    tab.page.wait_for_selector("section.served-model[data-model=churn] svg.batch-sizes rect.bar")
    section = tab.page.locator("section.served-model[data-model=churn]")
    assert section.locator("svg.batch-sizes rect.bar").count() == 4  # calls of 1, 4, 16 and 64 rows
    figures = section.locator("table.figures").inner_text()
    assert "100" in figures and "400" in figures  # requests/s, and answered in all
    tab.page.wait_for_selector("section.served-model[data-model=churn] .plot canvas")
    assert tab.page.locator("section.served-model h2", has_text=HOSTILE).count() == 1
    tab.page.wait_for_timeout(2_500)  # one refresh: the page keeps polling without errors
    tab.shot(fleet.shots, "deployment")
    assert tab.errors == []


def test_an_unknown_deployment_shows_the_not_found_view(fleet: Fleet, tab: Tab) -> None:
    tab.page.goto(f"{fleet.url}/#/deployments/{'c' * 32}")
    tab.page.wait_for_selector("section.not-found")
    assert "There is no deployment" in tab.page.locator("section.not-found").inner_text()
    tab.page.goto(f"{fleet.url}/#/deployments/{'x' * 80}")  # too long to be an id: named nothing either
    tab.page.locator("section.not-found p", has_text="x" * 80).wait_for()
    tab.shot(fleet.shots, "deployment-not-found")
    assert tab.errors == []


def test_the_deployment_pages_pass_axes_wcag_rules(fleet: Fleet, browser: Any) -> None:
    from tests.ui.test_accessibility import violations

    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    try:
        page = context.new_page()
        found = {path: violations(page, f"{fleet.url}/#{path}")
                 for path in ("/deployments", f"/deployments/{fleet.live}")}
    finally:
        context.close()
    assert not any(found.values()), found
