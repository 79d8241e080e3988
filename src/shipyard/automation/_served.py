"""What the serving inference log says about two versions of a model since a stage began.

The rollout driver (:mod:`shipyard.automation._rollout`) judges a challenger on live
traffic from these figures alone:

* :func:`request_stats` — one version's answered requests on one route kind (the
  target routes, or the shadow copy): how many, how many failed (HTTP status 5xx: the
  model raised, timed out or was overloaded — not the callers' bad input), and the
  latency p50/p99 in milliseconds, each request counted once;
* :func:`agreement` — on requests both the champion answered and the challenger's shadow
  copy answered, the share of rows whose outputs agree (numbers within 1e-6);
* :func:`outcomes` — one version's labelled answers (late labels joined as monitors join
  them, :func:`~shipyard.automation._export.labelled_rows`): ``(correct, labelled)`` rows
  and the labelled requests.

Rows are read with :class:`~shipyard.monitoring._inference.InferenceLogReader` over
``[since_ms, until_ms)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shipyard.automation._export import labelled_rows
from shipyard.monitoring._backend import MonitorStore
from shipyard.monitoring._inference import InferenceLogReader
from shipyard.serving import _log_layout as layout
from shipyard.tracking import TrackingStore

__all__ = ["Outcomes", "RequestStats", "agreement", "outcomes", "request_stats", "rows"]

_LABEL = "shipyard_label"  # the label's column in joined rows: a name no model input takes


@dataclass(frozen=True)
class RequestStats:
    """One version's requests on a route kind: ``requests`` answered or failed, ``errors`` of them
    with a 5xx status, latency percentiles in ms (None without requests)."""

    requests: int
    errors: int
    latency_p50_ms: float | None
    latency_p99_ms: float | None

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"requests": self.requests, "errors": self.errors, "error_rate": self.error_rate,
                "latency_p50_ms": self.latency_p50_ms, "latency_p99_ms": self.latency_p99_ms}


@dataclass(frozen=True)
class Outcomes:
    """One version's labelled answers: ``correct`` of ``labelled`` rows, from ``requests`` requests."""

    correct: int
    labelled: int
    requests: int

    def to_json(self) -> dict[str, Any]:
        return {"correct": self.correct, "labelled": self.labelled, "labelled_requests": self.requests,
                "accuracy": self.correct / self.labelled if self.labelled else None}


def rows(tracking: TrackingStore, model: str, version: int, since_ms: int, until_ms: int, *,
         shadow: bool = False) -> pd.DataFrame:
    """The log rows version ``version`` of ``model`` answered in range: on its shadow route when
    ``shadow``, else on the target routes."""
    reader = InferenceLogReader(tracking, model, route=layout.SHADOW_ROUTE if shadow else None, version=version)
    return reader.read(since_ms, until_ms)


def request_stats(frame: pd.DataFrame) -> RequestStats:
    """The request figures of log rows (each request once: its first row)."""
    if frame.empty or layout.REQUEST_ID not in frame.columns:
        return RequestStats(0, 0, None, None)
    first = frame.drop_duplicates(layout.REQUEST_ID)
    status = first[layout.STATUS].to_numpy(dtype=np.int64) if layout.STATUS in first.columns \
        else np.full(len(first), 200)
    latency = first[layout.LATENCY_MS].to_numpy(dtype=np.float64) if layout.LATENCY_MS in first.columns \
        else np.array([])
    latency = latency[np.isfinite(latency)]
    p50, p99 = (float(np.percentile(latency, 50)), float(np.percentile(latency, 99))) if len(latency) else (None, None)
    return RequestStats(len(first), int((status >= 500).sum()), p50, p99)


def _outputs(frame: pd.DataFrame) -> list[str]:
    return sorted(c for c in frame.columns if c == layout.PREDICTION or c.startswith(f"{layout.PREDICTION}_"))


def _same(a: pd.Series, b: pd.Series) -> np.ndarray:
    left, right = a.to_numpy(), b.to_numpy()
    try:
        x, y = left.astype(np.float64), right.astype(np.float64)
        return np.asarray(np.isclose(x, y, rtol=1e-6, atol=1e-9) | (np.isnan(x) & np.isnan(y)))
    except (TypeError, ValueError):  # labels, lists: compared as values
        return np.array([_equal(u, v) for u, v in zip(left, right, strict=True)], dtype=bool)


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(np.all(np.asarray(a) == np.asarray(b)))
    except (TypeError, ValueError):
        return bool(a == b)


def agreement(champion: pd.DataFrame, shadow: pd.DataFrame) -> tuple[int, float | None]:
    """``(rows compared, share agreeing)`` of the rows both answered (status 200), matched by
    request id and row; None when none can be compared."""
    keys = [layout.REQUEST_ID, layout.ROW]
    if champion.empty or shadow.empty or any(k not in f.columns for k in keys for f in (champion, shadow)):
        return 0, None
    outputs = [c for c in _outputs(champion) if c in shadow.columns]
    if not outputs:
        return 0, None

    def answered(frame: pd.DataFrame) -> pd.DataFrame:
        ok = frame[frame[layout.STATUS] == 200] if layout.STATUS in frame.columns else frame
        return ok[keys + outputs].drop_duplicates(keys)

    both = answered(champion).merge(answered(shadow), on=keys, suffixes=("_a", "_b"))
    if both.empty:
        return 0, None
    agree = np.ones(len(both), dtype=bool)
    for column in outputs:
        agree &= _same(both[f"{column}_a"], both[f"{column}_b"])
    return len(both), float(agree.mean())


def outcomes(tracking: TrackingStore, monitoring: MonitorStore, model: str, version: int, since_ms: int,
             until_ms: int) -> Outcomes:
    """Version ``version``'s labelled answers in range: how many rows matched their label."""
    frame = labelled_rows(tracking, monitoring, f"{model}/{version}", since_ms, until_ms, label_column=_LABEL)
    if frame.empty or "prediction" not in frame.columns:
        return Outcomes(0, 0, 0)
    correct = _same(frame["prediction"], frame[_LABEL])
    requests = int(frame["request_id"].nunique()) if "request_id" in frame.columns else len(frame)
    return Outcomes(int(correct.sum()), len(frame), requests)


def finite(value: float | None) -> float | None:
    """``value``, or None where it is not a finite number (JSON has no NaN)."""
    return value if value is not None and math.isfinite(value) else None
