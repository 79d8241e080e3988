"""Recent labelled production data: what a served model answered, joined with the labels that came.

:func:`labelled_rows` reads a served model's inference log over a time range
(:class:`~shipyard.monitoring._inference.InferenceLogReader`: only answered requests, of
the route or version the model reference names) and joins each row with its ground
truth — labels uploaded in batches and labels posted to ``/v1/feedback``, the latest
arrival winning, as monitors join them — keeping the rows that have one. A row is one
input row of a request: its inputs under their own names (``age``, not ``in_age``), the
label, the prediction, and where it came from (``request_id``, ``row``, ``served_at``,
``model_version``).

:func:`export_labelled` registers those rows as a new version of a dataset and records
where it came from: ``model_version -served-> dataset`` for each version that answered,
``monitor -monitored-> dataset`` for the monitors of that model reference. The same rows
exported twice give the same version (datasets are content-addressed).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from shipyard.automation._backend import AutomationStore
from shipyard.datasets import DatasetStore, register_version, validate_dataset_name
from shipyard.errors import InvalidInput, NotFound
from shipyard.monitoring._backend import MonitorStore
from shipyard.monitoring._entities import Monitor, parse_model_ref
from shipyard.monitoring._inference import InferenceLogReader
from shipyard.monitoring._labels import join_labels, latest_labels
from shipyard.registry import RegistryStore
from shipyard.serving import _log_layout as layout
from shipyard.tracking import TrackingStore

__all__ = ["LabelledExport", "export_labelled", "labelled_rows"]

_ANSWERED = 200  # the status of a request the model answered


@dataclass(frozen=True)
class LabelledExport:
    """What :func:`export_labelled` registered: dataset version ``dataset@version`` of ``rows``
    labelled rows served in ``[since_ms, until_ms)``, with its lineage."""

    dataset: str
    version: int
    rows: int
    model: str
    since_ms: int
    until_ms: int
    label_column: str
    model_versions: tuple[tuple[str, int], ...] = ()
    monitors: tuple[str, ...] = ()
    digest: str = field(default="", compare=False)

    @property
    def ref(self) -> str:
        return f"{self.dataset}@{self.version}"

    def to_json(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "version": self.version, "rows": self.rows, "model": self.model,
                "since_ms": self.since_ms, "until_ms": self.until_ms, "label_column": self.label_column,
                "model_versions": [f"{n}/{v}" for n, v in self.model_versions], "monitors": list(self.monitors),
                "digest": self.digest}


def labelled_rows(tracking: TrackingStore, monitoring: MonitorStore, model: str, since_ms: int, until_ms: int,
                  *, label_column: str = "label") -> pd.DataFrame:
    """The rows ``model`` (``churn``, ``churn@production``, ``churn/3``) answered in
    ``[since_ms, until_ms)`` that have a label, oldest first (see the module docstring).

    The labels are read first, so the log is filtered by their request ids batch by batch
    as it is read: memory follows the labelled rows, not the traffic.
    """
    ref = parse_model_ref(model)
    reader = InferenceLogReader(tracking, ref)
    # A label arrives after its prediction: those of this range arrived after it began.
    labels = latest_labels(monitoring.get_labels(ref.name, arrived_after=since_ms - 1),
                           reader.feedback(since_ms - 1))
    labels = labels[labels["label"].map(_known)]
    if labels.empty:
        return _frame(pd.DataFrame(), pd.Series([], dtype=object), label_column)
    wanted = pa.array(sorted(set(labels["request_id"])), type=pa.string())
    parts = []
    for table in reader.tables(since_ms, until_ms):
        if layout.REQUEST_ID not in table.column_names:
            continue
        keep = pc.is_in(table[layout.REQUEST_ID].cast(pa.string()), value_set=wanted)
        if layout.STATUS in table.column_names:
            keep = pc.and_(keep, pc.equal(table[layout.STATUS], _ANSWERED))
        keep = pc.fill_null(keep, False)
        if pc.any(keep).as_py():
            parts.append(table.filter(keep))
    if not parts:
        return _frame(pd.DataFrame(), pd.Series([], dtype=object), label_column)
    logged = pa.concat_tables(parts, promote_options="permissive").to_pandas()
    if layout.ROW not in logged.columns:
        logged = logged.assign(**{layout.ROW: 0})
    joined = join_labels(logged, labels)
    keep_rows = joined.map(_known).to_numpy(bool)  # a request labelled for another of its rows
    return _frame(logged[keep_rows].reset_index(drop=True), joined[keep_rows].reset_index(drop=True),
                  label_column)


def _known(value: Any) -> bool:
    """Whether a label says something (None and NaN do not)."""
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _frame(logged: pd.DataFrame, labels: pd.Series, label_column: str) -> pd.DataFrame:
    inputs = {name: logged[column] for column in logged.columns if (name := layout.input_name(column)) is not None}
    if label_column in inputs:
        raise InvalidInput(f"label column {label_column!r} is also an input of the model: name the label "
                           f"another way", field="label_column")
    out: dict[str, Any] = dict(inputs)
    out[label_column] = _labels(labels)
    origin = {
        "prediction": logged.get(layout.PREDICTION),
        "request_id": logged.get(layout.REQUEST_ID),
        "row": logged.get(layout.ROW),
        "served_at": logged.get(layout.TIMESTAMP),
        "model_version": logged.get(layout.VERSION),
    }
    for name, column in origin.items():
        if column is not None and name not in out:  # an input of the same name keeps its name
            out[name] = column
    for column in logged.columns:  # named outputs: prediction_<output>
        if column.startswith(f"{layout.PREDICTION}_") and column not in out:
            out[column] = logged[column]
    frame = pd.DataFrame({k: (v.reset_index(drop=True) if isinstance(v, pd.Series) else v) for k, v in out.items()})
    if "served_at" in frame.columns and len(frame):
        frame = frame.sort_values(["served_at", "request_id", "row"], kind="stable").reset_index(drop=True)
    return frame


def _labels(labels: pd.Series) -> pd.Series:
    """Labels as one column type: numbers when every label is one, else text."""
    values = labels.tolist()
    if all(isinstance(v, bool | int | float | np.number) and not isinstance(v, bool) for v in values):
        return pd.Series(values, dtype=np.float64 if any(isinstance(v, float) for v in values) else np.int64)
    if all(isinstance(v, bool) for v in values):
        return pd.Series(values, dtype=bool)
    return pd.Series([str(v) for v in values], dtype=object)


def _dataset(to: str) -> str:
    name = to.removeprefix("ds:") if isinstance(to, str) else to
    if isinstance(name, str) and "@" in name:
        raise InvalidInput(f"export to a dataset name (ds:NAME), not a version: {to!r}", field="to")
    try:
        return validate_dataset_name(name)
    except InvalidInput as exc:
        raise InvalidInput(f"to: {exc.message}", field="to") from None


def _monitors(monitoring: MonitorStore, model: str, monitor: str | None) -> list[Monitor]:
    """The monitor named, or every monitor watching exactly ``model``."""
    ref = parse_model_ref(model)
    if monitor is not None:
        try:
            found = monitoring.get_monitor(monitor)
        except NotFound:
            raise NotFound(f"monitor {monitor!r} not found", resource="monitor", field="monitor") from None
        if parse_model_ref(found.model).name != ref.name:
            raise InvalidInput(f"monitor {monitor!r} watches {found.model}, not {ref.name}", field="monitor")
        return [found]
    return [m for m in monitoring.list_monitors() if parse_model_ref(m.model) == ref]


def export_labelled(*, tracking: TrackingStore, monitoring: MonitorStore, datasets: DatasetStore,
                    registry: RegistryStore, automation: AutomationStore, model: str, since_ms: int, until_ms: int,
                    to: str, monitor: str | None = None, label_column: str | None = None,
                    actor: str | None = None, hash_cache: Any = None,
                    storage_options: Mapping[str, Any] | None = None) -> LabelledExport:
    """Register the labelled rows of ``model`` served in ``[since_ms, until_ms)`` as a new version of
    dataset ``to`` (``ds:NAME``), with its lineage (see the module docstring).

    ``monitor``: the monitor to record as the rows' source (default: every monitor of
    exactly ``model``); ``label_column``: the label's column (default: that monitor's
    label column, else ``label``). No labelled row: ``NotFound``, and nothing is registered.
    """
    name = _dataset(to)
    if since_ms >= until_ms:
        raise InvalidInput("since must be before until", field="since")
    monitors = _monitors(monitoring, model, monitor)
    column = label_column or next((m.label_column for m in monitors if m.label_column), None) or "label"
    frame = labelled_rows(tracking, monitoring, model, since_ms, until_ms, label_column=column)
    if frame.empty:
        raise NotFound(f"{model} has no labelled answers in the period asked: nothing to export",
                       resource="labelled_rows", field="since")
    ref = parse_model_ref(model)
    versions = _registered_versions(registry, ref.name, frame.get("model_version", pd.Series([], dtype=object)))
    version = register_version(
        datasets, name, frame, actor=actor, hash_cache=hash_cache, storage_options=storage_options,
        description=f"labelled answers of {model}",
        tags={"shipyard.export.model": model, "shipyard.export.since_ms": str(since_ms),
              "shipyard.export.until_ms": str(until_ms), "shipyard.export.label": column})
    automation.record_export(version.name, version.version, versions, [m.name for m in monitors])
    return LabelledExport(version.name, version.version, len(frame), model, since_ms, until_ms, column,
                          tuple(versions), tuple(m.name for m in monitors), version.digest)


def _registered_versions(registry: RegistryStore, name: str, logged: pd.Series) -> list[tuple[str, int]]:
    """The registry's versions of ``name`` among those the log names (a served folder has none)."""
    found = []
    for text in sorted({str(v) for v in logged.dropna().unique()}, key=lambda v: (len(v), v)):
        if not text.isdigit():
            continue
        try:
            registry.get_model_version(name, int(text))
        except (NotFound, InvalidInput):
            continue
        found.append((name, int(text)))
    return found
