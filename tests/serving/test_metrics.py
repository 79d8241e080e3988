"""Prometheus exposition: parseable, typed, ordered buckets; sums across workers."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

import shipyard
from shipyard.serving import ServeConfig
from shipyard.serving._metrics import Metrics, MetricsDirectory, render
from tests.serving.conftest import in_process


def check_exposition(text: str) -> dict[str, object]:
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert [name for name, f in families.items() if f.type == "unknown"] == []
    for family in families.values():
        if family.type != "histogram":
            continue
        series: dict[tuple, list] = defaultdict(list)
        counts = {}
        for sample in family.samples:
            key = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
            if sample.name.endswith("_bucket"):
                series[key].append((float(sample.labels["le"]), sample.value))
            elif sample.name.endswith("_count"):
                counts[key] = sample.value
        for key, buckets in series.items():
            bounds = [b for b, _ in buckets]
            assert bounds == sorted(bounds) and bounds[-1] == float("inf"), family.name
            values = [v for _, v in buckets]
            assert values == sorted(values), family.name  # cumulative
            assert values[-1] == counts[key], family.name  # +Inf equals count
    return families


def test_metrics_parse_with_every_family_typed(client: shipyard.Client) -> None:
    with in_process(ServeConfig.for_uri("models:/sum@production"), client) as server:
        for _ in range(5):
            httpx.post(f"{server.url}/invocations", json={"inputs": [[1, 2, 3]]})
        httpx.post(f"{server.url}/invocations", json={"inputs": [[1, 2]]})
        text = httpx.get(f"{server.url}/metrics").text
    families = check_exposition(text)
    for name in ("shipyard_requests", "shipyard_request_duration_seconds", "shipyard_batch_size",
                 "shipyard_queue_depth", "shipyard_requests_in_progress", "shipyard_prediction_value",
                 "process_cpu_seconds", "process_resident_memory_bytes"):
        assert name in families, name
    requests = {(s.labels["code"], s.labels["route"]): s.value for s in families["shipyard_requests"].samples
                if s.labels.get("model") == "sum" and s.name == "shipyard_requests_total"}
    assert requests == {("200", "production"): 5, ("422", "production"): 1}
    prediction = {s.name: s.value for s in families["shipyard_prediction_value"].samples}
    assert prediction == {"shipyard_prediction_value_sum": 30.0, "shipyard_prediction_value_count": 5.0}


def test_workers_add_up_and_a_dead_worker_keeps_its_counts_but_not_its_gauges(tmp_path: Path) -> None:
    shared = MetricsDirectory(tmp_path)
    one, two = Metrics(), Metrics()
    for m, n in ((one, 3), (two, 4)):
        for _ in range(n):
            m.request("m", "1", "production", 200, 0.003)
        m.in_progress["m"] = 2
        shared.publish(str(n), m.snapshot())
    shared.retire("3")
    families = check_exposition(render(shared.collect()).decode())
    total = next(s.value for s in families["shipyard_requests"].samples if s.name == "shipyard_requests_total")
    assert total == 7
    assert next(s.value for s in families["shipyard_requests_in_progress"].samples) == 2
    assert next(s.value for s in families["shipyard_workers"].samples) == 1
