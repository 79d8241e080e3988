"""The report of a monitor over a period, from what its runs stored — no log is re-read.

The period's current distribution of each feature is the merge of the stored
profiles of its windows (:class:`~shipyard.monitoring.profile.WindowProfile` merges
exactly), compared once with the reference; the drift score, drift share,
performance and quality over time are the stored points. So a report costs the
same for a week of 10,000 rows as for a week of 1,000,000.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from typing import Any

from shipyard.monitoring.backend import MonitorStore
from shipyard.monitoring.entities import Monitor, now_ms
from shipyard.monitoring.profile import WindowProfile
from shipyard.monitoring.report import ReportData

__all__ = ["QUALITY_SERIES", "build_report"]

#: Series summarised under data quality and service health rather than charted as performance.
QUALITY_SERIES = ("rows", "quality_violations", "p99_latency_ms", "error_rate")
_DRIFT_SERIES = ("drift_share", "dataset_drift", "feature_drift_score", "prediction_drift_score", "missing_rate")


def _merged(profiles: list[dict[str, Any] | None]) -> WindowProfile | None:
    parts = [WindowProfile.from_json(data) for data in profiles if data is not None]
    return WindowProfile.merge_all(parts) if parts else None


def _day(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M")


def build_report(monitor: Monitor, *, store: MonitorStore, datasets: Any = None, since_ms: int | None = None,
                 until_ms: int | None = None) -> ReportData:
    """The :class:`~shipyard.monitoring.report.ReportData` of ``monitor`` over ``(since_ms, until_ms]``
    (window ends): per feature the reference and current distributions and the drift
    over time, drift share, performance, data quality and service health over time."""
    from shipyard.monitoring.drift import detect_drift
    from shipyard.monitoring.monitor import load_reference

    until = until_ms if until_ms is not None else now_ms()
    windows = store.list_windows(monitor.name, since_ms=since_ms, until_ms=until, profiles=True)
    points = store.query_points(monitor.name, since_ms=since_ms, until_ms=until)
    start = windows[0].window_start if windows else (since_ms if since_ms is not None else until)
    end = windows[-1].window_end if windows else until
    title = f"{monitor.name}: {monitor.model} from {_day(start)} to {_day(end)} UTC"
    current = _merged([w.profile for w in windows])
    predictions = _merged([w.prediction_profile for w in windows])
    reference = load_reference(datasets, monitor.reference) if monitor.reference and datasets is not None else None
    data = ReportData(title, (start, end))
    if reference is not None and current is not None:
        label = monitor.label_column
        if predictions is not None and label:
            current = WindowProfile(current.rows, {**current.columns, **predictions.columns})
        watched = [c for c in (monitor.option("columns") or current.columns) if c != label]
        known = set(reference.columns) | set(current.columns)
        report = detect_drift(reference, current, columns=[f for f in watched if f in known],
                              tests={k: v for k, v in (monitor.option("tests") or {}).items() if k in known},
                              thresholds={k: v for k, v in (monitor.option("thresholds") or {}).items() if k in known},
                              prediction_column=label if label and label in current.columns else None,
                              share_threshold=float(monitor.option("drift_threshold") or 0.5))
        data = ReportData.from_drift(report, reference, current, title=title)
        data = dataclasses.replace(data, period=(start, end))
    series: dict[str, list[tuple[int, float | None]]] = defaultdict(list)
    by_feature: dict[str, list[tuple[int, float | None]]] = defaultdict(list)
    missing: dict[str, list[float]] = defaultdict(list)
    for p in points:
        if p.series == "feature_drift_score":
            by_feature[p.labels.get("feature", "")].append((p.window_end, p.value))
        elif p.series == "missing_rate":
            if p.value is not None:
                missing[p.labels.get("feature", "")].append(p.value)
        elif not p.labels:
            series[p.series].append((p.window_end, p.value))
    if monitor.label_column:
        by_feature[monitor.label_column] = series.get("prediction_drift_score", [])
    features = tuple(dataclasses.replace(f, drift=tuple(by_feature.get(f.name, ()))) for f in data.features)
    performance = {name: tuple(values) for name, values in sorted(series.items())
                   if name not in QUALITY_SERIES and name not in _DRIFT_SERIES and not name.endswith("_rows")}
    labelled = dict(series.get("labelled_rows", ()))
    unlabelled = dict(series.get("unlabelled_rows", ()))
    if labelled:
        shares: list[tuple[int, float | None]] = []
        for window_end, n in sorted(labelled.items()):
            total = (n or 0.0) + (unlabelled.get(window_end) or 0.0)
            shares.append((window_end, (n or 0.0) / total if total else None))
        performance["labelled_share"] = tuple(shares)
    # ok, empty and failed always; a rarer status (incomparable) when a window has it.
    common = ("ok", "empty", "failed")
    statuses = (*common, *sorted({w.status for w in windows} - set(common)))
    quality: dict[str, Any] = {
        "windows": {status: sum(w.status == status for w in windows) for status in statuses},
        "rows": sum(w.rows for w in windows),
        "labelled_rows": int(sum(v or 0 for v in labelled.values())),
        "quality_violations": int(sum(v or 0 for _, v in series.get("quality_violations", ()))),
        "mean_missing_rate": {f: round(sum(v) / len(v), 6) for f, v in sorted(missing.items()) if v},
        "versions": sorted({w.version for w in windows if w.version}),
    }
    latency = [v for _, v in series.get("p99_latency_ms", ()) if v is not None]
    errors = [v for _, v in series.get("error_rate", ()) if v is not None]
    if latency:
        quality["p99_latency_ms"] = {"max": max(latency), "last": latency[-1]}
    if errors:
        quality["error_rate"] = {"max": max(errors), "mean": round(sum(errors) / len(errors), 6)}
    details = sorted({w.detail for w in windows if w.detail})
    if details:
        quality["issues"] = details[:20]
    summary = {"monitor": monitor.name, "model": monitor.model, "reference": monitor.reference,
               "window_s": monitor.window_s, **data.summary}
    return dataclasses.replace(data, features=features, drift_share=tuple(series.get("drift_share", ())),
                               performance=performance, quality={**data.quality, **quality}, summary=summary)
