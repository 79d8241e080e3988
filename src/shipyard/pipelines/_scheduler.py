"""The scheduler loop: turns due schedules into pipeline runs, exactly once each.

Every ``interval`` seconds :meth:`Scheduler.tick` looks at each enabled schedule:

* **cron**: the fire times since the schedule's cursor. The newest one, if it is
  at most ``grace_s`` old, is claimed and run; every older one (the scheduler was
  down, or busy) is claimed as *missed*. Then the cursor moves past them. A crash
  between claim and cursor only means the next tick finds those fires claimed.
* **dataset**: the latest version of the dataset, from ``versions`` (a callable
  ``name -> latest version id or None``, so the scheduler does not depend on the
  datasets package). A version newer than the schedule's baseline that was never
  claimed is claimed and run, with the version passed as ``version_param``.

Claims are runs with ids derived from the fire (:mod:`~shipyard.pipelines._schedules`),
so a restarted scheduler, or two at once, never run the same fire twice.
Launching runs the pipeline on a worker thread (one at a time by default), so a
long run delays nothing but the runs queued behind it.

A claimed run is tagged with its owner (this process) and kept alive by a
heartbeat while it runs (:mod:`~shipyard.pipelines._liveness`). The first tick,
and one every ``stale_s`` after, looks for RUNNING claims whose owner is gone (its
process no longer exists, or it fell silent) and ends them FAILED, saying why:
a crash mid-run never leaves a run RUNNING for ever.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from shipyard.errors import NotFound, ShipyardError
from shipyard.pipelines._liveness import Heartbeat, abandoned_because, end_abandoned, process_owner
from shipyard.pipelines._schedules import Schedule, ScheduleBook

__all__ = ["Fire", "Scheduler", "VersionSource", "dataset_versions"]

VersionSource = Callable[[str], str | None]
Launcher = Callable[[Schedule, str, dict[str, Any]], Any]

logger = logging.getLogger("shipyard.scheduler")


@dataclass(frozen=True)
class Fire:
    """One decision of a tick: the schedule, the fire, the claimed run, and ``ran``, ``missed``,
    or ``abandoned`` (an earlier claim whose scheduler died, now ended FAILED)."""

    schedule: str
    fire: str
    run_id: str
    outcome: str


def dataset_versions(client: Any) -> VersionSource | None:
    """A version source over a client's datasets API, or None if it has none."""
    get = getattr(client, "get_dataset_version", None)
    if get is None:
        return None

    def latest(name: str) -> str | None:
        try:
            return str(get(f"{name}@latest").version)
        except NotFound:
            return None

    return latest


def run_scheduled(client: Any, schedule: Schedule, run_id: str, params: dict[str, Any]) -> Any:
    """The default launcher's work: load the schedule's target afresh and run it as ``run_id``."""
    from shipyard.pipelines._loader import load_pipeline

    if not schedule.target:
        raise NotFound(f"schedule {schedule.id!r} of {schedule.pipeline!r} has no target file to run",
                       resource="target")
    pipeline = load_pipeline(schedule.target)
    return pipeline.run(params, client=client, run_id=run_id, executor=schedule.executor,
                        experiment=schedule.experiment_name, tags={"shipyard.schedule": schedule.id})


