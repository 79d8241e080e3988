"""The web UI in a real browser: Debian's Chromium, driven by Playwright, against a real
server with a few runs logged. Every page is checked for JavaScript errors, and a
screenshot of each kind of page is saved under the test's temporary folder."""

from __future__ import annotations

import io
import json
import math
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from shipyard import Config
from shipyard.server import create_app
from shipyard.tracking import LogBatch, RunStatus, now_ms
from tests.services import ServerThread

CHROMIUM = "/usr/bin/chromium"  # Debian's package (scripts/services.sh installs it); never a downloaded build
HOSTILE = "<img src=x onerror=alert(1)>"
STEPS = 2000  # more points than any chart is wide: the server must downsample
pytestmark = pytest.mark.xdist_group("browser")  # one Chromium at a time on a two-core machine


@dataclass
class Site:
    url: str
    app: Any
    experiment: str
    runs: dict[str, str]
    shots: Path


def _png() -> bytes:
    """A 2x2 red PNG, written out by hand."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def _log(tracking: Any, experiment: str, name: str, lr: str, offset: float, **tags: str) -> str:
    run = tracking.create_run(experiment, name=name, tags={"team": "vision", **tags})
    points = [(run.id, "loss", 1 / (s + 1) + offset, now_ms(), s) for s in range(STEPS)]
    points += [(run.id, "accuracy", 0.5 + 0.4 * (1 - math.exp(-s / 300)) - offset, now_ms(), s) for s in range(STEPS)]
    tracking.log_batch(LogBatch(metrics=points, params=[(run.id, "lr", lr), (run.id, "depth", "6")]))
    tracking.log_artifact(run.id, "notes.txt", io.BytesIO(b"trained on the small set\n"))
    tracking.log_artifact(run.id, "eval/scores.csv", io.BytesIO(b"fold,auc\n1,0.81\n2,\"0.79\"\n"))
    tracking.log_artifact(run.id, "config.json", io.BytesIO(b'{"layers": [64, 32]}'))
    tracking.log_artifact(run.id, "plots/red.png", io.BytesIO(_png()))
    tracking.update_run(run.id, status=RunStatus.FINISHED, end_time=now_ms() + 61_000)
    return run.id


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    app = create_app(Config(home=tmp_path_factory.mktemp("ui")))
    thread = ServerThread(app).start()
    try:
        tracking = app.state.tracking
        experiment = tracking.create_experiment("ui-demo").id
        runs = {"baseline": _log(tracking, experiment, "baseline", "0.1", 0.2),
                "tuned": _log(tracking, experiment, "tuned", "0.01", 0.0),
                HOSTILE: _log(tracking, experiment, HOSTILE, HOSTILE, 0.1, note=HOSTILE)}
        yield Site(thread.url, app, experiment, runs, tmp_path_factory.mktemp("screenshots"))
    finally:
        thread.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is needed: scripts/services.sh installs it"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


@dataclass
class Tab:
    """A browser tab that records JavaScript errors and dialogs."""

    page: Any
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def shot(self, shots: Path, name: str) -> None:
        self.page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

    def hold_first_fetch(self, url_part: str, ms: int) -> None:
        """Hold back the page's first request whose URL holds ``url_part`` by ``ms``, as a
        slow answer would be (set before the page is opened)."""
        self.page.add_init_script(HOLD_FIRST_FETCH % {"part": json.dumps(url_part), "ms": int(ms)})


HOLD_FIRST_FETCH = """
(() => {
  const fetchNow = window.fetch.bind(window);
  let held = false;
  window.fetch = (url, options) => {
    if (!held && String(url).includes(%(part)s)) {
      held = true;
      return new Promise((resolve) => setTimeout(resolve, %(ms)d)).then(() => fetchNow(url, options));
    }
    return fetchNow(url, options);
  };
})();
"""


@pytest.fixture
def tab(browser: Any) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = Tab(context.new_page())
    tab.page.set_default_timeout(10_000)
    tab.page.on("pageerror", lambda error: tab.errors.append(f"uncaught: {error}"))
    # A 4xx answer is logged as "Failed to load resource": the network's, not a script's error.
    tab.page.on("console", lambda m: tab.errors.append(m.text)
                if m.type == "error" and not m.text.startswith("Failed to load resource") else None)

    def dialog(d: Any) -> None:
        tab.dialogs.append(d.message)
        d.dismiss()

    tab.page.on("dialog", dialog)
    yield tab
    context.close()


def runs_shown(tab: Tab) -> list[str]:
    return [name.strip() for name in tab.page.locator("#runs tbody td.name").all_inner_texts()]


def test_the_experiments_and_the_runs_table_show_what_was_logged(site: Site, tab: Tab) -> None:
    tab.page.goto(site.url + "/")
    tab.page.get_by_role("link", name="ui-demo").click()
    tab.page.wait_for_selector("#runs tbody tr")
    assert sorted(runs_shown(tab)) == sorted(site.runs)
    header = tab.page.locator("#runs thead").inner_text()
    assert "lr" in header and "loss" in header  # params and metrics are columns from the start
    tab.page.goto(site.url + "/")
    tab.page.wait_for_selector("#experiments")
    tab.shot(site.shots, "experiments")
    tab.page.goto(f"{site.url}/#/experiments/{site.experiment}")
    tab.page.wait_for_selector("#runs tbody tr")
    tab.shot(site.shots, "runs")
    assert tab.errors == []


def test_sorting_by_a_metric_column_and_choosing_columns(site: Site, tab: Tab) -> None:
    tab.page.goto(f"{site.url}/#/experiments/{site.experiment}")
    tab.page.locator("#runs thead button", has_text="loss").click()
    tab.page.wait_for_function("() => document.querySelector('#runs th[aria-sort=ascending]') !== null")
    assert runs_shown(tab) == ["tuned", HOSTILE, "baseline"]
    tab.page.locator("#runs thead button", has_text="loss").click()
    tab.page.wait_for_function("() => document.querySelector('#runs th[aria-sort=descending]') !== null")
    assert runs_shown(tab) == ["baseline", HOSTILE, "tuned"]
    tab.page.locator("details.columns summary").click()
    tab.page.locator("details.columns input[data-kind=params][data-key=lr]").uncheck()
    tab.page.locator("details.columns input[data-kind=tags][data-key=team]").check()
    header = tab.page.locator("#runs thead").inner_text()
    assert "lr" not in header.split() and "team" in header
    tab.page.reload()  # the choice is kept in this browser
    tab.page.wait_for_selector("#runs tbody tr")
    assert "team" in tab.page.locator("#runs thead").inner_text()
    assert tab.errors == []


def test_a_filter_narrows_the_runs_and_a_malformed_one_shows_the_apis_message(site: Site, tab: Tab) -> None:
    tab.page.goto(f"{site.url}/#/experiments/{site.experiment}")
    tab.page.wait_for_selector("#runs tbody tr")
    tab.page.fill("#filter", "params.lr = '0.01' and metrics.loss < 1")
    tab.page.press("#filter", "Enter")
    tab.page.wait_for_function("() => document.querySelectorAll('#runs tbody tr').length === 1")
    assert runs_shown(tab) == ["tuned"]
    assert "filter=" in tab.page.url  # the filter is in the address, so the view can be shared

    malformed = "metrics.loss <<< 1"
    expected = httpx.post(site.url + "/api/v1/runs/search",
                          json={"experiment_ids": [site.experiment], "filter": malformed}).json()["error"]["message"]
    tab.page.fill("#filter", malformed)
    tab.page.press("#filter", "Enter")
    tab.page.wait_for_function("() => document.getElementById('filter-error').textContent.length > 0")
    assert tab.page.locator("#filter-error").inner_text() == expected
    assert tab.page.locator("#filter").get_attribute("aria-invalid") == "true"
    assert runs_shown(tab) == ["tuned"]  # the last good answer stays
    tab.shot(site.shots, "runs-filter-error")
    assert tab.errors == []


def test_pages_follow_the_apis_page_tokens(site: Site, tab: Tab) -> None:
    tab.page.goto(f"{site.url}/#/experiments/{site.experiment}?size=2")
    tab.page.wait_for_function("() => document.querySelectorAll('#runs tbody tr').length === 2")
    first = runs_shown(tab)
    tab.page.get_by_role("button", name="Next →").click()
    tab.page.wait_for_function("() => document.querySelectorAll('#runs tbody tr').length === 1")
    assert set(first) | set(runs_shown(tab)) == set(site.runs)
    assert tab.page.get_by_role("button", name="Next →").is_disabled()
    tab.page.get_by_role("button", name="← Previous").click()
    tab.page.wait_for_function("() => document.querySelectorAll('#runs tbody tr').length === 2")
    assert runs_shown(tab) == first
    assert tab.errors == []


def _painted(tab: Tab, selector: str) -> int:
    """How many pixels of the chart's canvas are drawn on."""
    return int(tab.page.evaluate("""(selector) => {
        const canvas = document.querySelector(selector);
        const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
        let painted = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted += 1;
        return painted;
    }""", selector))


