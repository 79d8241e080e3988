"""The report of a monitor over a period, from what its runs stored — no log is re-read.

The period's current distribution of each feature is the merge of the stored
profiles of its windows (:class:`~shipyard.monitoring._profile.WindowProfile` merges
exactly), compared once with the reference; the drift score, drift share,
performance and quality over time are the stored points. So a report costs the
same for a week of 10,000 rows as for a week of 1,000,000.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from shipyard.monitoring._backend import MonitorStore
from shipyard.monitoring._entities import Monitor, MonitorWindow
from shipyard.monitoring._profile import WindowProfile
from shipyard.monitoring._report import FeatureReport, ReportData
from shipyard.timeutil import now_ms

if TYPE_CHECKING:
    from shipyard.alerting import Point

__all__ = ["QUALITY_SERIES", "build_report"]

#: Series summarised under data quality and service health rather than charted as performance.
QUALITY_SERIES = ("rows", "quality_violations", "p99_latency_ms", "error_rate")
_DRIFT_SERIES = ("drift_share", "dataset_drift", "feature_drift_score", "prediction_drift_score", "missing_rate")

#: Points of a series by name: (window end, value).
_Series = dict[str, list[tuple[int, float | None]]]


def _merged(profiles: list[dict[str, Any] | None]) -> WindowProfile | None:
    parts = [WindowProfile.from_json(data) for data in profiles if data is not None]
    return WindowProfile.merge_all(parts) if parts else None


def _day(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M")


def build_report(monitor: Monitor, *, store: MonitorStore, datasets: Any = None, since_ms: int | None = None,
                 until_ms: int | None = None) -> ReportData:
    """The :class:`~shipyard.monitoring._report.ReportData` of ``monitor`` over ``(since_ms, until_ms]``
    (window ends): per feature the reference and current distributions and the drift
    over time, drift share, performance, data quality and service health over time."""
    from shipyard.monitoring._monitor import load_reference

    until = until_ms if until_ms is not None else now_ms()
    windows = store.list_windows(monitor.name, since_ms=since_ms, until_ms=until, profiles=True)
    points = store.query_points(monitor.name, since_ms=since_ms, until_ms=until)
    period = _period(windows, since_ms, until)
    title = f"{monitor.name}: {monitor.model} from {_day(period[0])} to {_day(period[1])} UTC"
    current = _merged([w.profile for w in windows])
    predictions = _merged([w.prediction_profile for w in windows])
    reference = load_reference(datasets, monitor.reference) if monitor.reference and datasets is not None else None
    data = _distributions(monitor, reference, current, predictions, title, period)
    series, by_feature, missing = _split_points(points)
    features = _with_drift_over_time(data.features, by_feature, series, monitor.label_column)
    summary = {"monitor": monitor.name, "model": monitor.model, "reference": monitor.reference,
               "window_s": monitor.window_s, **data.summary}
    return dataclasses.replace(data, features=features, drift_share=tuple(series.get("drift_share", ())),
                               performance=_performance(series),
                               quality={**data.quality, **_quality(windows, series, missing)}, summary=summary)


def _period(windows: Sequence[MonitorWindow], since_ms: int | None, until: int) -> tuple[int, int]:
    """The first window's start and the last one's end; the asked bounds when there is no window."""
    if not windows:
        return (since_ms if since_ms is not None else until), until
    return windows[0].window_start, windows[-1].window_end


def _distributions(monitor: Monitor, reference: WindowProfile | None, current: WindowProfile | None,
                   predictions: WindowProfile | None, title: str, period: tuple[int, int]) -> ReportData:
    """The report's per-feature reference and current distributions and their drift over the whole
    period; a report with only its title and period when either side is missing."""
    from shipyard.monitoring._drift import detect_drift

    if reference is None or current is None:
        return ReportData(title, period)
    label = monitor.label_column
    if predictions is not None and label:
        current = WindowProfile(current.rows, {**current.columns, **predictions.columns})
    watched = [c for c in (monitor.option("columns") or current.columns) if c != label]
    known = set(reference.columns) | set(current.columns)
    report = detect_drift(reference, current, columns=[f for f in watched if f in known],
                          tests=_known_options(monitor.option("tests"), known),
                          thresholds=_known_options(monitor.option("thresholds"), known),
                          prediction_column=label if label and label in current.columns else None,
                          share_threshold=float(monitor.option("drift_threshold") or 0.5))
    data = ReportData.from_drift(report, reference, current, title=title)
    return dataclasses.replace(data, period=period)


def _known_options(options: Mapping[str, Any] | None, known: set[str]) -> dict[str, Any]:
    """A monitor's per-column options, less those of columns neither side holds."""
    return {k: v for k, v in (options or {}).items() if k in known}


