"""Retraining: running a policy's pipeline for one automation run, and finding what it registered.

The pipeline's run is created before the pipeline starts, under an id derived from the
automation run and the attempt (:func:`pipeline_run_id`), so a controller that restarts
finds it again, and two controllers never start the same attempt twice (the second
``create_run`` is a conflict). It carries the controller process as its owner and a
heartbeat while it runs (the scheduler's liveness tags, :mod:`shipyard.pipelines._liveness`):
a run still RUNNING whose owner is gone is *lost*. The pipeline runs on a worker thread
of the controller; :meth:`Retrainer.inspect` says where an attempt stands.

See the contract in :mod:`shipyard.automation._controller`.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shipyard.errors import Conflict, NotFound
from shipyard.pipelines._liveness import Heartbeat, abandoned_because, end_abandoned, process_owner
from shipyard.pipelines._recording import STEP_TAG
from shipyard.pipelines._schedules import HEARTBEAT_TAG, OWNER_TAG
from shipyard.tracking import RunStatus

__all__ = ["AUTOMATION_RUN_TAG", "REGISTERED_TAG", "Attempt", "Retrainer", "pipeline_run_id"]

AUTOMATION_RUN_TAG = "shipyard.automation.run"
POLICY_TAG = "shipyard.automation.policy"
REGISTERED_TAG = "shipyard.registered_model"
ERROR_TAG = "shipyard.automation.error"
#: Parameters the controller fills in, when the pipeline declares them.
WINDOW_END, WINDOW_START, LABELLED = "training_window_end", "training_window_start", "labelled_data"

logger = logging.getLogger("shipyard.automation")


def pipeline_run_id(automation_run: str, attempt: int) -> str:
    """The id of the pipeline run of ``attempt`` (1, 2…) of an automation run: the same in every process."""
    return hashlib.sha256(f"shipyard-automation|{automation_run}|{attempt}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Attempt:
    """Where a retrain attempt stands: ``state`` is ``running``, ``finished``, ``failed``
    (the pipeline failed), ``lost`` (its controller is gone) or ``missing`` (never created)."""

    run_id: str
    state: str
    detail: str = ""


class Retrainer:
    """Runs retraining pipelines on threads of this process (see the module docstring).

    ``client`` records the pipeline runs (the :class:`~shipyard.Client` the controller has);
    ``executor`` runs their steps (``local``, ``inline``, ``ray``); a pipeline run whose
    owner is another process is lost once its heartbeat is ``stale_s`` old.
    """

    def __init__(self, client: Any, *, executor: str = "local", heartbeat_s: float = 5.0, stale_s: float = 60.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.executor = executor
        self.heartbeat_s = heartbeat_s
        self.stale_s = stale_s
        self.clock = clock
        self.owner = process_owner()
        self._heartbeat: Heartbeat | None = None
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    # -- starting ---------------------------------------------------------------------------

    def start(self, pipeline: str, run_id: str, *, automation_run: str, policy: str,
              params: Mapping[str, Any]) -> bool:
        """Create pipeline run ``run_id`` of ``pipeline`` and run the pipeline in it, on a thread;
        False (nothing started) when that run exists already (another controller's)."""
        from shipyard.pipelines._loader import load_pipeline
        from shipyard.pipelines._records import list_pipelines

        store = self.client.tracking_store
        definition = next((d for d in list_pipelines(store) if d.name == pipeline), None)
        if definition is None or not definition.target:
            raise NotFound(f"retrain.pipeline: pipeline {pipeline!r} has no recorded target file to run",
                           resource="pipeline", name=pipeline, field="retrain.pipeline")
        now = str(int(self.clock() * 1000))
        tags = {"shipyard.kind": "pipeline", "shipyard.pipeline": pipeline, AUTOMATION_RUN_TAG: automation_run,
                POLICY_TAG: policy, OWNER_TAG: self.owner, HEARTBEAT_TAG: now}
        try:
            store.create_run(definition.experiment_id, run_id=run_id, name=f"{pipeline} for {policy}", tags=tags)
        except Conflict:
            return False
        if self._heartbeat is None:
            self._heartbeat = Heartbeat(store, self.heartbeat_s, self.clock)
        self._heartbeat.add(run_id)
        try:
            found = load_pipeline(definition.target)
        except Exception as exc:  # a broken or missing file fails this attempt, not the controller
            self._fail(run_id, f"loading {definition.target}: {exc}")
            return True
        declared = set(found.parameters)
        given = {**params}
        given = {k: v for k, v in given.items()
                 if k not in (WINDOW_END, WINDOW_START, LABELLED) or k in declared}
        # A daemon thread: stopping the controller does not wait for a long training; the
        # run it leaves RUNNING is found lost by the next controller and tried again.
        thread = threading.Thread(target=self._run, args=(found, run_id, given), name=f"shipyard-retrain-{run_id[:8]}",
                                  daemon=True)
        with self._lock:
            self._threads[run_id] = thread
        thread.start()
        return True

    def _run(self, found: Any, run_id: str, params: dict[str, Any]) -> None:
        try:
            found.run(params, client=self.client, run_id=run_id, executor=self.executor)
        except Exception as exc:
            logger.error("retraining run %s failed: %s", run_id, exc)
            self._fail(run_id, str(exc))
        finally:
            if self._heartbeat is not None:
                self._heartbeat.discard(run_id)

    def _fail(self, run_id: str, why: str) -> None:
        from shipyard.tracking import LogBatch

        store = self.client.tracking_store
        try:  # the reason goes on the run whether or not the pipeline recorded its end
            store.log_batch(LogBatch(tags=[(run_id, ERROR_TAG, why[:5000])]), allow_finished=True)
            if not store.get_run(run_id).status.is_terminal:  # failed before the pipeline could end it
                store.update_run(run_id, status=RunStatus.FAILED, end_time=int(self.clock() * 1000))
        except (Conflict, NotFound):
            pass  # the run is gone or another process ended it first: nothing left to mark

    # -- inspecting -------------------------------------------------------------------------

    def inspect(self, run_id: str) -> Attempt:
        """Where pipeline run ``run_id`` stands (see :class:`Attempt`)."""
        with self._lock:
            thread = self._threads.get(run_id)
        if thread is not None and thread.is_alive():
            return Attempt(run_id, "running", "on a thread of this controller")
        try:
            run = self.client.tracking_store.get_run(run_id)
        except NotFound:
            return Attempt(run_id, "missing")
        if run.status is RunStatus.FINISHED:
            return Attempt(run_id, "finished")
        if run.status.is_terminal:
            error = run.tags.get(ERROR_TAG) or run.tags.get("shipyard.schedule.error") or ""
            return Attempt(run_id, "failed", error or f"the pipeline run ended {run.status.value}")
        if thread is not None:  # our thread ended but the run did not: the recorder lost its end
            return Attempt(run_id, "lost", "the pipeline thread ended without ending its run")
        why = abandoned_because(run, self.owner, int(self.clock() * 1000), self.stale_s)
        if why is None:
            return Attempt(run_id, "running", f"by {run.tags.get(OWNER_TAG, 'another controller')}")
        end_abandoned(self.client.tracking_store, run, why)
        return Attempt(run_id, "lost", why)

    def registered(self, run_id: str, model: str) -> list[int]:
        """The versions of ``model`` the steps of pipeline run ``run_id`` registered (the
        ``shipyard.registered_model`` tag of each step's run)."""
        import json

        store = self.client.tracking_store
        run = store.get_run(run_id)
        versions = set()
        for key, value in run.tags.items():
            if not key.startswith(STEP_TAG):
                continue
            step_run = json.loads(value).get("run_id")
            if not step_run:
                continue
            tags = store.get_run(step_run).tags
            # The recorder sets the tag itself; a step's own ctx.set_tag lands under "step.".
            tag = tags.get(REGISTERED_TAG) or tags.get(f"step.{REGISTERED_TAG}", "")
            name, _, number = tag.rpartition("/")
            if name == model and number.isdigit():
                versions.add(int(number))
        tag = run.tags.get(REGISTERED_TAG, "")  # a pipeline may tag its own run too
        if tag.rpartition("/")[0] == model and tag.rpartition("/")[2].isdigit():
            versions.add(int(tag.rpartition("/")[2]))
        return sorted(versions)

    def wait(self, timeout: float | None = None) -> None:
        """Wait (at most ``timeout`` seconds in all) for the pipelines started here to end."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads.values())
        for thread in threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def close(self) -> None:
        """Stop the heartbeat; pipelines still running go on until the process ends."""
        if self._heartbeat is not None:
            self._heartbeat.close()
