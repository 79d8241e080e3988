"""The monitor and alert pages in a real browser (Debian's Chromium) against a real server
holding a reference dataset, a monitor with twelve computed windows whose ``age`` drifts
more and more, and a rule that fired on them. A column and a rule description holding
markup check that pages show them as text."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from shipyard import Config
from shipyard.alerting import parse_rule
from shipyard.alerting._series import Point
from shipyard.datasets import register_version
from shipyard.monitoring._entities import Monitor, MonitorWindow
from shipyard.monitoring._monitor import load_reference
from shipyard.monitoring._profile import WindowProfile
from shipyard.server import create_app
from shipyard.server._monitoring_schemas import Distribution
from shipyard.tracking import now_ms
from tests.services import ServerThread
from tests.ui.test_pages import HOSTILE, Tab, browser, tab

__all__ = ["browser", "tab"]  # the browser fixtures, shared with the other page tests

pytestmark = pytest.mark.xdist_group("browser")

H = 3_600_000
WINDOWS = 12
NAME = "churn-drift"
RULE = "drift-high"
FEATURES = sorted(["age", "plan", HOSTILE])


@dataclass
class Watch:
    url: str
    shots: Path


def _frame(rows: int, shift: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"age": rng.normal(40 + shift, 8, rows),
                         "plan": rng.choice(["basic", "pro", "team"], rows, p=[0.5, 0.3, 0.2]),
                         HOSTILE: rng.choice([HOSTILE, "plain"], rows)})


@pytest.fixture(scope="module")
def watch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Watch]:
    app = create_app(Config(home=tmp_path_factory.mktemp("watch")))
    thread = ServerThread(app).start()
    try:
        register_version(app.state.datasets, "customers", _frame(2000, 0, 0))
        reference = load_reference(app.state.datasets, "ds:customers@1")
        start = (now_ms() // H - WINDOWS - 1) * H
        store = app.state.monitoring
        store.create_monitor(Monitor(NAME, "churn@production", 3600, reference="ds:customers@1",
                                     task="classification", cursor=start))
        windows, points = [], []
        for i in range(WINDOWS):
            s, e = start + i * H, start + (i + 1) * H
            profile = WindowProfile.of(_frame(300, 2.0 * i, i + 1), reference=reference)
            windows.append(MonitorWindow(NAME, s, e, 300, "ok", "3", None, profile.to_json(), None))
            drift = {"age": 0.02 * i * i, "plan": 0.01, HOSTILE: None if i == 3 else 0.005}
            points += [Point(NAME, "feature_drift_score", s, e, v, {"feature": f}) for f, v in drift.items()]
            points += [Point(NAME, "drift_share", s, e, 0.0 if i < 8 else 0.67),
                       Point(NAME, "accuracy", s, e, 0.91 - 0.01 * i),
                       Point(NAME, "estimated_accuracy", s, e, 0.9 - 0.012 * i),
                       Point(NAME, "error_rate", s, e, 0.0)]
        store.commit(NAME, expect=(start, None), windows=windows, points=points, cursor=start + WINDOWS * H,
                     label_watermark=None)
        app.state.alerts.create_rule(parse_rule("drift_share > 0.3 for 2 windows", name=RULE, monitor=NAME,
                                                severity="critical", description=HOSTILE))
        app.state.alerts.create_rule(parse_rule("accuracy < 0.5 for 3 windows", name="accuracy-low", monitor=NAME))
        assert [e.kind for e in app.state.alert_engine.evaluate()] == ["firing"]
        yield Watch(thread.url, tmp_path_factory.mktemp("screenshots"))
    finally:
        thread.stop()


def test_a_monitor_shows_drift_per_feature_as_a_heatmap_with_a_cell_per_window(watch: Watch, tab: Tab) -> None:
    tab.page.goto(watch.url + "/")
    tab.page.get_by_role("link", name="Monitors").click()
    tab.page.get_by_role("link", name=NAME).click()
    tab.page.wait_for_selector("canvas.heatmap[data-cells]")
    assert tab.page.locator("canvas.heatmap").get_attribute("data-cells") == str(3 * WINDOWS - 1)  # one has no value
    painted = tab.page.evaluate("""() => {
        const c = document.querySelector("canvas.heatmap");
        const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n += 1; return n; }""")
    assert painted > 1000
    assert tab.page.locator("#feature option").all_inner_texts() == FEATURES  # a column of markup, as text
    assert tab.page.locator("main img").count() == 0
    tab.page.wait_for_selector(".charts .plot canvas")
    assert tab.page.locator(".charts figure.chart").count() == 3  # performance, drift share, error rate
    assert "estimated_accuracy" in tab.page.locator(".charts").inner_text()
    tab.shot(watch.shots, "monitor")
    assert tab.errors == []


def test_a_slow_earlier_answer_never_replaces_the_distribution_of_the_cell_clicked_since(watch: Watch,
                                                                                      tab: Tab) -> None:
    tab.hold_first_fetch("/distribution", 1500)
    tab.page.goto(f"{watch.url}/#/monitors/{NAME}")
    canvas = tab.page.wait_for_selector("canvas.heatmap[data-cells]")
    box = canvas.bounding_box()
    assert box is not None and FEATURES[0] != "age"  # the page first asks for FEATURES[0]
    tab.page.mouse.click(box["x"] + box["width"] - 5, box["y"] + FEATURES.index("age") * 22 + 11)
    tab.page.wait_for_selector("figure.distribution-box[data-feature=age]")
    tab.page.wait_for_timeout(2500)  # the held first answer has arrived by now
    assert tab.page.locator("figure.distribution-box").get_attribute("data-feature") == "age"
    assert tab.errors == []


def test_clicking_a_cell_compares_that_features_reference_and_window_distributions(watch: Watch, tab: Tab) -> None:
    tab.page.goto(f"{watch.url}/#/monitors/{NAME}")
    canvas = tab.page.wait_for_selector("canvas.heatmap[data-cells]")
    box = canvas.bounding_box()
    assert box is not None
    row = FEATURES.index("age")
    tab.page.mouse.click(box["x"] + box["width"] - 5, box["y"] + row * 22 + 11)  # age, the newest window
    tab.page.wait_for_selector("figure.distribution-box[data-feature=age] path.current")
    assert tab.page.locator("figure.distribution-box rect.reference").count() == 40  # evenly rebinned
    assert tab.page.locator("#feature").input_value() == "age"
    expected = httpx.get(f"{watch.url}/api/v1/monitors/{NAME}/distribution", params={"feature": "age"}).json()
    assert expected["windows"] == 1 and expected["current"]["count"] == 300
    Distribution.model_validate(expected)  # the answer the route declares
    assert "300 values" in tab.page.locator("figure.distribution-box figcaption").inner_text()
    tab.shot(watch.shots, "monitor-distribution-numeric")
    tab.page.select_option("#feature", "plan")
    tab.page.wait_for_selector("figure.distribution-box[data-feature=plan] rect.current")
    assert tab.page.locator("figure.distribution-box rect.reference").count() == 3
    tab.page.select_option("#window", "all")
    tab.page.wait_for_function("() => document.querySelector('figure.distribution-box figcaption')"
                               "?.textContent.includes('12 window(s)')")
    tab.page.select_option("#feature", HOSTILE)
    tab.page.wait_for_selector("figure.distribution-box rect.current")
    assert tab.page.locator("main img").count() == 0
    tab.shot(watch.shots, "monitor-distribution-categorical")
    assert tab.errors == []


def test_the_alert_timeline_of_a_monitor_and_the_alerts_pages(watch: Watch, tab: Tab) -> None:
    tab.page.goto(f"{watch.url}/#/monitors/{NAME}")
    tab.page.wait_for_selector("#alert-timeline svg.alert-timeline rect.span.firing")
    assert tab.page.locator("#alert-timeline circle.mark.fired").count() == 1
    tab.page.goto(watch.url + "/")
    tab.page.get_by_role("link", name="Alerts", exact=True).click()
    tab.page.wait_for_selector("#rules tbody tr")
    assert sorted(tab.page.locator("#rules tbody tr td:first-child").all_inner_texts()) == ["accuracy-low", RULE]
    assert tab.page.locator("svg.alert-timeline rect.span").count() == 1
    assert "firing" in tab.page.locator("#alerts tbody").inner_text()
    assert "fired" in tab.page.locator("#history tbody").inner_text()
    tab.shot(watch.shots, "alerts")
    tab.page.get_by_role("link", name=RULE).first.click()
    tab.page.wait_for_selector("svg.alert-timeline circle.mark")
    description = tab.page.locator("dl.summary dt", has_text="Description").locator("xpath=following-sibling::dd[1]")
    assert description.inner_text() == HOSTILE  # shown as text
    assert tab.page.locator("main img").count() == 0
    tab.shot(watch.shots, "alert-rule")
    tab.page.goto(f"{watch.url}/#/alerts?state=resolved")
    tab.page.wait_for_selector("#rules")
    assert tab.page.locator("#alerts").count() == 0  # nothing resolved yet
    assert tab.errors == []


def test_unknown_monitors_and_rules_show_the_not_found_view(watch: Watch, tab: Tab) -> None:
    tab.page.goto(f"{watch.url}/#/monitors/nope")
    tab.page.locator("section.not-found", has_text="There is no monitor nope.").wait_for()
    tab.shot(watch.shots, "monitor-not-found")
    tab.page.goto(f"{watch.url}/#/alerts/rules/nope")
    tab.page.locator("section.not-found", has_text="There is no alert rule nope.").wait_for()
    response = httpx.get(f"{watch.url}/api/v1/monitors/{NAME}/distribution", params={"feature": ""})
    assert response.status_code == 422  # a bad query is the caller's fault, never the server's
    assert tab.errors == []


def test_the_monitor_and_alert_pages_pass_axes_wcag_rules(watch: Watch, browser: Any) -> None:
    from tests.ui.test_accessibility import violations

    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    try:
        page = context.new_page()
        found = {path: violations(page, f"{watch.url}/#{path}")
                 for path in ("/monitors", f"/monitors/{NAME}", "/alerts", f"/alerts/rules/{RULE}")}
    finally:
        context.close()
    assert not any(found.values()), found
