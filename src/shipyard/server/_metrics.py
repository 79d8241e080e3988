"""``GET /metrics`` on ``shipyard server``: stored state exported as Prometheus gauges.

The route serves a ``prometheus_client`` registry built from :data:`COLLECTORS`, a
tuple of factories ``client -> Collector``; a domain exports its gauges by adding
one factory there (or passing ``collectors=`` to :func:`create_registry`). Every
collector reads the store at scrape time, so what Prometheus sees is what the
store holds, with no state kept in the server.

:class:`MonitorCollector` exports the latest window of every monitored series under
the names of :data:`shipyard.alerting._series.PROMETHEUS_NAMES`, labelled with
``monitor``, ``model`` and ``version`` (plus ``feature`` or ``metric`` where the
series has one): ``shipyard_feature_drift_score{monitor,model,version,feature}``,
``shipyard_drift_share{…}``, ``shipyard_model_metric{…,metric="accuracy"}``… A point
whose value is unknown (an empty window) is left out rather than exported as NaN.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from shipyard.alerting._series import MODEL_METRIC_GAUGE, PROMETHEUS_NAMES
from shipyard.errors import ShipyardError
from shipyard.features._metrics import freshness_collector
from shipyard.server._schemas import ERROR_ANSWERS

__all__ = ["COLLECTORS", "CollectorFactory", "MonitorCollector", "create_registry", "router"]

logger = logging.getLogger("shipyard.server")

CollectorFactory = Callable[[Any], Collector]

_HELP = {
    "shipyard_drift_share": "Share of monitored features that drifted in the latest window.",
    "shipyard_dataset_drift": "1 if the latest window drifted as a whole, else 0.",
    "shipyard_feature_drift_score": "Drift statistic of one feature in the latest window.",
    "shipyard_prediction_drift_score": "Drift statistic of the model's predictions in the latest window.",
    "shipyard_missing_rate": "Share of missing values of one feature in the latest window.",
    "shipyard_quality_violations": "Data-quality violations in the latest window.",
    "shipyard_window_rows": "Logged prediction rows in the latest window.",
    "shipyard_labelled_rows": "Rows of the latest window with a ground-truth label.",
    "shipyard_unlabelled_rows": "Rows of the latest window without a ground-truth label yet.",
    "shipyard_p99_latency_ms": "99th percentile request latency in the latest window, milliseconds.",
    "shipyard_error_rate": "Share of requests that failed in the latest window.",
    MODEL_METRIC_GAUGE: "Model quality metric (realised or estimated) of the latest window.",
}


class MonitorCollector(Collector):
    """The latest point of every monitor series, as gauges (see the module docstring)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            monitors = {m.name: m for m in self.store.list_monitors()}
            points = self.store.latest_points()
            versions = self._versions(points)
        except ShipyardError as exc:  # a scrape must answer even when the store is down
            logger.warning("monitor metrics unavailable: %s", exc)
            return
        families: dict[tuple[str, tuple[str, ...]], GaugeMetricFamily] = {}
        for point in points:
            monitor = monitors.get(point.monitor)
            if monitor is None or point.value is None:
                continue
            gauge = PROMETHEUS_NAMES.get(point.series, MODEL_METRIC_GAUGE)
            extra = dict(point.labels)
            if gauge == MODEL_METRIC_GAUGE:
                extra["metric"] = point.series
            names = ("monitor", "model", "version", *sorted(extra))
            family = families.get((gauge, names))
            if family is None:
                family = families[(gauge, names)] = GaugeMetricFamily(gauge, _HELP.get(gauge, gauge), labels=names)
            version = versions.get((point.monitor, point.window_start)) or ""
            family.add_metric([point.monitor, monitor.model, version, *(extra[k] for k in sorted(extra))],
                              float(point.value))
        # One family per gauge name: label sets that differ (rare) are exported as separate
        # samples of the first family of that name.
        merged: dict[str, GaugeMetricFamily] = {}
        for (gauge, _), family in sorted(families.items()):
            if gauge in merged:
                merged[gauge].samples.extend(family.samples)
            else:
                merged[gauge] = family
        yield from merged.values()

    def _versions(self, points: Sequence[Any]) -> dict[tuple[str, int], str | None]:
        """The model version of each monitor's latest windows (one query per monitor)."""
        first: dict[str, int] = {}
        for p in points:
            first[p.monitor] = min(first.get(p.monitor, p.window_end), p.window_end)
        out: dict[tuple[str, int], str | None] = {}
        for name, end in first.items():
            for window in self.store.list_windows(name, since_ms=end - 1):
                out[(name, window.window_start)] = window.version
        return out


def monitor_collector(client: Any) -> Collector:
    return MonitorCollector(client.monitor_store)


#: The collectors ``shipyard server`` exports; a domain adds its factory here.
COLLECTORS: tuple[CollectorFactory, ...] = (monitor_collector, freshness_collector)


def create_registry(client: Any, collectors: Iterable[CollectorFactory] = COLLECTORS) -> CollectorRegistry:
    """A fresh registry (never the global one) with one collector per factory."""
    registry = CollectorRegistry(auto_describe=False)
    for factory in collectors:
        registry.register(factory(client))
    return registry


router = APIRouter(tags=["metrics"], responses=ERROR_ANSWERS)

_TEXT_FORMAT: dict[int | str, dict[str, Any]] = {
    200: {"description": "Every gauge in Prometheus' text exposition format",
          "content": {"text/plain": {"schema": {"type": "string"}}}},
}


@router.get("/metrics", response_class=Response, responses=_TEXT_FORMAT)
async def metrics(request: Request) -> Response:
    registry: CollectorRegistry = request.app.state.metrics
    body = await run_in_threadpool(generate_latest, registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
