"""Prometheus metrics of a serving process, summed across its workers.

Each worker counts in plain dicts (an increment is a dict update, well under a
microsecond, so the request path barely notices) and publishes a snapshot file into
the server's shared state directory: every second, and right before it answers a
scrape. A scrape, answered by any worker, merges every worker's file: counters,
histograms and summaries are summed over all workers that ever ran (the last
snapshot of a dead worker is kept, renamed ``dead-…``, so totals never go backwards),
gauges over the live ones only (a gauge of the machine, see :mod:`._system_gauges`, is
taken once, not summed). Because each figure a scrape shows was written to
disk first, successive scrapes never see a counter decrease, whichever worker answers.

This is prometheus_client's multiprocess idea without its per-sample mmap writes and
without ``PROMETHEUS_MULTIPROC_DIR`` (which would have to be written into the
environment before the library is imported). The text follows exposition format 0.0.4.

>>> m = Metrics()
>>> m.request("churn", "3", "production", 200, 0.004)
>>> b"shipyard_requests_total{model=\\"churn\\"" in render(m.snapshot())
True
"""

from __future__ import annotations

import bisect
import contextlib
import os
import resource
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from shipyard.serving._system_gauges import FAMILIES as SYSTEM_FAMILIES
from shipyard.serving._system_gauges import MACHINE_GAUGES, SystemGauges

__all__ = ["FAMILIES", "Metrics", "MetricsDirectory", "merge", "render"]

_SEP = "\x1f"
DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)

# name: (type, help, label names, buckets)
FAMILIES: dict[str, tuple[str, str, tuple[str, ...], tuple[float, ...]]] = {
    "shipyard_requests_total": ("counter", "Requests answered, by model, version, route and status code.",
                                ("model", "version", "route", "code"), ()),
    "shipyard_request_duration_seconds": ("histogram", "Time from request received to response sent.",
                                          ("model", "version", "route"), DURATION_BUCKETS),
    "shipyard_batch_size": ("histogram", "Rows per model call.", ("model", "version"), BATCH_BUCKETS),
    "shipyard_batch_duration_seconds": ("histogram", "Seconds per model call.", ("model", "version"),
                                        DURATION_BUCKETS),
    "shipyard_queue_depth": ("gauge", "Requests waiting for a batch.", ("model", "version", "route"), ()),
    "shipyard_requests_in_progress": ("gauge", "Requests being handled.", ("model",), ()),
    "shipyard_prediction_value": ("summary", "Numeric predictions returned (sum and count give the mean).",
                                  ("model", "version"), ()),
    "shipyard_model_errors_total": ("counter", "Requests on which the model raised.", ("model", "version"), ()),
    "shipyard_shadow_requests_total": ("counter", "Requests mirrored to a shadow version, by outcome.",
                                       ("model", "version", "outcome"), ()),
    "shipyard_reloads_total": ("counter", "Version switches of a route, by outcome.",
                               ("model", "route", "outcome"), ()),
    "shipyard_inference_log_rows_total": ("counter", "Inference log rows, by outcome (written, dropped, failed).",
                                          ("model", "outcome"), ()),
    "shipyard_model_version_info": ("gauge", "1 for each version a route currently serves.",
                                    ("model", "route", "version"), ()),
    "shipyard_workers": ("gauge", "Live worker processes.", (), ()),
    "process_cpu_seconds_total": ("counter", "CPU time of the worker processes (user + system).", (), ()),
    "process_resident_memory_bytes": ("gauge", "Resident memory of the live worker processes.", (), ()),
    **SYSTEM_FAMILIES,
}
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class _Histogram:
    __slots__ = ("bounds", "data")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.data: dict[tuple[str, ...], list[float]] = {}

    def observe(self, labels: tuple[str, ...], value: float, count: int = 1) -> None:
        cells = self.data.get(labels)
        if cells is None:
            cells = self.data[labels] = [0.0] * (len(self.bounds) + 2)  # buckets, +Inf, sum
        cells[bisect.bisect_left(self.bounds, value)] += count
        cells[-1] += value * count