def test_a_runs_metrics_are_drawn_downsampled_to_the_charts_width(site: Site, tab: Tab) -> None:
    tab.page.goto(f"{site.url}/#/runs/{site.runs['tuned']}")
    chart = "figure.chart[data-metric=loss]"
    tab.page.wait_for_selector(f"{chart} canvas")
    points = int(tab.page.get_attribute(f"{chart} .plot", "data-points") or 0)
    width = tab.page.evaluate(f"document.querySelector('{chart} .plot').clientWidth")
    assert 2 <= points <= width + 1 < STEPS  # about one point per pixel, not all of them
    assert _painted(tab, f"{chart} canvas") > 500

    box = tab.page.locator(f"{chart} .u-over").bounding_box()
    tab.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    hovered = tab.page.locator(f"{chart} .u-legend .u-series").nth(1).locator(".u-value").inner_text()
    assert float(hovered) > 0  # the value under the cursor

    tab.page.locator("input[name=smoothing]").fill("0.9")
    tab.page.wait_for_function(f"() => document.querySelectorAll('{chart} .u-legend .u-series').length === 3")
    tab.page.locator("input[name=log-scale]").check()
    tab.page.wait_for_selector(f"{chart} canvas")
    assert _painted(tab, f"{chart} canvas") > 500
    tab.shot(site.shots, "run")
    assert tab.errors == []


