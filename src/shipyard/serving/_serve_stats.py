"""What a serving process's heartbeat carries of its metrics, and the live figures read from two.

:func:`summarize` folds the merged worker metrics (what ``GET /metrics`` renders; see
:mod:`shipyard.serving._metrics`) into a small JSON object per served model: answers by
status code, the request-duration and batch-size histograms, model errors, and the
version each route serves now. Counters only grow, so two summaries taken one
heartbeat apart give rates and the percentiles of that interval (:func:`live_figures`),
without any reader reaching the serving process itself.

>>> from shipyard.serving._metrics import Metrics, merge
>>> m = Metrics()
>>> m.request("churn", "3", "production", 200, 0.004)
>>> summary = summarize(merge([m.snapshot()]), at=1_000)
>>> summary["models"]["churn"]["requests"]
{'200': 1.0}
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from shipyard.serving._metrics import BATCH_BUCKETS, DURATION_BUCKETS

__all__ = ["live_figures", "quantile", "summarize"]

_SEP = "\x1f"
_PERCENTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))


def _model(models: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    if not name:  # health checks, scrapes, unknown paths: no model's traffic
        return {"requests": {}, "duration": [0.0] * (len(DURATION_BUCKETS) + 2),
                "batch": [0.0] * (len(BATCH_BUCKETS) + 2), "model_errors": 0.0, "routes": {}}
    found = models.get(name)
    if found is None:
        found = models[name] = {"requests": {}, "duration": [0.0] * (len(DURATION_BUCKETS) + 2),
                                "batch": [0.0] * (len(BATCH_BUCKETS) + 2), "model_errors": 0.0, "routes": {}}
    return found


def _add(into: list[float], cells: Sequence[float]) -> None:
    for i, value in enumerate(cells[:len(into)]):
        into[i] += value


def summarize(merged: Mapping[str, Mapping[str, Any]], *, at: int) -> dict[str, Any]:
    """The heartbeat's summary of ``merged`` worker metrics, taken at ``at`` (ms).

    ``{"at", "workers", "duration_bounds", "batch_bounds", "models": {name: {"requests":
    {code: n}, "duration": [per-bucket counts…, +Inf, sum], "batch": [same], "model_errors":
    n, "routes": {route: version}}}}``; every count is a total since the process started.
    """
    models: dict[str, dict[str, Any]] = {}
    for key, value in (merged.get("shipyard_requests_total") or {}).items():
        model, _version, _route, code = key.split(_SEP)
        requests = _model(models, model)["requests"]
        requests[code] = requests.get(code, 0.0) + float(value)
    for family, cell in (("shipyard_request_duration_seconds", "duration"), ("shipyard_batch_size", "batch")):
        for key, cells in (merged.get(family) or {}).items():
            _add(_model(models, key.split(_SEP)[0])[cell], cells)
    for key, value in (merged.get("shipyard_model_errors_total") or {}).items():
        _model(models, key.split(_SEP)[0])["model_errors"] += float(value)
    for key, value in (merged.get("shipyard_model_version_info") or {}).items():
        model, route, version = key.split(_SEP)
        if value:
            _model(models, model)["routes"][route] = version
    workers = sum((merged.get("shipyard_workers") or {}).values())
    return {"at": at, "workers": int(workers), "duration_bounds": list(DURATION_BUCKETS),
            "batch_bounds": list(BATCH_BUCKETS), "models": models}


def quantile(q: float, bounds: Sequence[float], counts: Sequence[float]) -> float | None:
    """The ``q`` quantile of a histogram (per-bucket ``counts``, then the +Inf bucket),
    interpolated linearly inside its bucket as Prometheus's ``histogram_quantile`` does;
    None without observations. A quantile in the +Inf bucket is the last finite bound.

    >>> quantile(0.5, [1.0, 2.0], [0, 10, 0])
    1.5
    """
    total = sum(counts[:len(bounds) + 1])
    if total <= 0:
        return None
    rank = q * total
    seen = 0.0
    for i, count in enumerate(counts[:len(bounds) + 1]):
        if count and seen + count >= rank:
            if i == len(bounds):
                return float(bounds[-1])
            low = 0.0 if i == 0 else float(bounds[i - 1])
            return low + (float(bounds[i]) - low) * (rank - seen) / count
        seen += count
    return float(bounds[-1])


def _minus(now: Sequence[float], before: Sequence[float] | None) -> list[float]:
    if before is None or len(before) != len(now):
        return list(now)
    return [max(0.0, a - b) for a, b in zip(now, before, strict=True)]


def _rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, digits)


def live_figures(current: Mapping[str, Any] | None, previous: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Per model: request and error rates over the interval between two summaries, and
    that interval's latency percentiles and batch sizes (the totals' when nothing was
    answered or called in it, marked by ``window_s`` or ``batch_window_s`` None). None
    without a current summary.

    An error is an answer with a 5xx status; 4xx answers (bad input) are counted apart.
    A previous summary taken after the current one, or from another process, is ignored.
    """
    if not current:
        return None
    before = previous if previous and previous.get("at", 0) < current["at"] else None
    seconds = (current["at"] - before["at"]) / 1000 if before else None
    d_bounds, b_bounds = current["duration_bounds"], current["batch_bounds"]
    out = []
    for name in sorted(current["models"]):
        now = current["models"][name]
        then = (before or {}).get("models", {}).get(name) if before else None
        codes_now = {k: float(v) for k, v in now["requests"].items()}
        codes_then = {k: float(v) for k, v in (then or {}).get("requests", {}).items()}
        total = sum(codes_now.values())
        errors = sum(v for k, v in codes_now.items() if k.startswith("5"))
        client_errors = sum(v for k, v in codes_now.items() if k.startswith("4"))
        delta = max(0.0, total - sum(codes_then.values())) if then is not None else total
        delta_errors = max(0.0, errors - sum(v for k, v in codes_then.items() if k.startswith("5"))) \
            if then is not None else errors
        duration = _minus(now["duration"], then["duration"] if then else None)
        batch = _minus(now["batch"], then["batch"] if then else None)
        windowed = bool(seconds) and then is not None and sum(duration[:-1]) > 0
        if not windowed:  # nothing answered in the interval: describe the totals
            duration = list(now["duration"])
        batch_windowed = windowed and sum(batch[:-1]) > 0
        if not batch_windowed:
            batch = list(now["batch"])
        batches = sum(batch[:-1])
        out.append({
            "name": name,
            "routes": [{"route": r, "version": v} for r, v in sorted(now["routes"].items())],
            "requests_total": int(total),
            "errors_total": int(errors),
            "client_errors_total": int(client_errors),
            "model_errors_total": int(now["model_errors"]),
            "requests_per_s": _rounded(delta / seconds) if seconds and then is not None else None,
            "errors_per_s": _rounded(delta_errors / seconds) if seconds and then is not None else None,
            "error_share": _rounded(errors / total, 4) if total else None,
            "window_s": _rounded(seconds) if windowed else None,
            "latency_ms": {key: _rounded(None if (v := quantile(q, d_bounds, duration)) is None else v * 1000)
                           for key, q in _PERCENTILES},
            "mean_batch_size": _rounded(batch[-1] / batches, 2) if batches else None,
            "batch_window_s": _rounded(seconds) if batch_windowed else None,
            "batch_sizes": [{"le": bound, "count": int(count)} for bound, count in zip(b_bounds, batch, strict=False)
                            if count],
        })
    return {"at": current["at"], "workers": current.get("workers", 0), "models": out}
