"""Liveness of scheduled runs: a heartbeat while a scheduler runs them, and what a scheduler
starting later does with runs whose scheduler died.

A claimed run carries its owner (``host:pid`` of the scheduler's process) and a
heartbeat (epoch ms, refreshed every ``interval_s`` while the run goes on). A run
still RUNNING is *abandoned* when its owner is a process of this host that no
longer exists, or when its heartbeat is older than ``stale_s`` (the owner is on
another host, or its pid was reused). An abandoned run is ended FAILED with tags
``shipyard.schedule.outcome = abandoned`` and ``shipyard.schedule.error`` saying why.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

from shipyard.errors import Conflict, ShipyardError
from shipyard.pipelines._schedules import HEARTBEAT_TAG, OWNER_TAG

__all__ = ["Heartbeat", "abandoned_because", "end_abandoned", "process_owner"]

logger = logging.getLogger("shipyard.scheduler")


def process_owner() -> str:
    """This process as an owner: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, as another user
        return True
    return True


def abandoned_because(run: Any, me: str, now_ms: int, stale_s: float | None) -> str | None:
    """Why ``run`` (RUNNING, claimed by a scheduler) is abandoned, or None if its owner may be alive."""
    owner = run.tags.get(OWNER_TAG, "")
    if owner == me:
        return None
    host, _, pid = owner.rpartition(":")
    if host == socket.gethostname() and pid.isdigit() and not _alive(int(pid)):
        return f"the scheduler that ran it (process {pid} on {host}) is gone"
    raw = run.tags.get(HEARTBEAT_TAG)
    beat = int(raw) if raw and raw.isdigit() else int(run.start_time)
    if stale_s is not None and now_ms - beat > stale_s * 1000:
        return (f"the scheduler that ran it ({owner or 'unknown'}) gave no sign of life for "
                f"{(now_ms - beat) / 1000:.0f} s (more than {stale_s:g} s)")
    return None


def end_abandoned(store: Any, run: Any, why: str) -> bool:
    """End ``run`` FAILED, recording why, in one transaction; False if it ended meanwhile."""
    from shipyard.tracking import RunRecord, RunStatus

    try:
        store.record_runs([RunRecord(run.experiment_id, id=run.id, status=RunStatus.FAILED,
                                     tags={"shipyard.schedule.outcome": "abandoned",
                                           "shipyard.schedule.error": why[:5000]})])
    except Conflict:  # it finished (or was failed by another scheduler) since it was read
        return False
    return True


class Heartbeat:
    """Refreshes the heartbeat tag of the runs this process is running, on a daemon thread.

    The thread starts with the first :meth:`add` and stops at :meth:`close`. A run
    that has ended is dropped; a failed write is logged and retried at the next beat.
    """

    def __init__(self, store: Any, interval_s: float, clock: Callable[[], float]) -> None:
        self.store = store
        self.interval_s = interval_s
        self.clock = clock
        self._runs: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, run_id: str) -> None:
        with self._lock:
            self._runs.add(run_id)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="shipyard-heartbeat", daemon=True)
                self._thread.start()

    def discard(self, run_id: str) -> None:
        with self._lock:
            self._runs.discard(run_id)

    def beat(self) -> None:
        """Refresh every run still RUNNING now (the thread calls this every ``interval_s``)."""
        from shipyard.tracking import LogBatch

        with self._lock:
            runs = sorted(self._runs)
        now = str(int(self.clock() * 1000))
        for run_id in runs:
            try:
                if self.store.get_run(run_id).status.is_terminal:
                    self.discard(run_id)
                    continue
                self.store.log_batch(LogBatch(tags=[(run_id, HEARTBEAT_TAG, now)]))
            except Conflict:  # ended between the read and the write
                self.discard(run_id)
            except ShipyardError as exc:
                logger.warning("heartbeat of run %s: %s", run_id, exc)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.beat()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
