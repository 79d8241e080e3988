"""One monitor window: its rows of the inference log in, its series points out.

:class:`WindowAccumulator` takes the window's rows batch by batch (Arrow tables, as
:class:`~shipyard.monitoring._inference.InferenceLogReader` yields them) and keeps
only bounded state — a :class:`~shipyard.monitoring._profile.WindowProfile` of the
inputs and one of the predictions, quality counts, per-request latency and status —
plus the few columns performance needs (request id, row, prediction,
probabilities). :meth:`WindowAccumulator.finish` turns that into the window's
:class:`~shipyard.alerting._series.Point`\\ s:

==========================  =====================================================
series                      value
==========================  =====================================================
``rows``                    logged prediction rows (0 for an empty window)
``drift_share``             share of drifted features (None without a reference)
``dataset_drift``           1.0 when the window drifted as a whole, else 0.0
``feature_drift_score``     per ``feature``: the drift test's statistic
``prediction_drift_score``  the predictions against the reference's label column
``missing_rate``            per ``feature``: share of missing values
``quality_violations``      data-quality issues found (contract, signature, schema)
``p99_latency_ms``          99th percentile of request latency
``error_rate``              share of requests that failed (status ≥ 500)
==========================  =====================================================

plus the performance series of :func:`performance_points`. A value the window
has nothing to compute from is None; such points are stored, so a gap shows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from shipyard.alerting import Point
from shipyard.monitoring._coverage import names
from shipyard.monitoring._entities import Monitor, MonitorWindow
from shipyard.monitoring._labels import join_labels
from shipyard.monitoring._profile import WindowProfile
from shipyard.serving import _log_layout as layout
from shipyard.timeutil import now_ms

__all__ = ["CLASSIFICATION_METRICS", "PERFORMANCE_COLUMNS", "REGRESSION_METRICS", "WindowAccumulator",
           "performance_points", "series_names"]

CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
REGRESSION_METRICS = ("mae", "rmse", "r2")
#: What the confidence-based estimate (CBPE) gives, as ``estimated_<metric>`` series.
ESTIMATED_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
#: The series every window writes, whatever the task (``feature_drift_score`` and
#: ``missing_rate`` once per input, labelled ``feature``).
WINDOW_SERIES = ("rows", "drift_share", "dataset_drift", "feature_drift_score", "prediction_drift_score",
                 "missing_rate", "quality_violations", "p99_latency_ms", "error_rate", "labelled_rows",
                 "unlabelled_rows")
#: The log columns performance is computed from.
PERFORMANCE_COLUMNS = (layout.REQUEST_ID, layout.ROW, layout.STATUS, layout.PREDICTION, layout.PROBABILITIES)

SchemaSource = Callable[[str | None], tuple[Any, Any]]  # version -> (signature, contract)


class WindowAccumulator:
    """Bounded state of one window being read; see the module docstring."""

    def __init__(self, monitor: Monitor, start: int, end: int, *, reference: WindowProfile | None,
                 schema: SchemaSource | None = None) -> None:
        self.monitor = monitor
        self.start, self.end = start, end
        self.reference = reference
        self.schema = schema
        self.columns: list[str] | None = list(monitor.option("columns")) if monitor.option("columns") else None
        self.prediction_name = monitor.label_column or layout.PREDICTION
        self.rows = 0
        self.versions: Counter[str] = Counter()
        self.inputs: WindowProfile | None = None
        self.predictions: WindowProfile | None = None
        self.latencies: list[np.ndarray] = []
        self.statuses: list[np.ndarray] = []
        self.performance: list[pa.Table] = []
        self.missing: Counter[str] = Counter()
        self.issues: Counter[str] = Counter()
        self.quality_rows = 0
        # The reference as data quality sees it: the inputs only, not the target column.
        self.quality_reference = None if reference is None else WindowProfile(reference.rows, {
            name: sketch for name, sketch in reference.columns.items()
            if name != monitor.label_column and (self.columns is None or name in self.columns)})

    def add(self, table: pa.Table) -> None:
        """Take one batch of the window's rows (columns as the inference log writes them)."""
        n = table.num_rows
        if not n:
            return
        self.rows += n
        if layout.VERSION in table.column_names:
            counted = pc.value_counts(table[layout.VERSION])
            for value, count in zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist(),
                                    strict=True):
                self.versions[str(value)] += count
        self._requests(table)
        inputs = _inputs(table, self.columns)
        if inputs.num_columns:
            part = WindowProfile.of(inputs, reference=self.reference)
            self.inputs = part if self.inputs is None else self.inputs.merge(part)
            self._quality(inputs, table)
        if layout.PREDICTION in table.column_names and _scalar(table[layout.PREDICTION].type):
            ok = _succeeded(table)
            predicted = table.filter(ok) if ok is not None else table
            part = WindowProfile.of({self.prediction_name: predicted[layout.PREDICTION]}, reference=self.reference)
            self.predictions = part if self.predictions is None else self.predictions.merge(part)
            self.performance.append(predicted.select([c for c in PERFORMANCE_COLUMNS if c in table.column_names]))

    def _requests(self, table: pa.Table) -> None:
        """Latency and status once per request (its first row), not once per row."""
        first = pc.equal(table[layout.ROW], 0) if layout.ROW in table.column_names else None
        requests = table.filter(first) if first is not None else table
        if layout.LATENCY_MS in requests.column_names:
            self.latencies.append(requests[layout.LATENCY_MS].to_numpy(zero_copy_only=False).astype(np.float64))
        if layout.STATUS in requests.column_names:
            self.statuses.append(requests[layout.STATUS].to_numpy(zero_copy_only=False).astype(np.int64))

    def _quality(self, inputs: pa.Table, table: pa.Table) -> None:
        from shipyard.monitoring._quality import check_quality

        signature, contract = (None, None)
        if self.schema is not None:
            version = table[layout.VERSION] if layout.VERSION in table.column_names else None
            signature, contract = self.schema(_majority(version) if version is not None else None)
        report = check_quality(inputs, contract=contract, signature=signature, reference=self.quality_reference)
        self.quality_rows += report.rows
        for column, rate in report.missing_rates.items():
            if rate is not None:
                self.missing[column] += round(rate * report.rows)
        for issue in report.issues:
            if issue.kind != "null_values":  # missing values are their own series
                self.issues[issue.kind] += max(int(issue.count), 1)

    # -- results ---------------------------------------------------------------------------

    @property
    def version(self) -> str | None:
        return self.versions.most_common(1)[0][0] if self.versions else None

    def features(self) -> list[str]:
        """The watched inputs: the configured columns, else the logged ones, else the reference's."""
        if self.columns:
            return list(self.columns)
        if self.inputs is not None:
            return list(self.inputs.columns)
        if self.reference is not None:
            return [c for c in self.reference.columns if c != self.monitor.label_column]
        return []

    def _reference_inputs(self) -> list[str]:
        assert self.reference is not None
        return [c for c in self.reference.columns if c != self.monitor.label_column]

    def coverage(self) -> tuple[list[str], list[str]]:
        """The watched inputs logged in this window that the reference holds (their drift is
        computed), and those it lacks."""
        if self.reference is None or self.inputs is None:
            return [], []
        known = set(self._reference_inputs())
        logged = [f for f in self.features() if f in self.inputs.columns]
        return [f for f in logged if f in known], [f for f in logged if f not in known]

    def finish(self, labels: Callable[[Sequence[str]], pd.DataFrame]) -> tuple[MonitorWindow, list[Point]]:
        """The window's record and points; ``labels(request_ids)`` gives the known labels."""
        name, start, end = self.monitor.name, self.start, self.end

        def point(series: str, value: float | None, **labels_: str) -> Point:
            return Point(name, series, start, end, value, labels_)

        points = [point("rows", float(self.rows))]
        points += self._drift_points(point)
        features = self.features()
        for feature in features:
            rate = self.missing[feature] / self.quality_rows if self.quality_rows else None
            if rate is None and self.inputs is not None and feature in self.inputs.columns:
                sketch = self.inputs.columns[feature]
                rate = sketch.nulls / (sketch.count + sketch.nulls) if sketch.count + sketch.nulls else None
            points.append(point("missing_rate", rate, feature=feature))
        points.append(point("quality_violations", float(sum(self.issues.values())) if self.rows else None))
        latencies = np.concatenate(self.latencies) if self.latencies else np.empty(0)
        statuses = np.concatenate(self.statuses) if self.statuses else np.empty(0)
        points.append(point("p99_latency_ms", float(np.percentile(latencies, 99)) if latencies.size else None))
        points.append(point("error_rate", float((statuses >= 500).mean()) if statuses.size else None))
        predictions = pa.concat_tables(self.performance, promote_options="permissive") if self.performance else None
        ids = predictions[layout.REQUEST_ID].unique().to_pylist() if predictions is not None else []
        points += performance_points(self.monitor, start, end, predictions, labels(ids) if ids else None)
        status = "ok" if self.rows else "empty"
        notes = []
        if self.rows and self.reference is not None:
            compared, unknown = self.coverage()
            if not compared:
                status = "incomparable"
                logged = sorted(self.inputs.columns) if self.inputs is not None else []
                notes.append(f"nothing to compare with the reference: the log's inputs "
                             f"({names(logged) if logged else 'none tabular'}) are not among its columns "
                             f"({names(self._reference_inputs())})")
            elif unknown:
                notes.append(f"not in the reference, so no drift score: {names(unknown)}")
        if self.issues:
            notes.append("; ".join(f"{kind}: {count}" for kind, count in sorted(self.issues.items())))
        detail = "; ".join(notes) or None
        window = MonitorWindow(name, start, end, self.rows, status, self.version, detail,
                               self.inputs.to_json() if self.inputs is not None else None,
                               self.predictions.to_json() if self.predictions is not None else None, now_ms())
        return window, points

    def _drift_points(self, point: Callable[..., Point]) -> list[Point]:
        from shipyard.monitoring._drift import detect_drift

        features = self.features()
        if self.reference is None or self.inputs is None:
            return [point("drift_share", None), point("dataset_drift", None),
                    *(point("feature_drift_score", None, feature=f) for f in features),
                    point("prediction_drift_score", None)]
        current = self.inputs
        prediction = None
        if self.predictions is not None and self.monitor.label_column:
            prediction = self.monitor.label_column
            current = WindowProfile(current.rows, {**current.columns, **self.predictions.columns})
        known = set(self.reference.columns) | set(current.columns)
        report = detect_drift(self.reference, current, columns=[f for f in features if f in known],
                              tests=_only(self.monitor.option("tests"), known),
                              thresholds=_only(self.monitor.option("thresholds"), known),
                              prediction_column=prediction,
                              share_threshold=float(self.monitor.option("drift_threshold") or 0.5))
        judged = any(c.status in ("ok", "constant") for c in report.columns.values())
        out = [point("drift_share", report.drift_share if judged else None),
               point("dataset_drift", float(report.drifted) if judged else None)]
        for feature in features:
            column = report.columns.get(feature)
            out.append(point("feature_drift_score", column.statistic if column is not None else None,
                             feature=feature))
        out.append(point("prediction_drift_score", report.prediction.statistic if report.prediction else None))
        return out


