"""Measuring a model's prediction latency on its own input example (for promotion gates)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from shipyard.errors import InvalidInput

__all__ = ["predict_latency_p99_ms"]


def predict_latency_p99_ms(package: Path, calls: int = 200, warmup: int = 20, *,
                           manifest_sha256: str | None = None) -> float:
    """p99 in milliseconds of ``predict`` on the package's input example; the package is
    checked against ``manifest_sha256``, its ``model.yaml`` as the registry recorded it."""
    from shipyard.models import load_model

    model = load_model(package, manifest_sha256=manifest_sha256)
    example = model.input_example
    if example is None:
        raise InvalidInput(f"model at {package} has no input example to time", field="input_example")
    for _ in range(warmup):
        model.predict(example)
    timings = np.empty(calls)
    for i in range(calls):
        start = time.perf_counter()
        model.predict(example)
        timings[i] = time.perf_counter() - start
    return float(np.percentile(timings, 99) * 1000)
