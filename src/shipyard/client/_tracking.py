"""``client.tracking``: experiments, runs, buffered logging and run artifacts.

Logging calls return at once: points, params and tags are buffered and written in
batches by a background writer (:class:`~shipyard.tracking.BatchWriter`); a failed
write is raised by the next :meth:`Tracking.flush` or :meth:`Tracking.end_run`. The
buffer is bounded (``log_buffer_points``, ``log_buffer_bytes``): a call that finds it
full waits for the writer, so logging faster than the store takes it is slowed to
the store's pace instead of piling up what a crash would lose.
:meth:`Tracking.start_run` returns at once too: the run is created in the background
(see :mod:`shipyard.client._background`), and whatever needs it stored waits for it.
Each run's environment is captured off the caller's path and stored with the run
before :meth:`Tracking.end_run` returns. A run started with ``system_metrics=True``
(or, by default, when ``Config.system_metrics`` is on) has CPU, memory, disk, network
and GPU use logged into it under ``system/`` every ``Config.system_metrics_interval``
seconds, through the same buffered writer, until :meth:`Tracking.end_run` (see
:class:`~shipyard.tracking.SystemMetricsSampler`).

>>> tracking = Client(home="/tmp/shipyard-doc").tracking      # doctest: +SKIP
>>> run = tracking.create_run("churn", tags={"team": "growth"})  # doctest: +SKIP
>>> tracking.log_metric(run.id, "loss", 0.3, step=1)             # doctest: +SKIP
>>> tracking.end_run(run.id)                                     # doctest: +SKIP
"""

from __future__ import annotations

import io
import os
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from shipyard.client._backend import Backend
from shipyard.client._background import EnvironmentRecorder, RunStarts
from shipyard.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from shipyard.tracking import (
    ArtifactInfo,
    BatchWriter,
    Experiment,
    LogBatch,
    Metric,
    Page,
    Run,
    RunComparison,
    RunStatus,
    SystemMetricsSampler,
    TrackingStore,
    ValueLimits,
    capture_environment,
    compare_runs,
    new_run_id,
    now_ms,
    validate_key,
    validate_run_id,
)
from shipyard.tracking._entities import default_run_name

__all__ = ["RunState", "Tracking"]


@dataclass
class RunState:
    """What this client knows of a run it logs to, so most mistakes fail at the call."""

    finished: bool
    params: dict[str, str]
    keys: set[str] = field(default_factory=set)


