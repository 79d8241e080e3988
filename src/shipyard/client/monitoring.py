"""Monitoring methods of the client: monitors, their runs and series, labels, reports."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from shipyard.client._base import ClientBase
from shipyard.errors import InvalidInput, NotFound, ShipyardError

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.monitoring.backend import MonitorStore
    from shipyard.monitoring.entities import Monitor, MonitorWindow
    from shipyard.monitoring.monitor import MonitorRun
    from shipyard.monitoring.report import ReportData
    from shipyard.monitoring.series import Point

__all__ = ["MonitoringMixin", "to_ms"]

logger = logging.getLogger("shipyard.monitoring")

TimeLike = Any  # a datetime, ms since the epoch, or a duration before now ("7d")


def to_ms(value: TimeLike, now: int | None = None, field: str = "time") -> int | None:
    """Milliseconds since the epoch for a datetime, an int of ms, or a duration back from now."""
    from shipyard.monitoring.entities import now_ms, parse_duration

    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return int((value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp() * 1000)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        return (now if now is not None else now_ms()) - parse_duration(value, field) * 1000
    raise InvalidInput(f"{field} must be a datetime, milliseconds since the epoch or a duration such as 7d, "
                       f"got {value!r}", field=field)


class MonitoringMixin(ClientBase):
    """Monitors over the inference log: drift, data quality, latency, performance with late labels."""

    # Reference profiles converted for monitor runs, by dataset content hash (versions never change).
    _monitor_references: dict[str, Any] | None = None

    @property
    def monitor_store(self) -> MonitorStore:
        """The monitoring backend (opened on first use)."""
        store = self._monitoring
        if store is None:
            if self.config.url:
                from shipyard.remote.monitoring import RemoteMonitorStore

                store = RemoteMonitorStore(self.config.url, token=self.config.token)
            else:
                from shipyard.monitoring.sql_store import SqlMonitorStore

                store = SqlMonitorStore(self.tracking_store.db)  # type: ignore[attr-defined]
            self._monitoring = store
        return store

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._monitoring is not None:
                self._monitoring.close()

    # -- monitors -------------------------------------------------------------------------

    def create_monitor(self, model: str, *, reference: str | None = None, window: str | int = "1h",
                       name: str | None = None, task: str | None = None, label_column: str | None = None,
                       start: TimeLike = None, **options: Any) -> Monitor:
        """Watch ``model`` (``churn@production``, ``churn/3`` or ``churn``) in windows of ``window``.

        ``reference``: a dataset reference (``ds:churn@3``) to compare each window with;
        it must exist. ``start``: the first window holds this time (default: now).
        ``options``: see :class:`~shipyard.monitoring.entities.Monitor`. The name
        defaults to the model reference.
        """
        from shipyard.monitoring.entities import Monitor, default_monitor_name, parse_duration

        window_s = parse_duration(window, "window")
        if reference is not None:
            self._reference_version(reference)  # refuse a reference that does not exist, now
        monitor = Monitor(name=name or default_monitor_name(model), model=model, window_s=window_s,
                          reference=reference, task=task, label_column=label_column, options=options)
        start_ms = to_ms(start, field="start")
        if start_ms is not None:
            monitor = monitor.with_(cursor=monitor.first_window_start(start_ms))
        return self.monitor_store.create_monitor(monitor)

    def _reference_version(self, reference: str) -> Any:
        ref = reference.removeprefix("ds:")
        try:
            return self.dataset_store.resolve(ref)  # type: ignore[attr-defined]
        except NotFound as exc:
            raise NotFound(f"reference {reference!r}: {exc}", resource="dataset", field="reference") from None

    def get_monitor(self, name: str) -> Monitor:
        return self.monitor_store.get_monitor(name)

    def list_monitors(self) -> list[Monitor]:
        return self.monitor_store.list_monitors()

    def delete_monitor(self, name: str) -> None:
        """Delete a monitor with its stored windows and series."""
        self.monitor_store.delete_monitor(name)

    def list_monitor_windows(self, name: str, *, since: TimeLike = None, until: TimeLike = None,
                             profiles: bool = False) -> list[MonitorWindow]:
        return self.monitor_store.list_windows(name, since_ms=to_ms(since, field="since"),
                                               until_ms=to_ms(until, field="until"), profiles=profiles)

    # -- running --------------------------------------------------------------------------

    def run_monitor(self, name: str, *, now: TimeLike = None, max_windows: int = 1000) -> MonitorRun:
        """Compute every closed window of monitor ``name`` not computed yet, and recompute the
        performance of recent windows whose labels arrived since the last run."""
        from shipyard.monitoring.monitor import run_monitor

        if self._monitor_references is None:
            self._monitor_references = {}
        return run_monitor(self.monitor_store.get_monitor(name), store=self.monitor_store,
                           tracking=self.tracking_store, datasets=self.dataset_store,  # type: ignore[attr-defined]
                           schema=self._model_schema, now_ms=to_ms(now, field="now"), max_windows=max_windows,
                           references=self._monitor_references)

    def run_monitors(self, now: TimeLike = None, names: Sequence[str] | None = None) -> list[MonitorRun]:
        """Run every monitor (or those named); one failing monitor does not stop the others
        (its error is logged and reported in its result). Alert rules are evaluated after."""
        from shipyard.monitoring.monitor import MonitorRun

        now_ms = to_ms(now, field="now")
        results = []
        for monitor in self.monitor_store.list_monitors():
            if names is not None and monitor.name not in names:
                continue
            try:
                results.append(self.run_monitor(monitor.name, now=now_ms))
            except ShipyardError as exc:
                logger.warning("monitor %s: %s", monitor.name, exc)
                results.append(MonitorRun(monitor.name, error=f"{type(exc).__name__}: {exc}"))
        evaluate = getattr(self, "evaluate_alerts", None)
        if evaluate is not None and any(r.points for r in results):
            try:
                evaluate(now_ms=now_ms)
            except ShipyardError as exc:
                logger.warning("evaluating alert rules failed: %s", exc)
        return results

    def _model_schema(self, name: str, version: str | None) -> tuple[Any, Any]:
        """(signature, data contract) of a model version, for data-quality checks."""
        from shipyard.models.manifest import ModelManifest
        from shipyard.models.signature import Signature

        if version is None or not str(version).isdigit():
            return None, None
        registry = self.registry_store
        try:
            mv = registry.get_model_version(name, int(version))
        except NotFound:
            return None, None
        signature = Signature.from_dict(mv.signature) if mv.signature else None
        if signature is not None and signature.kind != "columns":
            signature = None  # tensors: no per-column checks
        contract = None
        try:
            data = ModelManifest.read(registry.materialize(name, int(version))).metadata.get("data_contract")
            if data:
                from shipyard.datasets.contract import Contract

                # A window is not a dataset: row-count rules do not apply to it.
                contract = dataclasses.replace(Contract.from_dict(data), min_rows=None, max_rows=None)
        except ShipyardError as exc:
            logger.warning("model %s/%s: data contract unreadable, checking without it: %s", name, version, exc)
        return signature, contract

    # -- labels and series ----------------------------------------------------------------

    def log_labels(self, labels: Any, *, model: str | None = None, label: str = "label") -> int:
        """Store ground truth for logged predictions, keyed by request id; returns the count.

        ``labels``: a DataFrame (or columns) with ``request_id`` and ``label`` (or the
        column named by ``label``), optionally ``row`` (the row of a multi-row request;
        without it a label covers every row of its request) and ``model``. A label for
        a request already labelled replaces it; the next monitor run recomputes the
        performance of the windows it falls in.
        """
        import pandas as pd

        try:
            frame = labels if isinstance(labels, pd.DataFrame) else pd.DataFrame(labels)
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"labels must be a table with request_id and label: {exc}", field="labels") from None
        if label != "label":
            if label not in frame.columns:
                raise InvalidInput(f"labels need a {label!r} column (have {list(frame.columns)})", field=label)
            frame = frame.drop(columns=[c for c in ("label",) if c in frame.columns]).rename(columns={label: "label"})
        if model is not None and "model" not in frame.columns:
            frame = frame.assign(model=model)
        return self.monitor_store.put_labels(frame)  # the store checks every label

    def query_series(self, monitor: str | None = None, series: str | None = None, *, since: TimeLike = None,
                     until: TimeLike = None, labels: Mapping[str, str] | None = None) -> list[Point]:
        """Stored points of monitored series (see :mod:`shipyard.monitoring.series`)."""
        return self.monitor_store.query_points(monitor, series, since_ms=to_ms(since, field="since"),
                                               until_ms=to_ms(until, field="until"), labels=labels)

    def series_frame(self, monitor: str, series: str | None = None, *, since: TimeLike = None) -> pd.DataFrame:
        """The points of a monitor as a DataFrame (window_start, window_end, series, labels, value)."""
        import pandas as pd

        points = self.query_series(monitor, series, since=since)
        return pd.DataFrame({
            "window_start": pd.to_datetime([p.window_start for p in points], unit="ms", utc=True),
            "window_end": pd.to_datetime([p.window_end for p in points], unit="ms", utc=True),
            "series": [p.series for p in points],
            "labels": [dict(p.labels) for p in points],
            "value": [p.value for p in points],
        })

    def monitor_report(self, name: str, *, since: TimeLike = "7d", until: TimeLike = None) -> ReportData:
        """The report of monitor ``name`` over ``[since, until)``: per feature the reference and
        current distributions and the drift score over time, plus performance over time."""
        from shipyard.monitoring.monitor_report import build_report

        monitor = self.monitor_store.get_monitor(name)
        until_ms = to_ms(until, field="until")
        return build_report(monitor, store=self.monitor_store, datasets=self.dataset_store,  # type: ignore[attr-defined]
                            since_ms=to_ms(since, now=until_ms, field="since"), until_ms=until_ms)
