"""``client.monitoring``: monitors over the inference log, their runs and series, labels, reports.

>>> monitoring = Client(home="/tmp/shipyard-doc").monitoring                       # doctest: +SKIP
>>> monitoring.create_monitor("churn@production", reference="ds:churn@3", window="1h")  # doctest: +SKIP
>>> [r.points for r in monitoring.run_monitors()]                                    # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from shipyard.client._alerts import Alerts
from shipyard.client._backend import Backend
from shipyard.errors import InvalidInput, NotFound, ShipyardError

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.alerting import Point
    from shipyard.datasets import DatasetVersion
    from shipyard.monitoring import MonitorRun, ReportData
    from shipyard.monitoring._backend import MonitorStore
    from shipyard.monitoring._entities import Monitor, MonitorWindow

__all__ = ["Monitoring", "to_ms"]

logger = logging.getLogger("shipyard.monitoring")

_LISTED = 10  # names quoted in a message before "… and N more"

TimeLike = Any  # a datetime, ms since the epoch, or a duration before now ("7d")


def to_ms(value: TimeLike, now: int | None = None, field: str = "time") -> int | None:
    """Milliseconds since the epoch for a datetime, an int of ms, or a duration back from now."""
    from shipyard.timeutil import now_ms, parse_duration

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


class Monitoring:
    """Monitors over the inference log: drift, data quality, latency, performance with late labels.

    Reads the backend's monitor store, its dataset store (references), tracking store
    (the inference log) and registry (each version's signature and data contract);
    after running monitors it has ``alerts`` evaluate the rules.
    """

    def __init__(self, backend: Backend, alerts: Alerts) -> None:
        self._backend = backend
        self._alerts = alerts
        # Reference profiles converted for monitor runs, by dataset content hash (versions never change).
        self._references: dict[str, Any] = {}

    @property
    def store(self) -> MonitorStore:
        """The monitor store (opened on first use)."""
        return self._backend.monitoring

    # -- monitors -------------------------------------------------------------------------

    def create_monitor(self, model: str, *, reference: str | None = None, window: str | int = "1h",
                       name: str | None = None, task: str | None = None, label_column: str | None = None,
                       start: TimeLike = None, **options: Any) -> Monitor:
        """Watch ``model`` (``churn@production``, ``churn/3`` or ``churn``) in windows of ``window``.

        The model must be registered or served (:meth:`check_model`: ``NotFound`` otherwise).

        ``reference``: a dataset reference (``ds:churn@3``) to compare each window with;
        it must exist and hold the model's inputs (see :mod:`shipyard.monitoring._coverage`:
        refused when it holds none, a warning when it lacks some). ``start``: the first
        window holds this time (default: now).
        ``options``: see :class:`~shipyard.monitoring._entities.Monitor`. The name
        defaults to the model reference.
        """
        from shipyard.monitoring._entities import Monitor, default_monitor_name
        from shipyard.timeutil import parse_duration

        window_s = parse_duration(window, "window")
        self.check_model(model)  # refuse a model Shipyard has never heard of, now
        if reference is not None:
            self._reference_version(reference)  # refuse a reference that does not exist, now
        monitor = Monitor(name=name or default_monitor_name(model), model=model, window_s=window_s,
                          reference=reference, task=task, label_column=label_column, options=options)
        start_ms = to_ms(start, field="start")
        if start_ms is not None:
            monitor = monitor.with_(cursor=monitor.first_window_start(start_ms))
        from shipyard.monitoring._coverage import check_monitor

        # Refuse a reference holding none of the model's inputs (warn if it lacks some).
        check_monitor(monitor, datasets=self._backend.datasets, registry=self._backend.registry,
                      tracking=self._backend.tracking)
        return self.store.create_monitor(monitor)

    def check_model(self, model: str, *, field: str = "model") -> None:
        """Refuse a model (``churn``, ``churn@production``, ``churn/3``) that is neither
        registered nor served: ``NotFound`` naming ``field`` and the value, listing the
        models that exist.

        A model served from a folder rather than the registry exists once its
        inference log does, that is after its first logged request.
        """
        from shipyard.monitoring._entities import parse_model_ref
        from shipyard.serving import _log_layout as layout

        name = parse_model_ref(model).name
        try:
            self._backend.registry.get_registered_model(name)
            return
        except NotFound:
            pass
        tracking = self._backend.tracking
        try:
            tracking.get_experiment_by_name(layout.experiment_name(name))
            return
        except NotFound:
            pass
        known = sorted({m.name for m in self._backend.registry.search_registered_models(max_results=100).items}
                       | {e.name.removeprefix(layout.EXPERIMENT_PREFIX) for e in tracking.list_experiments()
                          if e.name.startswith(layout.EXPERIMENT_PREFIX)})
        shown = ", ".join(known[:_LISTED]) + (f" … and {len(known) - _LISTED} more" if len(known) > _LISTED else "")
        raise NotFound(f"{field} {model!r}: no model {name!r} is registered or has an inference log "
                       f"(models: {shown or 'none yet'}); a model served from a folder counts once it has "
                       f"answered a request", resource="model", field=field, value=model)

    def _reference_version(self, reference: str) -> DatasetVersion:
        ref = reference.removeprefix("ds:")
        try:
            return self._backend.datasets.resolve(ref)
        except NotFound as exc:
            raise NotFound(f"reference {reference!r}: {exc}", resource="dataset", field="reference") from None

    def get_monitor(self, name: str) -> Monitor:
        return self.store.get_monitor(name)

    def list_monitors(self) -> list[Monitor]:
        return self.store.list_monitors()

    def delete_monitor(self, name: str) -> None:
        """Delete a monitor with its stored windows and series."""
        self.store.delete_monitor(name)

    def list_monitor_windows(self, name: str, *, since: TimeLike = None, until: TimeLike = None,
                             profiles: bool = False) -> list[MonitorWindow]:
        return self.store.list_windows(name, since_ms=to_ms(since, field="since"),
                                       until_ms=to_ms(until, field="until"), profiles=profiles)

    # -- running --------------------------------------------------------------------------

    def run_monitor(self, name: str, *, now: TimeLike = None, max_windows: int = 1000,
                    include_partial: bool = False) -> MonitorRun:
        """Compute every closed window of monitor ``name`` not computed yet, and recompute the
        performance of recent windows whose labels arrived since the last run.

        The result also says which logged rows wait for a window not computed yet
        (``pending``); ``include_partial`` computes those windows as they stand
        (``partial``, status ``partial``, never stored)."""
        from shipyard.monitoring._monitor import run_monitor

        return run_monitor(self.store.get_monitor(name), store=self.store, tracking=self._backend.tracking,
                           datasets=self._backend.datasets, schema=self._model_schema, now_ms=to_ms(now, field="now"),
                           max_windows=max_windows, references=self._references, include_partial=include_partial)

    def run_monitors(self, now: TimeLike = None, names: Sequence[str] | None = None, *,
                     include_partial: bool = False) -> list[MonitorRun]:
        """Run every monitor (or those named); one failing monitor does not stop the others
        (its error is logged and reported in its result). Alert rules are evaluated after,
        and each result lists the alerts on its monitor with their deliveries
        (``MonitorRun.alerts``). ``include_partial``: see :meth:`run_monitor`."""
        from shipyard.monitoring import MonitorRun
        from shipyard.monitoring._run_result import with_alerts

        now_ms = to_ms(now, field="now")
        results = []
        for monitor in self.store.list_monitors():
            if names is not None and monitor.name not in names:
                continue
            try:
                results.append(self.run_monitor(monitor.name, now=now_ms, include_partial=include_partial))
            except ShipyardError as exc:
                logger.warning("monitor %s: %s", monitor.name, exc)
                results.append(MonitorRun(monitor.name, error=f"{type(exc).__name__}: {exc}"))
        if any(r.points for r in results):
            try:
                results = with_alerts(results, self._alerts.evaluate_alerts(now_ms=now_ms))
            except ShipyardError as exc:
                logger.warning("evaluating alert rules failed: %s", exc)
        return results

    def _model_schema(self, name: str, version: str | None) -> tuple[Any, Any]:
        """(signature, data contract) of a model version, for data-quality checks."""
        from shipyard.models import ModelManifest, Signature

        if version is None or not str(version).isdigit():
            return None, None
        registry = self._backend.registry
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
                from shipyard.datasets import Contract

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
        without it a label covers every row of its request) and ``model``; ``model``, when
        given, must be registered or served (see :meth:`check_model`). A label for
        a request already labelled replaces it; the next monitor run recomputes the
        performance of the windows it falls in.
        """
        import pandas as pd

        try:
            frame = labels if isinstance(labels, pd.DataFrame) else pd.DataFrame(labels)
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"labels must be a table with request_id and label: {exc}", field="labels") from None
        for needed in ("request_id", label):  # the columns given, before a model column is added
            if needed not in frame.columns:
                raise InvalidInput(f"labels need a {needed!r} column (needed: request_id, {label}; optional: row, "
                                   f"model); got {[str(c) for c in frame.columns]}", field=needed)
        if label != "label":
            frame = frame.drop(columns=[c for c in ("label",) if c in frame.columns]).rename(columns={label: "label"})
        if model is not None:
            self.check_model(model)
            if "model" not in frame.columns:
                frame = frame.assign(model=model)
        return self.store.put_labels(frame)  # the store checks every label

    def query_series(self, monitor: str | None = None, series: str | None = None, *, since: TimeLike = None,
                     until: TimeLike = None, labels: Mapping[str, str] | None = None) -> list[Point]:
        """Stored points of monitored series (see :mod:`shipyard.alerting._series`)."""
        return self.store.query_points(monitor, series, since_ms=to_ms(since, field="since"),
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
        from shipyard.monitoring._monitor_report import build_report

        monitor = self.store.get_monitor(name)
        until_ms = to_ms(until, field="until")
        return build_report(monitor, store=self.store, datasets=self._backend.datasets,
                            since_ms=to_ms(since, now=until_ms, field="since"), until_ms=until_ms)