class Tracking:
    """Experiments, runs and everything logged to them, over ``backend``'s tracking store."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self.config = backend.config
        self._runs: dict[str, RunState] = {}
        self._writer: BatchWriter | None = None
        self._writer_lock = threading.Lock()
        self._samplers: dict[str, SystemMetricsSampler] = {}
        self._starts = RunStarts()
        self._environments = EnvironmentRecorder(self._store_environment, capture_environment)

    @property
    def limits(self) -> ValueLimits:
        """The store's limits on param and tag values (a server's own, for a remote client:
        :attr:`RemoteBackend.limits <shipyard.client.RemoteBackend.limits>`). The store checks
        values again; checking here fails the call, not a later flush."""
        return self._backend.limits

    @property
    def store(self) -> TrackingStore:
        """The tracking store, once every run started so far has been created in it."""
        if self._starts.pending:
            self._starts.settle()
        return self._backend.tracking

    # -- experiments ------------------------------------------------------------------------

    def create_experiment(self, name: str, tags: dict[str, str] | None = None) -> Experiment:
        """Create an experiment; :class:`AlreadyExists` if the name is taken."""
        return self.store.create_experiment(name, tags)

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self.store.get_experiment(experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment:
        return self.store.get_experiment_by_name(name)

    def set_experiment(self, name: str) -> Experiment:
        """The experiment called ``name``, created if it does not exist yet."""
        return _experiment_named(self.store, name)

    def list_experiments(self, include_deleted: bool = False) -> list[Experiment]:
        return self.store.list_experiments(include_deleted)

    def delete_experiment(self, experiment_id: str) -> Experiment:
        return self.store.update_experiment(experiment_id, lifecycle_stage="deleted")

    # -- runs -------------------------------------------------------------------------------

    def create_run(self, experiment: str | None = None, *, experiment_id: str | None = None,
                   name: str | None = None, tags: dict[str, str] | None = None,
                   parent_run_id: str | None = None, capture_env: bool = True,
                   system_metrics: bool | None = None) -> Run:
        """Create a run in the experiment named ``experiment`` (created if needed) and return it.

        Without either argument the run goes to the default experiment ``"0"``. Unless
        ``capture_env`` is false, the environment (Python, packages, git commit) is
        captured in the background and stored with the run by :meth:`end_run` at the latest.
        ``system_metrics`` (default: ``Config.system_metrics``) samples this process and
        its machine into the run until :meth:`end_run` (see the module docstring).
        """
        store = self.store
        if experiment_id is None:
            experiment_id = _experiment_named(store, experiment).id if experiment else "0"
        run = store.create_run(experiment_id, name=name, tags=tags, parent_run_id=parent_run_id)
        self._runs[run.id] = RunState(finished=False, params={})
        if capture_env:
            self._environments.record(run.id)
        self._sample(run.id, system_metrics)
        return run

    def start_run(self, experiment: str | None = None, *, name: str | None = None,
                  tags: dict[str, str] | None = None, parent_run_id: str | None = None,
                  capture_env: bool = True, system_metrics: bool | None = None) -> str:
        """Start a run and return its id at once; it is created in the background.

        Logging to it works at once. Whatever needs it stored (:meth:`get_run`,
        :meth:`end_run`, artifacts, a flush) waits for its creation; if the creation
        failed (a deleted experiment, an unreachable store), that error is raised by
        the next call that uses the run. :meth:`started_run` returns it as stored.
        ``system_metrics`` is as for :meth:`create_run`.
        """
        # What can be checked without the store is checked here, so bad input fails at the call.
        if experiment and (not isinstance(experiment, str) or not experiment.strip() or len(experiment) > 256):
            raise InvalidInput(f"experiment name must be 1-256 characters, got {experiment!r}", field="experiment")
        if parent_run_id is not None:
            validate_run_id(parent_run_id)
        tags = {validate_key(k, "tag"): str(v) for k, v in (tags or {}).items()}
        run_id, start_time = new_run_id(), now_ms()
        name = name or default_run_name(run_id)
        backend = self._backend

        def create() -> Run:
            store = backend.tracking
            experiment_id = _experiment_named(store, experiment).id if experiment else "0"
            return store.create_run(experiment_id, run_id=run_id, name=name, start_time=start_time, tags=tags,
                                    parent_run_id=parent_run_id)

        self._runs[run_id] = RunState(finished=False, params={})
        self._starts.submit(run_id, create)
        if capture_env:
            self._environments.record(run_id)
        self._sample(run_id, system_metrics)
        return run_id

    def started_run(self, run_id: str) -> Run:
        """The run as created by :meth:`start_run` (waiting for its creation) or as stored."""
        self.wait_for(run_id)
        return self._starts.created(run_id) or self.store.get_run(run_id)

    def wait_for(self, run_id: str) -> None:
        """Return once run ``run_id`` is stored, if this client started it; raise why it could
        not be created. What other domains record against a run (lineage) waits here first."""
        if self._starts.pending:
            self._starts.settle()
        failure = self._starts.failure(run_id)
        if failure is not None:
            raise failure

    def resume_run(self, run_id: str, *, system_metrics: bool | None = None) -> Run:
        """Mark a stored run RUNNING again (if it is not) so that it accepts data; return it.

        ``system_metrics`` is as for :meth:`create_run`: this process samples into the run.
        """
        run = self.get_run(run_id)
        if run.status != RunStatus.RUNNING:
            run = self.store.update_run(run_id, status=RunStatus.RUNNING)
        self._runs[run_id] = RunState(finished=False, params=dict(run.params))
        self._sample(run_id, system_metrics)
        return run

    def _sample(self, run_id: str, system_metrics: bool | None) -> None:
        """Start sampling system metrics into run ``run_id`` when asked (or configured) to."""
        if not (self.config.system_metrics if system_metrics is None else system_metrics) \
                or run_id in self._samplers:
            return

        def log(key: str, value: float, timestamp: int, step: int) -> None:
            self.log_metric(run_id, key, value, step, timestamp)

        self._samplers[run_id] = SystemMetricsSampler(log, self.config.system_metrics_interval).start()

    def _stop_sampling(self, run_id: str | None = None) -> None:
        """Stop sampling into ``run_id`` (into every run when None), its last reading logged."""
        ids = list(self._samplers) if run_id is None else [run_id]
        for rid in ids:
            sampler = self._samplers.pop(rid, None)
            if sampler is not None:
                sampler.stop()

    def get_run(self, run_id: str) -> Run:
        """The run with its params, tags and latest metrics (buffered data is flushed first)."""
        if run_id in self._runs:
            self.flush()
            self.wait_for(run_id)
        return self.store.get_run(run_id)

    def end_run(self, run_id: str, status: RunStatus | str = RunStatus.FINISHED) -> Run:
        """Flush the run's data and environment, then mark it ended.

        A failed flush is raised here and the run stays RUNNING, its data kept in
        memory (or the spool), so calling ``end_run`` again once storage recovers
        loses nothing.
        """
        status = _status(status)
        self._stop_sampling(run_id)  # its last reading goes out with the flush below
        self.flush()
        self.wait_for(run_id)
        self._environments.flush(run_id)
        run = self.store.update_run(run_id, status=status)
        state = self._runs.get(run_id)
        if state is not None:
            state.finished = True
        return run

    def delete_run(self, run_id: str) -> Run:
        return self.store.update_run(run_id, lifecycle_stage="deleted")

    def restore_run(self, run_id: str) -> Run:
        return self.store.update_run(run_id, lifecycle_stage="active")

    def search_runs(self, experiments: str | list[str] | None = None, filter: str | None = None,
                    order_by: list[str] | None = None, max_results: int = 1000, page_token: str | None = None,
                    *, experiment_ids: list[str] | None = None, include_deleted: bool = False) -> Page:
        """Runs of the named experiments matching ``filter``, one page at a time.

        ``filter`` uses MLflow's syntax (``metrics.auc > 0.8 and params.depth = '6'``);
        ``order_by`` items look like ``"metrics.auc DESC"``. Pass the returned
        ``next_page_token`` back as ``page_token`` for the next page.
        """
        if experiment_ids is None:
            names = [experiments] if isinstance(experiments, str) else list(experiments or [])
            experiment_ids = [self.get_experiment_by_name(n).id for n in names] if names else ["0"]
        self.flush()
        return self.store.search_runs(experiment_ids, filter, order_by, max_results, page_token, include_deleted)

    def get_metric_history(self, run_id: str, key: str, max_points: int | None = None) -> list[Metric]:
        """Every point of a metric, or about ``max_points`` evenly spaced ones."""
        if run_id in self._runs:
            self.flush()
        return self.store.get_metric_history(run_id, key, max_points).items

    def compare_runs(self, run_ids: list[str]) -> RunComparison:
        """Params and final metrics of several runs side by side."""
        return compare_runs([self.get_run(r) for r in run_ids])

    # -- logging (buffered: each call returns at once) ----------------------------------------

    def _state(self, run_id: str) -> RunState:
        state = self._runs.get(run_id)
        if state is None:
            run = self.store.get_run(validate_run_id(run_id))
            state = RunState(finished=run.status.is_terminal, params=dict(run.params))
            self._runs[run_id] = state
        if state.finished:
            raise Conflict(f"run {run_id!r} has ended; it accepts no more data", run_id=run_id)
        failure = self._starts.failure(run_id)
        if failure is not None:
            raise failure
        return state

    def log_metric(self, run_id: str, key: str, value: float, step: int = 0, timestamp: int | None = None) -> None:
        """Buffer one point; NaN and ±inf are kept as they are."""
        state = self._state(run_id)
        if key not in state.keys:
            validate_key(key)
            state.keys.add(key)
        try:
            value = float(value)
            step = int(step)
        except (TypeError, ValueError):
            raise InvalidInput(f"metric {key!r} needs a number and an integer step, got {value!r} at step {step!r}",
                               field="value") from None
        self.writer.metric(run_id, key, value, timestamp or now_ms(), step)

    def log_metrics(self, run_id: str, metrics: dict[str, float], step: int = 0) -> None:
        """Buffer several points at one step (and one timestamp)."""
        ts = now_ms()
        for key, value in metrics.items():
            self.log_metric(run_id, key, value, step, ts)

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        """Buffer a param. Params are immutable: a different value is a :class:`Conflict`."""
        state = self._state(run_id)
        validate_key(key, "param")
        text = str(value)
        self.limits.check("param", [(key, text)])
        old = state.params.get(key)
        if old is not None:
            if old != text:
                raise Conflict(f"param {key!r} of run {run_id!r} is already {old!r}; params are immutable "
                               f"(tried {text!r})", run_id=run_id, key=key)
            return
        state.params[key] = text
        self.writer.param(run_id, key, text)

    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        for key, value in params.items():
            self.log_param(run_id, key, value)

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        """Buffer a tag; a later value replaces an earlier one."""
        self._state(run_id)
        text = str(value)
        self.limits.check("tag", [(validate_key(key, "tag"), text)])
        self.writer.tag(run_id, key, text)

    def set_tags(self, run_id: str, tags: dict[str, Any]) -> None:
        for key, value in tags.items():
            self.set_tag(run_id, key, value)

    def log_batch(self, run_id: str, metrics: dict[str, float] | None = None, params: dict[str, Any] | None = None,
                  tags: dict[str, Any] | None = None, step: int = 0) -> None:
        """Log several metrics (at one step), params and tags in one call."""
        self.log_params(run_id, params or {})
        self.set_tags(run_id, tags or {})
        self.log_metrics(run_id, metrics or {}, step)

    @property
    def writer(self) -> BatchWriter:
        """The background writer of this client's logged data (made on first use)."""
        if self._writer is None:
            with self._writer_lock:
                if self._writer is None:
                    spool = None
                    if self.config.url:
                        from shipyard.tracking._spool import DiskSpool

                        spool = DiskSpool(self.config.spool_dir)
                    writer = BatchWriter(self._write_batch, self.config.flush_interval, spool,
                                         max_points=self.config.log_buffer_points,
                                         max_bytes=self.config.log_buffer_bytes,
                                         max_wait=self.config.retry_max_wait)
                    # Flush at interpreter exit even if the client is never closed.
                    weakref.finalize(self, writer.close)
                    self._writer = writer
        return self._writer

    def _write_batch(self, batch: LogBatch) -> None:
        self._starts.settle()  # the runs must exist before their data
        failed = self._starts.failed
        # Whether a run is still open was checked when each entry was logged (``_state``).
        # By now another process sharing the run may have ended it; an entry already
        # acknowledged must not be refused for that, so the store is told to take it.
        self._backend.tracking.log_batch(batch.without(failed) if failed else batch, allow_finished=True)

    def _store_environment(self, run_id: str, environment: dict[str, Any]) -> None:
        self._starts.settle()
        if self._starts.failure(run_id) is None:  # a run never created has nowhere to keep it
            self._backend.tracking.update_run(run_id, environment=environment)

    def flush(self) -> None:
        """Write every buffered point now; raise the first error any flush met."""
        self._starts.settle()
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        """Flush the buffered data and the captured environments; stop the writer. Raises the
        first error after finishing the rest."""
        try:
            self._stop_sampling()
            self._starts.settle()
            if self._writer is not None:
                self._writer.close()
        finally:
            self._environments.flush()

    # -- artifacts --------------------------------------------------------------------------

    def log_artifact(self, run_id: str, local_path: str | os.PathLike[str],
                     artifact_path: str | None = None) -> ArtifactInfo:
        """Store a file under the run, at ``artifact_path/<file name>``."""
        path = Path(local_path)
        if not path.is_file():
            raise InvalidInput(f"{str(path)!r} is not a file", field="local_path")
        logical = f"{artifact_path.rstrip('/')}/{path.name}" if artifact_path else path.name
        return self.store.log_artifact(run_id, logical, path)

    def log_artifacts(self, run_id: str, local_dir: str | os.PathLike[str],
                      artifact_path: str | None = None) -> list[ArtifactInfo]:
        """Store every file under ``local_dir``, keeping the relative layout."""
        root = Path(local_dir)
        if not root.is_dir():
            raise InvalidInput(f"{str(root)!r} is not a directory", field="local_dir")
        logged = []
        for file in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = file.relative_to(root).as_posix()
            logical = f"{artifact_path.rstrip('/')}/{rel}" if artifact_path else rel
            logged.append(self.store.log_artifact(run_id, logical, file))
        return logged

    def log_bytes(self, run_id: str, data: bytes | BinaryIO, artifact_path: str) -> ArtifactInfo:
        """Store bytes (or a binary stream) at ``artifact_path`` of the run."""
        stream = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
        return self.store.log_artifact(run_id, artifact_path, stream)

    def list_artifacts(self, run_id: str, prefix: str = "") -> list[ArtifactInfo]:
        return self.store.list_artifacts(run_id, prefix)

    def download_artifacts(self, run_id: str, path: str = "", dest: str | os.PathLike[str] = ".") -> Path:
        """Download one artifact, or every artifact under ``path``, into ``dest``.

        Each file's hash is verified before it appears at its destination.
        """
        dest_root = Path(dest)
        store = self.store
        infos = store.list_artifacts(run_id, path)
        if not infos:
            raise NotFound(f"no artifact at {path!r} in run {run_id!r}", resource="artifact", run_id=run_id)
        if len(infos) == 1 and infos[0].path == path:
            return store.download_artifact(run_id, path, dest_root / Path(path).name)
        base = path.rstrip("/")
        for info in infos:
            rel = info.path[len(base) + 1:] if base else info.path
            store.download_artifact(run_id, info.path, dest_root / rel)
        return dest_root


def _experiment_named(store: TrackingStore, name: str) -> Experiment:
    """The experiment called ``name`` in ``store``, created if it does not exist yet."""
    try:
        return store.get_experiment_by_name(name)
    except NotFound:
        try:
            return store.create_experiment(name)
        except AlreadyExists:  # another process created it meanwhile
            return store.get_experiment_by_name(name)


def _status(status: RunStatus | str) -> RunStatus:
    try:
        return RunStatus(status)
    except ValueError:
        raise InvalidInput(f"status must be one of {[s.value for s in RunStatus]}, got {status!r}",
                           field="status") from None