def _majority(column: pa.ChunkedArray) -> str | None:
    """The most frequent value of a column (as text), None for an empty or all-null one."""
    counted = pc.value_counts(column)
    counts = counted.field("counts").to_numpy(zero_copy_only=False)
    if not len(counts):
        return None
    value = counted.field("values")[int(np.argmax(counts))].as_py()
    return None if value is None else str(value)


def _only(mapping: Any, known: set[str]) -> dict[str, Any] | None:
    return {k: v for k, v in mapping.items() if k in known} if mapping else None


def _scalar(type_: pa.DataType) -> bool:
    return not (pa.types.is_list(type_) or pa.types.is_large_list(type_) or pa.types.is_fixed_size_list(type_)
                or pa.types.is_struct(type_) or pa.types.is_null(type_))


def _succeeded(table: pa.Table) -> pa.ChunkedArray | None:
    if layout.STATUS not in table.column_names:
        return None
    return pc.fill_null(pc.less(table[layout.STATUS], 400), False)


def _inputs(table: pa.Table, columns: Sequence[str] | None) -> pa.Table:
    """The logged inputs (``in_<name>`` columns) under their own names; tensors left out."""
    names, arrays = [], []
    for field in table.schema:
        name = layout.input_name(field.name)
        if name is None or not _scalar(field.type):
            continue
        if columns is not None and name not in columns:
            continue
        names.append(name)
        arrays.append(table[field.name])
    return pa.table(dict(zip(names, arrays, strict=True))) if names else pa.table({})