class Scheduler:
    """Runs due schedules (see the module docstring). No I/O until :meth:`tick`.

    ``launcher(schedule, run_id, params)`` replaces the default (load the target
    and run it in-process on a worker thread); ``clock`` returns epoch seconds.
    Runs it launches get a heartbeat every ``heartbeat_s``; a claimed run still
    RUNNING whose owner's process is gone, or whose heartbeat is older than
    ``stale_s`` (None: never judged by age), is ended FAILED.
    """

    def __init__(self, client: Any, *, versions: VersionSource | None = None, launcher: Launcher | None = None,
                 grace_s: float = 300.0, max_missed: int = 100, workers: int = 1,
                 clock: Callable[[], float] = time.time, heartbeat_s: float = 30.0,
                 stale_s: float | None = 300.0) -> None:
        self.client = client
        self.book = ScheduleBook(client)
        self.versions = versions
        self.launcher = launcher
        self.grace_s = grace_s
        self.max_missed = max_missed
        self.clock = clock
        self.heartbeat_s = heartbeat_s
        self.stale_s = stale_s
        self.owner = process_owner()
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._heartbeat: Heartbeat | None = None
        self._swept_at: int | None = None
        self.launched: list[Future[Any]] = []

    def tick(self) -> list[Fire]:
        """Handle every due fire once; return what was decided."""
        now_ms = int(self.clock() * 1000)
        fires: list[Fire] = []
        if self._swept_at is None or now_ms - self._swept_at >= (self.stale_s or 300.0) * 1000:
            self._swept_at = now_ms
            fires += self.recover(now_ms)
        for schedule in self.book.list():
            try:
                if schedule.cron:
                    fires += self._cron(schedule, now_ms)
                elif schedule.dataset:
                    fires += self._dataset(schedule)
            except ShipyardError as exc:  # one broken schedule must not stop the others
                logger.warning("schedule %s of %s: %s", schedule.id, schedule.pipeline, exc)
        return fires

    def recover(self, now_ms: int | None = None) -> list[Fire]:
        """End FAILED every RUNNING claim whose scheduler is gone (see the module docstring)."""
        now_ms = int(self.clock() * 1000) if now_ms is None else now_ms
        store = self.client.tracking_store
        experiment_ids = sorted({self.book.experiment_id(s) for s in self.book.list()})
        if not experiment_ids:
            return []
        fires = []
        try:
            page = store.search_runs(experiment_ids, "tags.`shipyard.schedule.outcome` = 'started' "
                                                     "and attributes.status = 'RUNNING'", max_results=50_000)
        except ShipyardError as exc:
            logger.warning("could not look for abandoned scheduled runs: %s", exc)
            return []
        for run in page.items:
            why = abandoned_because(run, self.owner, now_ms, self.stale_s)
            if why is not None and end_abandoned(store, run, why):
                logger.warning("scheduled run %s ended FAILED: %s", run.id, why)
                fires.append(Fire(run.tags.get("shipyard.schedule", ""), run.tags.get("shipyard.schedule.fire", ""),
                                  run.id, "abandoned"))
        return fires

    def _cron(self, schedule: Schedule, now_ms: int) -> list[Fire]:
        cursor = self.book.cursor(schedule) or schedule.created_at
        due = schedule.fire_times(cursor, now_ms, limit=self.max_missed + 1)
        fires = []
        for t in due:
            missed = t != due[-1] or now_ms - t > self.grace_s * 1000
            label = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t / 1000))
            run_id = self.book.claim(schedule, f"cron:{t}", missed=missed, label=label, owner=self.owner,
                                     heartbeat_ms=now_ms)
            if run_id is None:
                continue
            fires.append(Fire(schedule.id, label, run_id, "missed" if missed else "ran"))
            if not missed:
                self._launch(schedule, run_id, dict(schedule.params))
        if due:
            self.book.set_cursor(schedule, due[-1])
        return fires

    def _dataset(self, schedule: Schedule) -> list[Fire]:
        if self.versions is None:
            logger.warning("schedule %s waits for dataset %r, but no version source is configured",
                           schedule.id, schedule.dataset)
            return []
        assert schedule.dataset is not None
        latest = self.versions(schedule.dataset)
        if latest is None or latest == schedule.baseline:
            return []
        label = f"{schedule.dataset}@{latest}"
        run_id = self.book.claim(schedule, f"dataset:{latest}", label=label, owner=self.owner,
                                 heartbeat_ms=int(self.clock() * 1000))
        if run_id is None:
            return []
        params = dict(schedule.params)
        if schedule.version_param:
            params[schedule.version_param] = latest
        self._launch(schedule, run_id, params)
        return [Fire(schedule.id, label, run_id, "ran")]

    def _launch(self, schedule: Schedule, run_id: str, params: dict[str, Any]) -> None:
        if self.launcher is not None:
            self.launcher(schedule, run_id, params)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="shipyard-scheduled")
        if self._heartbeat is None:
            self._heartbeat = Heartbeat(self.client.tracking_store, self.heartbeat_s, self.clock)
        self._heartbeat.add(run_id)  # from the claim on: a run queued behind another is alive too
        self.launched.append(self._pool.submit(self._run, schedule, run_id, params))

    def _run(self, schedule: Schedule, run_id: str, params: dict[str, Any]) -> None:
        try:
            self._run_once(schedule, run_id, params)
        finally:
            if self._heartbeat is not None:
                self._heartbeat.discard(run_id)

    def _run_once(self, schedule: Schedule, run_id: str, params: dict[str, Any]) -> None:
        from shipyard.tracking import RunStatus

        try:
            run_scheduled(self.client, schedule, run_id, params)
        except ShipyardError as exc:
            logger.error("scheduled run %s of %s failed: %s", run_id, schedule.pipeline, exc)
            run = self.client.get_run(run_id)
            if not run.status.is_terminal:  # failed before the pipeline could record anything
                self.client.set_tags(run_id, {"shipyard.schedule.error": str(exc)[:5000]})
                self.client.end_run(run_id, RunStatus.FAILED)

    def run_forever(self, interval: float = 30.0, stop: threading.Event | None = None) -> None:
        """Tick every ``interval`` seconds until ``stop`` is set (Ctrl-C also stops it)."""
        stop = stop or threading.Event()
        try:
            while not stop.is_set():
                for fire in self.tick():
                    logger.info("%s %s: %s (run %s)", fire.schedule, fire.fire, fire.outcome, fire.run_id)
                stop.wait(interval)
        finally:
            self.close()

    def close(self) -> None:
        """Wait for the runs already launched, then stop the heartbeat."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._heartbeat is not None:
            self._heartbeat.close()
            self._heartbeat = None
