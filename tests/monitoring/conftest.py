"""Fixtures of the monitoring suite: an embedded client, and inference-log segments made to order.

Segments are written the way serving writes them (a run per model and process in
experiment ``serving:<model>``, ``inference/<day>/<worker>-<seq>.parquet``), with the
columns of :mod:`shipyard.serving._inference_log`, but with timestamps chosen by the
test, so windows of any date can be filled.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard import Client
from shipyard.serving import _log_layout as layout
from shipyard.serving._inference_log import RunSink

H = 3_600_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
_seq = itertools.count(1)


def reference_frame(n: int = 5000, seed: int = 0) -> pd.DataFrame:
    """Training data: two numeric inputs, one categorical, and the target ``churned``."""
    rng = np.random.default_rng(seed)
    age = rng.normal(40, 10, n)
    spend = rng.gamma(2.0, 50.0, n)
    plan = rng.choice(["basic", "pro", "team"], n, p=[0.5, 0.3, 0.2])
    churned = (age + rng.normal(0, 5, n) > 45).astype(np.int64)
    return pd.DataFrame({"age": age, "spend": spend, "plan": plan, "churned": churned})


def log_frame(start_ms: int, n: int, *, seed: int = 1, shift: float = 0.0, version: str = "1",
              route: str = "production", span_ms: int = H, prefix: str = "r", status: int = 200,
              latency_ms: float = 5.0) -> pd.DataFrame:
    """``n`` one-row requests spread over ``[start_ms, start_ms + span_ms)``, in the log's layout.

    ``shift`` moves ``age`` (the drifting input); predictions follow ``age > 45``, with
    probabilities, so accuracy against :func:`truth` is high when unshifted.
    """
    rng = np.random.default_rng(seed)
    age = rng.normal(40 + shift, 10, n)
    proba1 = 1 / (1 + np.exp(-(age - 45) / 3))
    prediction = (proba1 > 0.5).astype(np.int64)
    return pd.DataFrame({
        "request_id": [f"{prefix}{seed}-{i}" for i in range(n)],
        "timestamp": pd.to_datetime(start_ms + np.sort(rng.integers(0, span_ms, n)), unit="ms", utc=True),
        "model": "churn", "version": version, "route": route,
        "latency_ms": np.full(n, latency_ms), "status": np.full(n, status, dtype=np.int16),
        "error": [None] * n, "row": np.zeros(n, dtype=np.int32),
        "in_age": age, "in_spend": rng.gamma(2.0, 50.0, n), "in_plan": rng.choice(["basic", "pro", "team"], n,
                                                                                 p=[0.5, 0.3, 0.2]),
        "prediction": prediction,
        "probabilities": list(np.column_stack([1 - proba1, proba1])),
    })


def truth(frame: pd.DataFrame, seed: int = 7, flip: float = 0.0) -> pd.DataFrame:
    """Labels for a log frame: the true class (``age > 45``), a share ``flip`` of them wrong."""
    rng = np.random.default_rng(seed)
    label = (frame["in_age"] > 45).astype(int).to_numpy()
    wrong = rng.random(len(label)) < flip
    label = np.where(wrong, 1 - label, label)
    return pd.DataFrame({"request_id": frame["request_id"], "label": label})


def write_segments(client: Client, frame: pd.DataFrame, *, model: str = "churn", worker: str = "w1",
                   kind: str = "inference", rows_per_segment: int = 5000, sink: RunSink | None = None) -> RunSink:
    """Write ``frame`` as segments of a serving run, each under the day of its last row."""
    sink = sink or RunSink(client, run_name=f"serving-{worker}")
    for start in range(0, len(frame), rows_per_segment):
        part = frame.iloc[start:start + rows_per_segment]
        day = layout.day_of(int(part["timestamp"].max().value // 1_000_000))
        buffer = io.BytesIO()
        part.to_parquet(buffer, index=False)
        sink.write(model, layout.segment_path(kind, day, worker, next(_seq)), buffer.getvalue())
    return sink


def feedback_frame(labels: pd.DataFrame, at_ms: int, model: str = "churn") -> pd.DataFrame:
    """Labels as serving's ``/v1/feedback`` writes them, arrived at ``at_ms``."""
    return pd.DataFrame({"request_id": labels["request_id"].to_numpy(),
                         "timestamp": pd.to_datetime(np.full(len(labels), at_ms), unit="ms", utc=True),
                         "model": model, "label": labels["label"].astype(np.float64).to_numpy()})


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    with Client(home=tmp_path / "home", flush_interval=0.2) as c:
        yield c
