"""Trials as child runs of the search run, written in batches on a thread of their own.

Each trial becomes one run (a :class:`~shipyard.tracking.RunRecord`) whose parent
is the search run: its params, the values it reported (metric
``intermediate/<metric>`` at each step), its final value (metric ``<metric>``), and
how it ended — FINISHED (tag ``shipyard.tuning.state`` = ``COMPLETE``), KILLED
(``PRUNED``) or FAILED (``FAIL``, with ``shipyard.tuning.error`` and a
``traceback.txt``). The run id is derived from the search run and the trial number,
so a trial is recorded once however often the search resumes.

The study's storage is the source of truth; runs are a projection of it. A search
hands finished trials to :class:`TrialRecorder`, which writes whatever has gathered
in one ``record_runs`` transaction every ``interval`` seconds, so a trial never waits
on the tracking database. A killed process loses at most that interval of records;
a resumed search rebuilds them from the stored trials (:func:`record_from_frozen`).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shipyard.tracking import Metric, RunRecord, RunStatus, TrackingStore
from shipyard.tuning._trial import COMPLETE, FAIL, PRUNED, Outcome

__all__ = ["ERROR_ATTR", "TrialData", "TrialRecorder", "record_from_frozen", "trial_record", "trial_run_id"]

#: The Optuna user attribute keeping a failed trial's error (so a rebuilt record has it).
ERROR_ATTR = "shipyard.error"
_STATUS = {COMPLETE: RunStatus.FINISHED, PRUNED: RunStatus.KILLED, FAIL: RunStatus.FAILED}


def trial_run_id(search_run_id: str, number: int) -> str:
    """The id of trial ``number``'s run under search run ``search_run_id`` (32 hex characters)."""
    return hashlib.sha256(f"{search_run_id}/trial/{number}".encode()).hexdigest()[:32]


@dataclass
class TrialData:
    """What a trial's run is made of: from a live :class:`Outcome` or a stored trial."""

    number: int
    params: Mapping[str, Any]
    state: str
    value: float | None
    start_ms: int
    end_ms: int
    reports: list[tuple[int, float, int]] = field(default_factory=list)
    error: Mapping[str, str] | None = None
    host: str | None = None

    @classmethod
    def from_outcome(cls, number: int, params: Mapping[str, Any], outcome: Outcome) -> TrialData:
        return cls(number, params, outcome.state, outcome.value, outcome.start_ms, outcome.end_ms,
                   outcome.reports, outcome.error, outcome.host)


def trial_record(experiment_id: str, search_run_id: str, metric: str, data: TrialData) -> RunRecord:
    """The run of one finished trial, child of ``search_run_id``."""
    tags = {"shipyard.kind": "trial", "shipyard.tuning.search": search_run_id,
            "shipyard.tuning.trial": str(data.number), "shipyard.tuning.state": data.state}
    if data.host:
        tags["shipyard.host"] = data.host
    metrics = [Metric(f"intermediate/{metric}", value, step, ts) for step, value, ts in data.reports]
    if data.state == COMPLETE and data.value is not None:
        metrics.append(Metric(metric, float(data.value), 0, data.end_ms))
    artifacts: dict[str, bytes] = {}
    if data.error:
        tags["shipyard.tuning.error"] = f"{data.error.get('type', 'Error')}: {data.error.get('message', '')}"[:5000]
        if data.error.get("traceback"):
            artifacts["traceback.txt"] = data.error["traceback"].encode()
    return RunRecord(experiment_id, id=trial_run_id(search_run_id, data.number), name=f"trial-{data.number}",
                     status=_STATUS[data.state], start_time=data.start_ms, end_time=max(data.end_ms, data.start_ms),
                     parent_run_id=search_run_id, params={k: _param(v) for k, v in data.params.items()},
                     tags=tags, metrics=metrics, artifacts=artifacts)


def _param(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _ms(moment: Any, default: int) -> int:
    return int(moment.timestamp() * 1000) if moment is not None else default


def record_from_frozen(frozen: Any, now_ms: int) -> TrialData | None:
    """A stored trial as :class:`TrialData`; None while it has not finished."""
    state = frozen.state.name
    if state not in _STATUS:
        return None
    start = _ms(frozen.datetime_start, now_ms)
    end = _ms(frozen.datetime_complete, start)
    reports = [(step, float(v), end) for step, v in sorted(frozen.intermediate_values.items())]
    value = frozen.value if state == COMPLETE else None
    error = frozen.user_attrs.get(ERROR_ATTR) if state == FAIL else None
    return TrialData(frozen.number, frozen.params, state, value, start, end, reports, error)


class TrialRecorder:
    """Writes trial runs in batches on its own thread (see the module docstring).

    ``add`` never blocks on the database. ``close`` writes what is left and raises
    the last storage error if a batch could not be written.
    """

    def __init__(self, store: TrackingStore, interval: float = 1.0) -> None:
        self._store = store
        self._interval = interval
        self._pending: list[RunRecord] = []
        self._cond = threading.Condition()
        self._closing = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="shipyard-trial-recorder", daemon=True)
        self._thread.start()

    def add(self, record: RunRecord) -> None:
        with self._cond:
            self._pending.append(record)

    def _take(self) -> list[RunRecord]:
        with self._cond:
            batch, self._pending = self._pending, []
        return batch

    def _write(self, batch: list[RunRecord]) -> None:
        try:
            self._store.record_runs(batch)
            self._error = None
        except Exception as exc:  # keep the batch for the next attempt; close() reports it
            self._error = exc
            with self._cond:
                self._pending[:0] = batch

    def _loop(self) -> None:
        while True:
            with self._cond:
                if not self._closing:
                    self._cond.wait(self._interval)
                closing = self._closing
            batch = self._take()
            if batch:
                self._write(batch)
            if closing:
                return

    def close(self) -> None:
        """Write every pending record; raise the storage error if the last attempt failed."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join()
        batch = self._take()
        if batch:
            self._write(batch)
        if self._error is not None:
            raise self._error
