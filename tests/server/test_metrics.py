"""``/metrics`` on ``shipyard server``: monitor gauges, one-line collectors, a real Prometheus."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.parser import text_string_to_metric_families

from shipyard import Client, Config
from shipyard.alerting import Point
from shipyard.monitoring._entities import Monitor, MonitorWindow
from shipyard.server._metrics import COLLECTORS, create_registry
from tests.prometheus import running_prometheus
from tests.services import running_server

H = 3_600_000
T0 = 1_767_225_600_000


def fill(client: Client) -> None:
    """A monitor with two windows; the second is the latest and has an unknown accuracy."""
    client.monitor_store.create_monitor(Monitor("churn@production", "churn@production", 3600, cursor=T0))
    for i, (version, drift, accuracy) in enumerate((("3", 0.1, 0.91), ("4", 0.6, None))):
        start = T0 + i * H
        client.monitor_store.commit(
            "churn@production", expect=(start, None),
            windows=[MonitorWindow("churn@production", start, start + H, 100, "ok", version)],
            points=[Point("churn@production", "drift_share", start, start + H, drift),
                    Point("churn@production", "feature_drift_score", start, start + H, drift * 2, {"feature": "age"}),
                    Point("churn@production", "accuracy", start, start + H, accuracy),
                    Point("churn@production", "estimated_accuracy", start, start + H, 0.88),
                    Point("churn@production", "p99_latency_ms", start, start + H, 12.5)],
            cursor=start + H, label_watermark=None)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Client, str]]:
    config = Config(home=tmp_path / "server")
    with Client(config) as client:
        fill(client)
    with running_server(config) as running, Client(Config(home=tmp_path / "client", url=running.url)) as remote:
        yield remote, running.url


def families(text: str) -> dict[str, list]:
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def test_metrics_export_the_latest_window_of_each_series(server: tuple[Client, str]) -> None:
    _, url = server
    response = httpx.get(f"{url}/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    found = families(response.text)
    [share] = found["shipyard_drift_share"]
    assert share.value == 0.6
    assert share.labels == {"monitor": "churn@production", "model": "churn@production", "version": "4"}
    [age] = found["shipyard_feature_drift_score"]
    assert age.labels["feature"] == "age" and age.value == 1.2
    metrics = {s.labels["metric"]: s.value for s in found["shipyard_model_metric"]}
    assert metrics == {"estimated_accuracy": 0.88}  # accuracy is unknown in the latest window: left out
    assert found["shipyard_p99_latency_ms"][0].value == 12.5


def test_a_domain_adds_its_gauges_with_one_collector_factory(tmp_path: Path) -> None:
    class Freshness:
        def collect(self) -> Iterator[GaugeMetricFamily]:
            yield GaugeMetricFamily("shipyard_feature_freshness_seconds", "age of the newest row", value=42.0)

    with Client(home=tmp_path / "home") as client:
        fill(client)
        from prometheus_client import generate_latest

        registry = create_registry(client, (*COLLECTORS, lambda _: Freshness()))
        found = families(generate_latest(registry).decode())
    assert found["shipyard_feature_freshness_seconds"][0].value == 42.0
    assert found["shipyard_drift_share"][0].value == 0.6


def test_an_empty_store_exports_no_monitor_gauges(tmp_path: Path) -> None:
    with running_server(Config(home=tmp_path / "server")) as running:
        text = httpx.get(f"{running.url}/metrics").text
    assert "shipyard_drift_share" not in text


def test_a_real_prometheus_scrapes_the_monitor_gauges(server: tuple[Client, str], tmp_path: Path) -> None:
    client, url = server
    with running_prometheus([url.removeprefix("http://")], tmp_path) as prometheus:
        assert prometheus.value('shipyard_drift_share{monitor="churn@production",version="4"}') == 0.6
        assert prometheus.value('shipyard_feature_drift_score{feature="age"}') == 1.2
        assert prometheus.value('shipyard_model_metric{metric="estimated_accuracy"}') == 0.88
        assert prometheus.value('up{job="shipyard"}') == 1
        # A newer window is what the next scrape shows.
        start = T0 + 2 * H
        client.monitor_store.commit("churn@production", expect=(start, None), windows=[
            MonitorWindow("churn@production", start, start + H, 10, "ok", "5")],
            points=[Point("churn@production", "drift_share", start, start + H, 0.05)], cursor=start + H,
            label_watermark=None)
        assert prometheus.value('shipyard_drift_share{version="5"}') == 0.05