def test_a_runs_artifacts_are_previewed_by_kind(site: Site, tab: Tab) -> None:
    tab.page.goto(f"{site.url}/#/runs/{site.runs['baseline']}")
    preview = tab.page.locator("#preview")
    tab.page.get_by_role("button", name="notes.txt").click()
    tab.page.wait_for_selector("#preview pre")
    assert preview.locator("pre").inner_text().strip() == "trained on the small set"
    tab.page.get_by_role("button", name="config.json").click()
    tab.page.wait_for_function("() => document.querySelector('#preview pre')?.textContent.includes('\\n  \"layers\"')")
    tab.page.get_by_role("button", name="eval/", exact=True).click()  # files are browsed folder by folder
    tab.page.get_by_role("button", name="eval/scores.csv").click()
    tab.page.wait_for_selector("#preview table")
    assert preview.locator("tbody tr").all_inner_texts() == ["1\t0.81", "2\t0.79"]
    tab.page.get_by_role("button", name="../").click()
    tab.page.get_by_role("button", name="plots/", exact=True).click()
    tab.page.get_by_role("button", name="plots/red.png").click()
    tab.page.wait_for_function("() => document.querySelector('#preview img')?.naturalWidth === 2")
    assert tab.errors == []


def test_compare_shows_the_selected_runs_side_by_side(site: Site, tab: Tab) -> None:
    tab.page.goto(f"{site.url}/#/experiments/{site.experiment}")
    for name in ("baseline", "tuned"):
        tab.page.locator(f"#runs tr[data-run='{site.runs[name]}'] input[type=checkbox]").check()
    tab.page.locator("#compare").click()
    tab.page.wait_for_selector("#compare-runs")
    heads = tab.page.locator("#compare-runs thead th.run-head").all_inner_texts()
    assert [h.strip() for h in heads] == ["baseline", "tuned"]
    lr = tab.page.locator("#params-diff tbody tr", has_text="lr")
    assert "differs" in (lr.get_attribute("class") or "")
    assert "differs" not in (tab.page.locator("#params-diff tbody tr", has_text="depth").get_attribute("class") or "")
    chart = "figure.chart[data-metric=loss]"
    tab.page.wait_for_selector(f"{chart} canvas")
    legend = tab.page.locator(f"{chart} .u-legend .u-series .u-label").all_inner_texts()
    assert legend[1:] == ["baseline", "tuned"]  # one curve per run, overlaid
    assert _painted(tab, f"{chart} canvas") > 500
    tab.shot(site.shots, "compare")
    assert tab.errors == []


