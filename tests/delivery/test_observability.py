"""``shipyard deploy observability``: rules promtool accepts and tests, dashboards on real metrics.

The alert rules are unit-tested with promtool's own test format
(``observability/shipyard-rules.test.yml``, written by hand for the default thresholds).
Every series a rule or a dashboard panel reads is checked against what a real
Prometheus scraped from a running ``shipyard serve`` (a model that sometimes raises,
whose alias moves mid-test) and ``shipyard server`` (a monitor's stored windows), and
every dashboard query is run on that Prometheus.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import yaml

import shipyard
from shipyard import Config
from shipyard.alerting import Point
from shipyard.delivery import Thresholds, observability_files, prometheus_rules, write_observability
from shipyard.delivery._dashboards import DATASOURCE_UID
from shipyard.errors import Conflict, InvalidInput
from shipyard.monitoring._entities import Monitor, MonitorWindow
from tests.cli.test_cli import run_cli
from tests.prometheus import Prometheus, running_prometheus, wait_for
from tests.services import running_server
from tests.serving.conftest import cli_server
from tests.serving.fixture_models import RowSum

pytestmark = pytest.mark.xdist_group("observability")  # one Prometheus and one set of live servers for the module

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
RULE_TESTS = Path(__file__).with_name("observability") / "shipyard-rules.test.yml"
RULES = "prometheus/shipyard-rules.yml"
DASHBOARDS = ("grafana/dashboards/shipyard-serving.json", "grafana/dashboards/shipyard-monitoring.json")
# Series Prometheus makes itself: ALERTS from the alerting rules, up from each scrape.
PROMETHEUS_OWN = frozenset({"ALERTS", "up"})
H = 3_600_000

_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_WORD = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_LABEL_VALUES = re.compile(r"label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)")


def series_names(expr: str) -> set[str]:
    """The series a PromQL expression reads: label matchers, ranges and strings removed, the
    names left are Shipyard's (``shipyard_``, ``process_``), recorded (with a colon) or Prometheus' own."""
    text = _RANGES.sub(" ", _MATCHERS.sub(" ", _QUOTED.sub('""', expr)))
    return {word for word in _WORD.findall(text)
            if word.startswith(("shipyard_", "process_")) or ":" in word or word in PROMETHEUS_OWN}


def dashboard_queries(dashboard: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("observability") / "out"
    write_observability(out)
    return out


def load(written: Path, path: str) -> Any:
    text = (written / path).read_text()
    return json.loads(text) if path.endswith(".json") else yaml.safe_load(text)


# -- Prometheus rules ---------------------------------------------------------------------------


def test_the_rules_pass_promtool_check(written: Path) -> None:
    done = subprocess.run([PROMTOOL, "check", "rules", str(written / RULES)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 17 rules found" in done.stdout


def test_the_alert_rules_pass_their_promtool_unit_tests(written: Path, tmp_path: Path) -> None:
    shutil.copy(written / RULES, tmp_path / "shipyard-rules.yml")
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    done = subprocess.run([PROMTOOL, "test", "rules", RULE_TESTS.name], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    tested = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text()))
    alerts = {r["alert"] for g in load(written, RULES)["groups"] for r in g["rules"] if "alert" in r}
    assert tested == alerts  # every alert has a unit test


def test_the_prometheus_operator_rule_holds_the_same_groups(written: Path) -> None:
    operator = load(written, "prometheus/shipyard-prometheusrule.yaml")
    assert (operator["apiVersion"], operator["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    assert operator["spec"] == load(written, RULES)


def test_thresholds_set_the_alert_conditions() -> None:
    rules = {r["alert"]: r for g in prometheus_rules(Thresholds(error_rate=0.02, latency_p99_ms=250,
                                                                 drift_share=0.5))["groups"]
             for r in g["rules"] if "alert" in r}
    assert rules["ShipyardHighErrorRate"]["expr"].endswith("> 0.02")
    assert rules["ShipyardHighLatency"]["expr"].endswith("> 0.25")
    assert rules["ShipyardDataDrift"]["expr"] == "shipyard_drift_share > 0.5"


@pytest.mark.parametrize(("field", "value"), [("error_rate", 1.5), ("latency_p99_ms", 0), ("drift_share", -0.1),
                                              ("queue_depth", 0)])
def test_a_threshold_out_of_range_names_its_field(field: str, value: float) -> None:
    with pytest.raises(InvalidInput) as raised:
        Thresholds(**{field: value})
    assert raised.value.field == field


# -- Grafana ----------------------------------------------------------------------------------


def test_dashboards_have_unique_panel_ids_and_use_only_the_provisioned_datasource(written: Path) -> None:
    [source] = load(written, "grafana/provisioning/datasources/shipyard.yml")["datasources"]
    assert (source["uid"], source["type"], source["url"]) == (DATASOURCE_UID, "prometheus", "http://prometheus:9090")
    provisioned = {"type": "prometheus", "uid": source["uid"]}
    uids = set()
    for path in DASHBOARDS:
        dashboard = load(written, path)
        uids.add(dashboard["uid"])
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids)) and all(isinstance(i, int) for i in ids)
        spots = [(p["gridPos"]["x"], p["gridPos"]["y"]) for p in dashboard["panels"]]
        assert len(spots) == len(set(spots))
        for panel in dashboard["panels"]:
            assert panel["datasource"] == provisioned, panel["title"]
            assert panel["targets"] and all(t["datasource"] == provisioned for t in panel["targets"]), panel["title"]
        assert all(v["datasource"] == provisioned for v in dashboard["templating"]["list"])
        assert any(p["title"] == "Alert states" for p in dashboard["panels"])
    assert len(uids) == len(DASHBOARDS)
    [provider] = load(written, "grafana/provisioning/dashboards/shipyard.yml")["providers"]
    assert provider["type"] == "file" and provider["options"]["path"].endswith("/shipyard")


def test_the_dashboards_cover_traffic_latency_batches_drift_metrics_and_alerts(written: Path) -> None:
    read = set().union(*(series_names(q) for path in DASHBOARDS for q in dashboard_queries(load(written, path))))
    assert {"shipyard_requests_total", "shipyard_request_duration_seconds_bucket", "shipyard_batch_size_bucket",
            "shipyard_feature_drift_score", "shipyard_model_metric", "ALERTS"} <= read


# -- the files as a whole ----------------------------------------------------------------------


def test_the_same_options_give_the_same_bytes(written: Path, tmp_path: Path) -> None:
    again = write_observability(tmp_path / "again")
    for path in again.files:
        assert (tmp_path / "again" / path).read_bytes() == (written / path).read_bytes(), path
    assert observability_files(prometheus_url="https://prom.example") != observability_files()


def test_the_command_refuses_an_occupied_folder_and_replaces_only_its_own(tmp_path: Path) -> None:
    out = tmp_path / "obs"
    done = run_cli(tmp_path, "deploy", "observability", "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["files"] == sorted(observability_files())
    again = run_cli(tmp_path, "deploy", "observability", "--out", str(out))
    assert again.returncode == 1 and again.stderr.startswith("error: Conflict") and "--force" in again.stderr
    forced = run_cli(tmp_path, "deploy", "observability", "--out", str(out), "--force", "--error-rate", "0.01")
    assert forced.returncode == 0, forced.stderr
    assert "> 0.01" in (out / RULES).read_text()
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(Conflict, match="replaces only those"):
        write_observability(foreign, force=True)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "obs"]  # nothing half-written beside them


def test_bad_options_write_nothing(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "deploy", "observability", "--out", str(tmp_path / "a" / "b"), "--drift-share", "2")
    assert done.returncode == 1 and "drift_share" in done.stderr
    with pytest.raises(InvalidInput, match="prometheus-url"):
        write_observability(tmp_path / "c", prometheus_url="prometheus:9090")
    assert list(tmp_path.iterdir()) == []


# -- against live metrics -----------------------------------------------------------------------


def fill_monitor(client: shipyard.Client) -> None:
    """Two stored windows of a monitor, with every series a window computes."""
    name = "fragile@production"
    client.monitor_store.create_monitor(Monitor(name, name, 3600, cursor=1_767_225_600_000))
    for i in range(2):
        start = 1_767_225_600_000 + i * H
        end = start + H

        def point(series: str, value: float, **labels: str) -> Point:
            return Point(name, series, start, end, value, labels)  # noqa: B023 - used at once

        points = [point("rows", 120), point("drift_share", 0.5), point("dataset_drift", 1.0),
                  point("prediction_drift_score", 0.2), point("quality_violations", 2),
                  point("p99_latency_ms", 8.5), point("error_rate", 0.01), point("labelled_rows", 80),
                  point("unlabelled_rows", 40), point("rmse", 1.5), point("mae", 1.1)]
        for feature in ("a", "b"):
            points += [point("feature_drift_score", 0.3, feature=feature), point("missing_rate", 0.0, feature=feature)]
        window = MonitorWindow(name, start, end, 120, "ok", "1")
        client.monitor_store.commit(name, expect=(start, None), windows=[window], points=points, cursor=end,
                                    label_watermark=None)


def scraped_names(prometheus: Prometheus) -> set[str]:
    try:
        data = httpx.get(f"{prometheus.url}/api/v1/label/__name__/values", timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return set()
    return set(data.get("data", [])) if data.get("status") == "success" else set()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Prometheus, set[str]]]:
    """A real Prometheus scraping ``shipyard serve`` and ``shipyard server``; the names it holds."""
    root = tmp_path_factory.mktemp("observability-live")
    serve_home, server_home = root / "serve", root / "server"
    example = np.array([[1.0, 2.0, 3.0]])
    with shipyard.Client(Config(home=serve_home)) as client:
        run = client.create_run("observability")
        for offset in (0.0, 1000.0):  # raises on a row whose first value is negative
            client.log_model(run.id, RowSum(offset=offset, fail_below=0.0), f"v{int(offset)}", input_example=example,
                             registered_model_name="fragile")
        client.end_run(run.id)
        client.set_alias("fragile", "production", 1)
    with shipyard.Client(Config(home=server_home)) as client:
        fill_monitor(client)
    with cli_server(serve_home, "models:/fragile@production", "--no-access-log", "--poll-interval", "0.5") as serve, \
            running_server(Config(home=server_home)) as server, httpx.Client(timeout=30) as http:
        for first in [1.0] * 20 + [-1.0] * 3:
            http.post(f"{serve.url}/invocations", json={"inputs": [[first, 2.0, 3.0]]})
        with shipyard.Client(Config(home=serve_home)) as client:
            client.set_alias("fragile", "production", 2)  # a version switch: shipyard_reloads_total

        def switched() -> bool:
            answer = http.post(f"{serve.url}/invocations", json={"inputs": [[1.0, 2.0, 3.0]]})
            return answer.headers.get("shipyard-model-version") == "2"

        wait_for(switched, 30)
        wait_for(lambda: "shipyard_inference_log_rows_total{" in serve.metrics(), 60)
        targets = [serve.url.removeprefix("http://"), server.url.removeprefix("http://")]
        with running_prometheus(targets, root) as prometheus:
            wanted = {"shipyard_reloads_total", "shipyard_model_errors_total", "shipyard_drift_share", "up"}
            wait_for(lambda: wanted <= scraped_names(prometheus), 60)
            time.sleep(2)  # one more scrape of both targets, so every family is in
            yield prometheus, scraped_names(prometheus)


@pytest.mark.slow
def test_every_series_the_rules_and_dashboards_read_is_scraped_from_live_servers(
        written: Path, live: tuple[Prometheus, set[str]]) -> None:
    _, scraped = live
    rules = [r for g in load(written, RULES)["groups"] for r in g["rules"]]
    recorded = {r["record"] for r in rules if "record" in r}
    exprs = [r["expr"] for r in rules]
    for path in DASHBOARDS:
        dashboard = load(written, path)
        exprs += dashboard_queries(dashboard)
        exprs += [f"{m}" for v in dashboard["templating"]["list"] for m in _LABEL_VALUES.findall(v["definition"])]
    read = set().union(*(series_names(e) for e in exprs))
    assert {"shipyard_requests_total", "shipyard_feature_drift_score", "shipyard_queue_depth"} <= read
    assert {n for n in read if ":" in n} <= recorded
    raw = {n for n in read if ":" not in n} - {"ALERTS"}
    assert raw <= scraped, f"not exported by shipyard serve or shipyard server: {sorted(raw - scraped)}"


@pytest.mark.slow
def test_every_dashboard_query_runs_on_prometheus(written: Path, live: tuple[Prometheus, set[str]]) -> None:
    prometheus, _ = live
    empty = []
    for path in DASHBOARDS:
        for expr in dashboard_queries(load(written, path)):
            query = expr.replace("$__rate_interval", "1m").replace("$model", ".*").replace("$monitor", ".*")
            answer = httpx.get(f"{prometheus.url}/api/v1/query", params={"query": query}, timeout=10).json()
            assert answer["status"] == "success", (expr, answer)
            if not answer["data"]["result"]:
                empty.append(expr)
    # Only the alert states are empty: nothing fires here.
    assert all("ALERTS" in expr for expr in empty), empty