def _split_points(points: Sequence[Point]) -> tuple[_Series, _Series, dict[str, list[float]]]:
    """The stored points by kind: the monitor-wide series by name, the feature drift scores
    by feature, and the (non-null) missing rates by feature."""
    series: _Series = defaultdict(list)
    by_feature: _Series = defaultdict(list)
    missing: dict[str, list[float]] = defaultdict(list)
    for p in points:
        if p.series == "feature_drift_score":
            by_feature[p.labels.get("feature", "")].append((p.window_end, p.value))
        elif p.series == "missing_rate":
            if p.value is not None:
                missing[p.labels.get("feature", "")].append(p.value)
        elif not p.labels:
            series[p.series].append((p.window_end, p.value))
    return series, by_feature, missing


def _with_drift_over_time(features: Sequence[FeatureReport], by_feature: _Series, series: _Series,
                          label: str | None) -> tuple[FeatureReport, ...]:
    """Each feature with its drift score per window; the label column's is the prediction drift score."""
    drift = dict(by_feature)
    if label:
        drift[label] = series.get("prediction_drift_score", [])
    return tuple(dataclasses.replace(f, drift=tuple(drift.get(f.name, ()))) for f in features)


def _performance(series: _Series) -> dict[str, tuple[tuple[int, float | None], ...]]:
    """The series charted as performance, by name, and the share of rows labelled per window."""
    performance = {name: tuple(values) for name, values in sorted(series.items())
                   if name not in QUALITY_SERIES and name not in _DRIFT_SERIES and not name.endswith("_rows")}
    shares = _labelled_share(series)
    if shares:
        performance["labelled_share"] = shares
    return performance


def _labelled_share(series: _Series) -> tuple[tuple[int, float | None], ...]:
    """Per window with labelled rows, their share of its rows (None for a window of no rows)."""
    labelled = dict(series.get("labelled_rows", ()))
    unlabelled = dict(series.get("unlabelled_rows", ()))
    shares: list[tuple[int, float | None]] = []
    for window_end, n in sorted(labelled.items()):
        total = (n or 0.0) + (unlabelled.get(window_end) or 0.0)
        shares.append((window_end, (n or 0.0) / total if total else None))
    return tuple(shares)


def _quality(windows: Sequence[MonitorWindow], series: _Series, missing: dict[str, list[float]]) -> dict[str, Any]:
    """The data quality and service health summary of the period."""
    labelled = dict(series.get("labelled_rows", ()))
    quality: dict[str, Any] = {
        "windows": _window_statuses(windows),
        "rows": sum(w.rows for w in windows),
        "labelled_rows": int(sum(v or 0 for v in labelled.values())),
        "quality_violations": int(sum(v or 0 for _, v in series.get("quality_violations", ()))),
        "mean_missing_rate": {f: round(sum(v) / len(v), 6) for f, v in sorted(missing.items()) if v},
        "versions": sorted({w.version for w in windows if w.version}),
    }
    quality.update(_service_health(series))
    details = sorted({w.detail for w in windows if w.detail})
    if details:
        quality["issues"] = details[:20]
    return quality


def _window_statuses(windows: Sequence[MonitorWindow]) -> dict[str, int]:
    """How many windows ended in each status."""
    # ok, empty and failed always; a rarer status (incomparable) when a window has it.
    common = ("ok", "empty", "failed")
    statuses = (*common, *sorted({w.status for w in windows} - set(common)))
    return {status: sum(w.status == status for w in windows) for status in statuses}


def _service_health(series: _Series) -> dict[str, dict[str, float]]:
    """The p99 latency's maximum and last value, and the error rate's maximum and mean (each when recorded)."""
    health: dict[str, dict[str, float]] = {}
    latency = [v for _, v in series.get("p99_latency_ms", ()) if v is not None]
    errors = [v for _, v in series.get("error_rate", ()) if v is not None]
    if latency:
        health["p99_latency_ms"] = {"max": max(latency), "last": latency[-1]}
    if errors:
        health["error_rate"] = {"max": max(errors), "mean": round(sum(errors) / len(errors), 6)}
    return health