def test_names_tags_and_params_are_shown_as_text_never_run_as_html(site: Site, tab: Tab) -> None:
    hostile = site.runs[HOSTILE]
    tab.page.goto(f"{site.url}/#/experiments/{site.experiment}")
    tab.page.wait_for_selector("#runs tbody tr")
    assert HOSTILE in runs_shown(tab)
    tab.page.goto(f"{site.url}/#/runs/{hostile}")
    tab.page.wait_for_selector("h1.run-name")
    assert tab.page.locator("h1.run-name").inner_text() == HOSTILE
    assert tab.page.locator("td.value", has_text=HOSTILE).count() == 2  # the param and the tag
    tab.page.goto(f"{site.url}/#/compare?runs={hostile},{site.runs['tuned']}")
    tab.page.wait_for_selector("#compare-runs")
    assert tab.page.locator("img[src=x]").count() == 0
    tab.page.wait_for_timeout(300)  # an injected onerror would have fired by now
    assert tab.dialogs == [] and tab.errors == []


def test_a_missing_run_shows_the_not_found_view(site: Site, tab: Tab) -> None:
    for path in ("/#/runs/" + "0" * 32, "/#/runs/not-a-run-id", "/#/experiments/987654", "/#/no-such-page"):
        tab.page.goto(site.url + path)
        tab.page.wait_for_selector("section.not-found")
        assert tab.page.locator("section.not-found h1").inner_text() == "Not found"
    tab.page.goto(site.url + "/#/runs/" + "0" * 32)
    tab.page.wait_for_selector("section.not-found")
    tab.shot(site.shots, "not-found")
    assert tab.errors == []


def test_a_viewer_signs_in_with_a_password_and_sees_the_runs(tmp_path: Path, browser: Any, tab: Tab) -> None:
    app = create_app(Config(home=tmp_path))
    thread = ServerThread(app).start()
    try:
        app.state.access.create_user("vera", "viewer", "correct horse battery")
        experiment = app.state.tracking.create_experiment("private").id
        app.state.tracking.create_run(experiment, name="secret-run")
        tab.page.goto(f"{thread.url}/#/experiments/{experiment}")
        tab.page.wait_for_selector("form.login")
        tab.shot(tmp_path, "login")
        tab.page.fill("#username", "vera")
        tab.page.fill("#password", "wrong")
        tab.page.get_by_role("button", name="Sign in").click()
        tab.page.wait_for_function("() => document.getElementById('login-error').textContent.length > 0")
        tab.page.fill("#password", "correct horse battery")
        tab.page.get_by_role("button", name="Sign in").click()
        tab.page.wait_for_selector("#runs tbody tr")  # back where the browser was going
        assert runs_shown(tab) == ["secret-run"]
        assert "vera" in tab.page.locator("#who").inner_text()
        tab.page.get_by_role("button", name="Sign out").click()
        tab.page.wait_for_selector("form.login")
        assert tab.page.evaluate("fetch('/api/v1/experiments').then((r) => r.status)") == 401
        assert tab.errors == []
    finally:
        thread.stop()
