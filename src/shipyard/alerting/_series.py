"""Monitored series: the contract between what writes time series and the alerts that read them.

A monitor computes, for each closed window, a set of :class:`Point` values: one per
series and label set (``drift_share`` once per window, ``feature_drift_score`` once
per feature…). Alerting reads them through :class:`SeriesStore`, which the
monitoring stores implement (alerting sits below monitoring and never imports it).
Points are exported as Prometheus gauges under the names in :data:`PROMETHEUS_NAMES`,
so an alert rule written against a series here and the Prometheus rule exported
from it watch the same value. A label set is stored as its canonical text,
:func:`labels_key`.

>>> labels_key({"feature": "age", "metric": "f1"})
'{"feature":"age","metric":"f1"}'
>>> parse_labels_key(labels_key({"feature": "age"}))
{'feature': 'age'}
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["MODEL_METRIC_GAUGE", "PROMETHEUS_NAMES", "Point", "SeriesStore", "labels_key", "parse_labels_key"]

# Series name -> Prometheus gauge name. Series with a ``feature`` or ``metric`` label
# carry it as a gauge label; every gauge also has ``monitor``, ``model`` and ``version``.
PROMETHEUS_NAMES: Mapping[str, str] = {
    "drift_share": "shipyard_drift_share",
    "dataset_drift": "shipyard_dataset_drift",
    "feature_drift_score": "shipyard_feature_drift_score",
    "prediction_drift_score": "shipyard_prediction_drift_score",
    "missing_rate": "shipyard_missing_rate",
    "quality_violations": "shipyard_quality_violations",
    "rows": "shipyard_window_rows",
    "labelled_rows": "shipyard_labelled_rows",
    "unlabelled_rows": "shipyard_unlabelled_rows",
    "p99_latency_ms": "shipyard_p99_latency_ms",
    "error_rate": "shipyard_error_rate",
}
# Model-quality metrics (accuracy, f1, rmse, estimated_accuracy…) are all one gauge,
# ``shipyard_model_metric{metric="accuracy"}``; any series not named above is one.
MODEL_METRIC_GAUGE = "shipyard_model_metric"


@dataclass(frozen=True)
class Point:
    """One value of one series for one closed window of one monitor.

    ``value`` is None when the window had nothing to compute it from (no rows, no
    labels); such points are stored so a report shows the gap instead of hiding it.
    """

    monitor: str
    series: str
    window_start: int  # ms since the epoch, inclusive
    window_end: int  # ms since the epoch, exclusive
    value: float | None
    labels: Mapping[str, str] = field(default_factory=dict)


class SeriesStore(Protocol):
    """Where window results live; implemented by the SQL and remote monitoring stores."""

    def write_points(self, points: Sequence[Point]) -> None:
        """Store points; a point for an already stored (monitor, series, labels, window) replaces it."""
        ...

    def query_points(
        self,
        monitor: str | None = None,
        series: str | None = None,
        *,
        since_ms: int | None = None,
        until_ms: int | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[Point]:
        """Points matching every given filter, ordered by window_end, then series and labels."""
        ...


def labels_key(labels: Mapping[str, str] | None) -> str:
    """The canonical text of a label set: JSON with sorted keys and no spaces (``{}`` when empty)."""
    if not labels:
        return "{}"
    return json.dumps({str(k): str(v) for k, v in labels.items()}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)


def parse_labels_key(text: str) -> dict[str, str]:
    """The label set :func:`labels_key` wrote as ``text``."""
    return dict(json.loads(text)) if text and text != "{}" else {}
