"""The run pages in a real browser (Debian's Chromium through Playwright) against a real
server: the runs table's selection and saved views, a run's system metrics, overlaid
runs, lineage and artifact previews (Parquet heads, model packages), and the parallel
coordinates of a comparison. Screenshots go under the test's temporary folder."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from shipyard import Config
from shipyard.lineage import Edge, Node
from shipyard.server import create_app
from shipyard.tracking import LogBatch, RunStatus, now_ms
from tests.services import ServerThread
from tests.ui import test_pages as pages
from tests.ui.test_pages import Tab

HOSTILE = "<img src=x onerror=alert(1)>"
STEPS = 300
pytestmark = pytest.mark.xdist_group("browser")
browser = pages.browser  # the same Chromium and tab fixtures as the other page tests
tab = pages.tab

MANIFEST = b"""flavor: sklearn
framework: scikit-learn
framework_version: '1.5.2'
python_version: '3.11.7'
requirements: ['scikit-learn==1.5.2']
signature:
  kind: columns
  inputs: [{name: age, dtype: int64}, {name: income, dtype: float64, optional: true}]
  outputs: [{name: churn, dtype: float64}]
files: {model.pkl: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'}
"""


@dataclass
class Site:
    url: str
    app: Any
    experiment: str
    runs: dict[str, str]
    shots: Path


def _log(tracking: Any, experiment: str, name: str, depth: str, lr: str, auc: float) -> str:
    run = tracking.create_run(experiment, name=name)
    points = [(run.id, "loss", auc / (s + 1), now_ms(), s) for s in range(STEPS)]
    points += [(run.id, "auc", auc * s / STEPS, now_ms(), s) for s in range(STEPS)]
    points += [(run.id, "system/cpu_percent", 20.0 + s % 7, now_ms(), s) for s in range(STEPS)]
    params = [(run.id, "depth", depth), (run.id, "lr", lr), (run.id, "optimizer", "adam")]
    tracking.log_batch(LogBatch(metrics=points, params=params))
    tracking.update_run(run.id, status=RunStatus.FINISHED, end_time=now_ms() + 5_000)
    return run.id


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    app = create_app(Config(home=tmp_path_factory.mktemp("ui")))
    thread = ServerThread(app).start()
    try:
        tracking = app.state.tracking
        experiment = tracking.create_experiment("run-pages").id
        runs = {name: _log(tracking, experiment, name, depth, lr, auc) for name, depth, lr, auc in
                [("small", "3", "0.1", 0.7), ("medium", "6", "0.05", 0.8), ("large", "9", "0.01", 0.9),
                 (HOSTILE, HOSTILE, "0.2", 0.75)]}
        table = pd.DataFrame({"age": range(50), "city": [HOSTILE] * 50, "score": [i / 10 for i in range(50)]})
        parquet = io.BytesIO()
        table.to_parquet(parquet)
        tracking.log_artifact(runs["large"], "data/sample.parquet", io.BytesIO(parquet.getvalue()))
        tracking.log_artifact(runs["large"], "model/model.yaml", io.BytesIO(MANIFEST))
        tracking.log_artifact(runs["large"], "model/model.pkl", io.BytesIO(b"not really a pickle"))
        tracking.log_artifact(runs["large"], "notes.txt", io.BytesIO(HOSTILE.encode()))
        app.state.registry.lineage_store.add([
            Edge(Node("dataset", "churn@3"), "input", Node("run", runs["large"])),
            Edge(Node("run", runs["large"]), "produced", Node("model_version", "churn/1")),
        ], now_ms())
        yield Site(thread.url, app, experiment, runs, tmp_path_factory.mktemp("screenshots"))
    finally:
        thread.stop()


def _rows(tab: Tab) -> int:
    return int(tab.page.locator("#runs tbody tr").count())


def test_the_page_checkbox_selects_every_run_shown_and_clear_empties_the_selection(site: Site, tab: Tab) -> None:
    tab.page.goto(f"{site.url}/#/experiments/{site.experiment}")
    tab.page.wait_for_selector("#runs tbody tr")
    tab.page.locator("#select-page").check()
    assert tab.page.locator("#compare").inner_text() == "Compare 4 runs"
    tab.page.locator(f"#runs tr[data-run='{site.runs['small']}'] input[type=checkbox]").uncheck()
    assert not tab.page.locator("#select-page").is_checked()
    assert tab.page.locator("#compare").inner_text() == "Compare 3 runs"
    tab.page.locator("#clear-selection").click()
    assert tab.page.locator("#compare").is_disabled()
    assert tab.page.locator("#runs tbody input:checked").count() == 0
    assert tab.errors == []


def test_a_slow_earlier_search_never_replaces_the_runs_of_a_filter_entered_since(site: Site, tab: Tab) -> None:
    tab.hold_first_fetch("/runs/search", 1500)
    tab.page.goto(f"{site.url}/#/experiments/{site.experiment}")
    tab.page.fill("#filter", "metrics.auc > 0.85")
    tab.page.press("#filter", "Enter")
    tab.page.wait_for_function("() => document.querySelectorAll('#runs tbody tr').length === 1")
    tab.page.wait_for_timeout(2500)  # the held first answer, with every run, has arrived by now
    assert tab.page.locator("#runs tbody tr").count() == 1
    assert tab.errors == []


def test_a_saved_view_brings_back_its_filter_and_can_be_deleted(site: Site, tab: Tab) -> None:
    tab.page.goto(f"{site.url}/#/experiments/{site.experiment}")
    tab.page.wait_for_selector("#runs tbody tr")
    tab.page.fill("#filter", "metrics.auc > 0.85")
    tab.page.press("#filter", "Enter")
    tab.page.wait_for_function("() => document.querySelectorAll('#runs tbody tr').length === 1")
    tab.page.get_by_label("Name of the view to save").fill("best")
    tab.page.get_by_role("button", name="Save view").click()
    tab.page.goto(f"{site.url}/#/experiments/{site.experiment}?x=1")
    tab.page.wait_for_function("() => document.querySelectorAll('#runs tbody tr').length === 4")
    tab.page.get_by_label("Saved views").select_option(label="best")
    tab.page.wait_for_function("() => document.querySelectorAll('#runs tbody tr').length === 1")
    assert tab.page.locator("#filter").input_value() == "metrics.auc > 0.85"
    tab.page.get_by_label("Saved views").select_option(label="best")
    tab.page.locator("#delete-view").click()
    assert tab.page.get_by_label("Saved views").locator("option").all_inner_texts() == ["No saved views"]
    assert tab.errors == []


def test_system_metrics_are_charted_apart_from_the_models(site: Site, tab: Tab) -> None:
    tab.page.goto(f"{site.url}/#/runs/{site.runs['medium']}")
    tab.page.wait_for_selector("#system-charts figure[data-metric='system/cpu_percent'] canvas")
    model = tab.page.locator("#model-charts figure").evaluate_all("(fs) => fs.map((f) => f.dataset.metric)")
    assert model == ["auc", "loss"]
    assert tab.page.locator("#system-metrics td.key").all_inner_texts() == ["system/cpu_percent"]
    assert tab.errors == []


def test_another_run_overlaid_on_a_runs_charts_is_kept_in_the_address(site: Site, tab: Tab) -> None:
    tab.page.goto(f"{site.url}/#/runs/{site.runs['medium']}")
    chart = "#model-charts figure[data-metric=loss]"
    tab.page.wait_for_selector(f"{chart} canvas")
    tab.page.get_by_label("Run to overlay on the charts").select_option(value=site.runs["large"])
    tab.page.locator("#overlay-add").click()
    tab.page.wait_for_function(f"() => document.querySelectorAll('{chart} .u-legend .u-series').length === 3")
    legend = tab.page.locator(f"{chart} .u-legend .u-series .u-label").all_inner_texts()
    assert legend[1:] == ["medium", "large"]
    assert f"with={site.runs['large']}" in tab.page.url
    tab.shot(site.shots, "run-overlay")
    tab.page.reload()  # the overlay is part of the address
    tab.page.wait_for_function(f"() => document.querySelectorAll('{chart} .u-legend .u-series').length === 3")
    tab.page.get_by_role("button", name="Stop overlaying large").click()
    tab.page.wait_for_function(f"() => document.querySelectorAll('{chart} .u-legend .u-series').length === 2")
    assert tab.errors == []


def test_a_runs_lineage_links_its_dataset_and_model_version(site: Site, tab: Tab) -> None:
    tab.page.goto(f"{site.url}/#/runs/{site.runs['large']}")
    tab.page.wait_for_selector("#lineage")
    rows = [r.split("\t") for r in tab.page.locator("#lineage tbody tr").all_inner_texts()]
    assert rows == [["Dataset churn@3", "input", "This run"], ["This run", "produced", "Model version churn/1"]]
    link = tab.page.get_by_role("link", name="Model version churn/1")
    assert link.get_attribute("href") == "#/models/churn/versions/1"
    assert tab.errors == []


def test_a_model_package_shows_its_manifest_and_signature(site: Site, tab: Tab) -> None:
    tab.page.goto(f"{site.url}/#/runs/{site.runs['large']}")
    tab.page.wait_for_selector("#model-package")  # the run's one package is shown at once
    text = tab.page.locator("#model-package").inner_text()
    assert "scikit-learn 1.5.2" in text and "scikit-learn==1.5.2" in text
    inputs = tab.page.locator("#model-package table.kv").nth(1).locator("tbody tr").all_inner_texts()
    assert inputs == ["age\tint64\t", "income\tfloat64 (optional)\t"]
    tab.shot(site.shots, "run-model-package")
    assert tab.errors == []


def test_artifacts_are_browsed_by_folder_and_a_parquet_head_is_shown(site: Site, tab: Tab) -> None:
    tab.page.goto(f"{site.url}/#/runs/{site.runs['large']}")
    tab.page.wait_for_selector("#artifacts")
    names = tab.page.locator("#artifacts tbody td:first-child").all_inner_texts()
    assert names == ["data/", "model/", "notes.txt"]
    tab.page.get_by_role("button", name="data/", exact=True).click()
    tab.page.get_by_role("button", name="data/sample.parquet").click()
    tab.page.wait_for_selector("#preview table.table-head")
    head = tab.page.locator("#preview table.table-head")
    assert head.locator("thead th").all_inner_texts() == ["age int64", "city large_string", "score double"]
    assert head.locator("tbody tr").count() == 20
    assert HOSTILE in head.locator("tbody tr").first.inner_text()  # text, never markup
    assert "of 50" in tab.page.locator("#preview").inner_text()
    tab.shot(site.shots, "run-parquet-head")
    tab.page.get_by_role("button", name="artifacts").click()
    tab.page.get_by_role("button", name="notes.txt").click()
    tab.page.wait_for_selector("#preview pre")
    assert tab.page.locator("#preview pre").inner_text() == HOSTILE
    assert tab.page.locator("img[src=x]").count() == 0
    assert tab.errors == [] and tab.dialogs == []


def test_compare_plots_the_params_against_the_chosen_metric(site: Site, tab: Tab) -> None:
    ids = ",".join(site.runs[n] for n in ("small", "medium", "large", HOSTILE))
    tab.page.goto(f"{site.url}/#/compare?runs={ids}")
    plot = "#parallel svg.parallel"
    tab.page.wait_for_selector(plot)
    assert tab.page.get_attribute(plot, "data-lines") == "4"
    axes = tab.page.locator(f"{plot} g.axis > text:first-of-type").evaluate_all("(ts) => ts.map((t) => t.textContent)")
    assert axes == ["depth", "lr", "optimizer", "auc"]  # the params that differ first, the metric last
    tab.page.get_by_label("Metric", exact=True).select_option("loss")
    tab.page.wait_for_function(f"() => document.querySelector('{plot} g.metric text').textContent === 'loss'")
    assert tab.page.locator(f"{plot} path.line").count() == 4
    assert tab.page.locator("#metrics-diff tbody tr").count() == 3
    tab.shot(site.shots, "compare-parallel")
    assert tab.page.locator("img[src=x]").count() == 0
    assert tab.errors == [] and tab.dialogs == []


def test_the_preview_routes_refuse_other_files_and_unknown_ones(site: Site) -> None:
    run = site.runs["large"]
    head = httpx.get(f"{site.url}/api/v1/runs/{run}/table-head", params={"path": "notes.txt"})
    assert head.status_code == 422 and head.json()["error"]["field"] == "path"
    missing = httpx.get(f"{site.url}/api/v1/runs/{run}/table-head", params={"path": "nope.csv"})
    assert missing.status_code == 404
    package = httpx.get(f"{site.url}/api/v1/runs/{run}/model-package", params={"path": "data"})
    assert package.status_code == 404
    found = httpx.get(f"{site.url}/api/v1/runs/{run}/model-package").json()
    assert found["manifest"]["signature"]["outputs"] == [{"name": "churn", "dtype": "float64"}]


def test_one_request_answers_a_metric_of_several_runs_downsampled(site: Site) -> None:
    ids = [site.runs["small"], site.runs["large"]]
    answer = httpx.get(f"{site.url}/api/v1/metric-histories",
                       params=[("key", "loss"), ("max_points", "50"), *[("run_id", i) for i in ids]])
    body = answer.json()
    assert answer.status_code == 200 and body["run_ids"] == ids
    assert [len(points) for points in body["items"]] == [51, 51]  # every sixth of 300 steps, and the last
    assert body["items"][0][0]["step"] == 0 and body["items"][0][-1]["step"] == STEPS - 1
    unknown = httpx.get(f"{site.url}/api/v1/metric-histories",
                        params={"key": "loss", "max_points": "50", "run_id": "0" * 32})
    assert unknown.status_code == 404
    no_runs = httpx.get(f"{site.url}/api/v1/metric-histories", params={"key": "loss", "max_points": "50"})
    assert no_runs.status_code == 422