# -- performance -----------------------------------------------------------------------------


def _probabilities(table: pa.Table) -> np.ndarray | None:
    if layout.PROBABILITIES not in table.column_names or table[layout.PROBABILITIES].null_count:
        return None
    column = table[layout.PROBABILITIES].combine_chunks()
    if not len(column):
        return None
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
    if lengths.min() != lengths.max() or lengths[0] < 2:
        return None
    values = column.flatten().to_numpy(zero_copy_only=False).astype(np.float64)
    return values.reshape(len(column), int(lengths[0]))


def _task(monitor: Monitor, predictions: np.ndarray, proba: np.ndarray | None) -> str:
    if monitor.task:
        return monitor.task
    if proba is not None or predictions.dtype.kind in "OUSbi":
        return "classification"
    return "regression"


def performance_points(monitor: Monitor, start: int, end: int, predictions: pa.Table | None,
                       labels: pd.DataFrame | None) -> list[Point]:
    """Realised metrics on the labelled rows, the confidence-based estimate on all rows,
    and the counts of labelled and unlabelled rows, for one window.

    Classification: ``accuracy, precision, recall, f1, roc_auc, log_loss`` and, when the
    log holds probabilities, ``estimated_<metric>`` from them (CBPE); regression:
    ``mae, rmse, r2``. Metrics with no labelled row are None.
    """
    from shipyard.monitoring._performance import classification_metrics, estimate_performance, regression_metrics

    name = monitor.name

    def point(series: str, value: float | None) -> Point:
        return Point(name, series, start, end, None if value is None else float(value))

    if predictions is None or not predictions.num_rows:
        names = REGRESSION_METRICS if monitor.task == "regression" else CLASSIFICATION_METRICS
        return [point("labelled_rows", 0.0), point("unlabelled_rows", 0.0), *(point(m, None) for m in names)]
    keys = predictions.select([c for c in (layout.REQUEST_ID, layout.ROW) if c in predictions.column_names])
    y_pred = predictions[layout.PREDICTION].to_numpy(zero_copy_only=False)
    proba = _probabilities(predictions)
    task = _task(monitor, y_pred, proba)
    truth = (join_labels(keys, labels) if labels is not None and len(labels)
             else pd.Series([None] * predictions.num_rows))
    y_true = truth.to_numpy(dtype=object)
    labelled = truth.notna().to_numpy().copy()
    if y_pred.dtype.kind in "fiub":
        numeric = np.full(len(y_true), np.nan)
        try:  # the usual case: numeric labels, converted in one step
            numeric[labelled] = np.asarray(y_true[labelled], dtype=np.float64)
        except (TypeError, ValueError):  # text among them: what reads as a number counts
            numeric = pd.to_numeric(pd.Series(y_true), errors="coerce").to_numpy(dtype=np.float64)
        labelled &= ~np.isnan(numeric)
        y_true = numeric
    else:
        y_true = np.asarray([str(v) for v in y_true], dtype=object)
        y_pred = y_pred.astype(str).astype(object)
    count = int(labelled.sum())
    out = [point("labelled_rows", count), point("unlabelled_rows", len(y_pred) - count)]
    if task == "regression":
        metrics = regression_metrics(y_true[labelled], y_pred[labelled]) if count else None
        out += [point(m, metrics.values.get(m) if metrics else None) for m in _names(metrics, REGRESSION_METRICS)]
        return out
    classes = None
    if proba is not None:
        seen = np.unique(np.concatenate([y_pred, y_true[labelled]]))
        classes = list(seen) if len(seen) == proba.shape[1] else None
    realised = None
    if count:
        realised = classification_metrics(y_true[labelled], y_pred[labelled],
                                          proba[labelled] if proba is not None else None, classes=classes)
    out += [point(m, realised.values.get(m) if realised else None) for m in _names(realised, CLASSIFICATION_METRICS)]
    if proba is not None:
        estimated = estimate_performance(proba, classes=classes)
        out += [point(f"estimated_{m}", v) for m, v in estimated.values.items()]
    return out


def series_names(task: str | None = None) -> tuple[str, ...]:
    """Every series a monitor of ``task`` (``classification``, ``regression``, or None:
    guessed from its log, so either) can write, in the order :func:`WindowAccumulator.finish` does."""
    classification = (*CLASSIFICATION_METRICS, *(f"estimated_{m}" for m in ESTIMATED_METRICS))
    if task == "classification":
        return (*WINDOW_SERIES, *classification)
    if task == "regression":
        return (*WINDOW_SERIES, *REGRESSION_METRICS)
    return (*WINDOW_SERIES, *classification, *REGRESSION_METRICS)


def _names(metrics: Any, defaults: Sequence[str]) -> list[str]:
    return list(metrics.values) if metrics is not None else list(defaults)