class Metrics:
    """One worker's metrics, kept in dicts; :meth:`snapshot` freezes them for merging."""

    def __init__(self) -> None:
        self._requests: dict[tuple[str, ...], float] = {}
        self._duration = _Histogram(DURATION_BUCKETS)
        self._batch = _Histogram(BATCH_BUCKETS)
        self._batch_seconds = _Histogram(DURATION_BUCKETS)
        self._predictions: dict[tuple[str, ...], list[float]] = {}
        self._counters: dict[str, dict[tuple[str, ...], float]] = {}
        self.in_progress: dict[str, int] = {}
        self._gauges: list[Any] = [SystemGauges().collect]

    def request(self, model: str, version: str, route: str, code: int, seconds: float) -> None:
        """Count one answered request and its duration."""
        key = (model, version, route, str(code))
        self._requests[key] = self._requests.get(key, 0) + 1
        self._duration.observe((model, version, route), seconds)

    def batch(self, model: str, version: str, rows: int, seconds: float) -> None:
        labels = (model, version)
        self._batch.observe(labels, rows)
        self._batch_seconds.observe(labels, seconds)

    def predictions(self, model: str, version: str, values: Any) -> None:
        """Add numeric predictions to the value summary (others are skipped)."""
        if isinstance(values, np.ndarray) and values.dtype.kind in "biuf" and values.size:
            cells = self._predictions.setdefault((model, version), [0.0, 0.0])
            cells[0] += float(values.sum())
            cells[1] += values.shape[0]

    def inc(self, name: str, labels: tuple[str, ...], by: float = 1) -> None:
        family = self._counters.setdefault(name, {})
        family[labels] = family.get(labels, 0) + by

    def add_gauges(self, collect: Any) -> None:
        """Register ``collect() -> iterable of (name, labels, value)``, read at each snapshot."""
        self._gauges.append(collect)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Every family as ``{name: {"label\\x1flabel": value}}`` (JSON-able)."""
        out: dict[str, dict[str, Any]] = {name: {} for name in FAMILIES}

        def put(name: str, labels: Iterable[str], value: Any) -> None:
            out[name][_SEP.join(labels)] = value

        for labels, value in self._requests.items():
            put("shipyard_requests_total", labels, value)
        for name, hist in (("shipyard_request_duration_seconds", self._duration), ("shipyard_batch_size", self._batch),
                           ("shipyard_batch_duration_seconds", self._batch_seconds)):
            for labels, cells in hist.data.items():
                put(name, labels, list(cells))
        for labels, cells in self._predictions.items():
            put("shipyard_prediction_value", labels, list(cells))
        for name, family in self._counters.items():
            for labels, value in family.items():
                put(name, labels, value)
        for model, count in self.in_progress.items():
            put("shipyard_requests_in_progress", (model,), count)
        for collect in self._gauges:
            for name, labels, value in collect():
                put(name, labels, value)
        put("shipyard_workers", (), 1)
        put("process_cpu_seconds_total", (), time.process_time())
        put("process_resident_memory_bytes", (), _rss())
        return out


def _rss() -> float:
    try:
        with open("/proc/self/statm", "rb") as handle:
            return float(int(handle.read().split()[1]) * _PAGE)
    except (OSError, IndexError, ValueError):
        return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


def merge(live: Iterable[Mapping[str, Any]], retired: Iterable[Mapping[str, Any]] = ()) -> dict[str, dict[str, Any]]:
    """Sum snapshots: every family over ``live``; all but gauges over ``retired`` too."""
    out: dict[str, dict[str, Any]] = {name: {} for name in FAMILIES}
    for snapshot, is_live in [*((s, True) for s in live), *((s, False) for s in retired)]:
        for name, samples in snapshot.items():
            spec = FAMILIES.get(name)
            if spec is None or (spec[0] == "gauge" and not is_live):
                continue
            target = out[name]
            for key, value in samples.items():
                old = target.get(key)
                if old is None:
                    target[key] = list(value) if isinstance(value, list) else value
                elif isinstance(value, list):
                    target[key] = [a + b for a, b in zip(old, value, strict=True)]
                elif name in MACHINE_GAUGES:
                    target[key] = max(old, value)
                else:
                    target[key] = old + value
    return out


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(names: tuple[str, ...], key: str, extra: str = "") -> str:
    values = key.split(_SEP) if names else []
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=False)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _num(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def render(snapshot: Mapping[str, Mapping[str, Any]]) -> bytes:
    """The Prometheus text exposition (format 0.0.4) of a (merged) snapshot."""
    lines: list[str] = []
    for name, (kind, help_text, names, bounds) in FAMILIES.items():
        samples = snapshot.get(name) or {}
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        for key in sorted(samples):
            value = samples[key]
            if kind == "histogram":
                cumulative = 0.0
                for bound, count in zip((*bounds, float("inf")), value[:-1], strict=True):
                    cumulative += count
                    le = "+Inf" if bound == float("inf") else repr(float(bound))
                    bucket_labels = _labels(names, key, 'le="' + le + '"')
                    lines.append(f"{name}_bucket{bucket_labels} {_num(cumulative)}")
                lines.append(f"{name}_sum{_labels(names, key)} {repr(float(value[-1]))}")
                lines.append(f"{name}_count{_labels(names, key)} {_num(cumulative)}")
            elif kind == "summary":
                lines.append(f"{name}_sum{_labels(names, key)} {repr(float(value[0]))}")
                lines.append(f"{name}_count{_labels(names, key)} {_num(value[1])}")
            else:
                lines.append(f"{name}{_labels(names, key)} {_num(value)}")
    return ("\n".join(lines) + "\n").encode()


class MetricsDirectory:
    """The shared folder where each worker publishes its snapshot (``w-<id>.json``)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def publish(self, worker: str, snapshot: Mapping[str, Any]) -> None:
        tmp = self.path / f".w-{worker}.tmp"
        tmp.write_bytes(orjson.dumps(snapshot))
        os.replace(tmp, self.path / f"w-{worker}.json")

    def retire(self, worker: str) -> None:
        """Keep a dead worker's last counts for the totals, without its gauges."""
        with contextlib.suppress(FileNotFoundError):
            os.replace(self.path / f"w-{worker}.json", self.path / f"dead-{worker}.json")

    def collect(self) -> dict[str, dict[str, Any]]:
        live: list[dict[str, Any]] = []
        retired: list[dict[str, Any]] = []
        for file in self.path.glob("*.json"):
            try:
                data = orjson.loads(file.read_bytes())
            except (OSError, orjson.JSONDecodeError):
                continue  # replaced or removed meanwhile
            (retired if file.name.startswith("dead-") else live).append(data)
        return merge(live, retired)
