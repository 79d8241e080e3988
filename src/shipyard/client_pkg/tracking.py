"""The explicit client: one object that assembles the stores from a configuration.

Everything the fluent API (``shipyard.start_run``…) does goes through a
:class:`Client`; tests and services can hold several side by side.

>>> client = Client(home="/tmp/shipyard-doc")                  # doctest: +SKIP
>>> run = client.create_run("churn", tags={"team": "growth"})  # doctest: +SKIP
>>> client.log_metric(run.id, "loss", 0.3, step=1)             # doctest: +SKIP
>>> client.end_run(run.id)                                     # doctest: +SKIP
"""

from __future__ import annotations

import os
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from shipyard.config import Config, load_config
from shipyard.errors import Conflict, InvalidInput, NotFound
from shipyard.tracking import (
    ArtifactInfo,
    BatchWriter,
    Experiment,
    Metric,
    Page,
    Run,
    RunComparison,
    RunStatus,
    TrackingStore,
    capture_environment,
    compare_runs,
    now_ms,
    validate_key,
    validate_run_id,
)
from shipyard.tracking.entities import MAX_PARAM_LENGTH

__all__ = ["Client"]


@dataclass
class _RunState:
    """What this client knows of a run it logs to, so most mistakes fail at the call."""

    finished: bool
    params: dict[str, str]
    keys: set[str] = field(default_factory=set)


class Client:
    """Access to tracking (and, as they land, the other domains) for one configuration.

    With ``url`` set (argument, ``SHIPYARD_URL`` or ``shipyard.toml``) the client talks
    to a ``shipyard server``; otherwise it opens the metadata database and artifact
    store itself. Nothing is opened until first use.
    """

    def __init__(self, config: Config | None = None, **overrides: Any) -> None:
        self.config = (config.with_(**overrides) if overrides else config) if config else load_config(**overrides)
        self._store: TrackingStore | None = None
        self._writer: BatchWriter | None = None
        self._runs: dict[str, _RunState] = {}

    def __repr__(self) -> str:
        where = self.config.url or self.config.database_url
        return f"Client({where!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- assembly -------------------------------------------------------------------

    @property
    def tracking_store(self) -> TrackingStore:
        """The tracking backend this client writes to (opened on first use)."""
        if self._store is None:
            self._store = self._open_store()
        return self._store

    def _open_store(self) -> TrackingStore:
        if self.config.url:
            from shipyard.remote import RemoteTrackingStore

            return RemoteTrackingStore(self.config.url, token=self.config.token)
        from shipyard.store.artifacts import open_artifact_store
        from shipyard.store.db import Database
        from shipyard.tracking.sql_store import SqlTrackingStore

        db = Database(self.config.database_url)
        db.ensure_schema()
        artifacts = open_artifact_store(self.config.artifacts_uri, s3_endpoint_url=self.config.s3_endpoint_url)
        return SqlTrackingStore(db, artifacts)

    @property
    def _batch_writer(self) -> BatchWriter:
        if self._writer is None:
            spool = None
            if self.config.url:
                from shipyard.tracking.spool import DiskSpool

                spool = DiskSpool(self.config.spool_dir)
            writer = BatchWriter(self.tracking_store.log_batch, self.config.flush_interval, spool)
            # Flush at interpreter exit even if the client is never closed.
            weakref.finalize(self, writer.close)
            self._writer = writer
        return self._writer

    def flush(self) -> None:
        """Write every buffered point now; raise the first error any flush met."""
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        """Flush and release connections. The client may not be used afterwards."""
        try:
            if self._writer is not None:
                self._writer.close()
        finally:
            if self._store is not None:
                self._store.close()

    # -- experiments ----------------------------------------------------------------

    def create_experiment(self, name: str, tags: dict[str, str] | None = None) -> Experiment:
        """Create an experiment; :class:`AlreadyExists` if the name is taken."""
        return self.tracking_store.create_experiment(name, tags)

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self.tracking_store.get_experiment(experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment:
        return self.tracking_store.get_experiment_by_name(name)

    def set_experiment(self, name: str) -> Experiment:
        """The experiment called ``name``, created if it does not exist yet."""
        try:
            return self.tracking_store.get_experiment_by_name(name)
        except NotFound:
            from shipyard.errors import AlreadyExists

            try:
                return self.tracking_store.create_experiment(name)
            except AlreadyExists:  # another process created it meanwhile
                return self.tracking_store.get_experiment_by_name(name)

    def list_experiments(self, include_deleted: bool = False) -> list[Experiment]:
        return self.tracking_store.list_experiments(include_deleted)

    def delete_experiment(self, experiment_id: str) -> Experiment:
        return self.tracking_store.update_experiment(experiment_id, lifecycle_stage="deleted")

    # -- runs -----------------------------------------------------------------------

    def create_run(
        self,
        experiment: str | None = None,
        *,
        experiment_id: str | None = None,
        name: str | None = None,
        tags: dict[str, str] | None = None,
        parent_run_id: str | None = None,
        capture_env: bool = True,
    ) -> Run:
        """Start a run in the experiment named ``experiment`` (created if needed).

        Without either argument the run goes to the default experiment ``"0"``.
        The environment (Python, packages, git commit) is recorded unless
        ``capture_env`` is false.
        """
        if experiment_id is None:
            experiment_id = self.set_experiment(experiment).id if experiment else "0"
        run = self.tracking_store.create_run(
            experiment_id, name=name, tags=tags, parent_run_id=parent_run_id,
            environment=capture_environment() if capture_env else None,
        )
        self._runs[run.id] = _RunState(finished=False, params={})
        return run

    def get_run(self, run_id: str) -> Run:
        """The run with its params, tags and latest metrics (buffered data is flushed first)."""
        if run_id in self._runs:
            self.flush()
        return self.tracking_store.get_run(run_id)

    def end_run(self, run_id: str, status: RunStatus | str = RunStatus.FINISHED) -> Run:
        """Flush the run's data, then mark it ended.

        A failed flush is raised here and the run stays RUNNING, its data kept in
        memory (or the spool), so calling ``end_run`` again once storage recovers
        loses nothing.
        """
        status = _status(status)
        self.flush()
        run = self.tracking_store.update_run(run_id, status=status)
        state = self._runs.get(run_id)
        if state is not None:
            state.finished = True
        return run

    def delete_run(self, run_id: str) -> Run:
        return self.tracking_store.update_run(run_id, lifecycle_stage="deleted")

    def restore_run(self, run_id: str) -> Run:
        return self.tracking_store.update_run(run_id, lifecycle_stage="active")

    def search_runs(
        self,
        experiments: str | list[str] | None = None,
        filter: str | None = None,
        order_by: list[str] | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
        *,
        experiment_ids: list[str] | None = None,
        include_deleted: bool = False,
    ) -> Page:
        """Runs of the named experiments matching ``filter``, one page at a time.

        ``filter`` uses MLflow's syntax (``metrics.auc > 0.8 and params.depth = '6'``);
        ``order_by`` items look like ``"metrics.auc DESC"``. Pass the returned
        ``next_page_token`` back as ``page_token`` for the next page.
        """
        if experiment_ids is None:
            names = [experiments] if isinstance(experiments, str) else list(experiments or [])
            experiment_ids = [self.get_experiment_by_name(n).id for n in names] if names else ["0"]
        self.flush()
        return self.tracking_store.search_runs(
            experiment_ids, filter, order_by, max_results, page_token, include_deleted
        )

    def get_metric_history(self, run_id: str, key: str, max_points: int | None = None) -> list[Metric]:
        """Every point of a metric, or about ``max_points`` evenly spaced ones."""
        if run_id in self._runs:
            self.flush()
        return self.tracking_store.get_metric_history(run_id, key, max_points).items

    def compare_runs(self, run_ids: list[str]) -> RunComparison:
        """Params and final metrics of several runs side by side."""
        return compare_runs([self.get_run(r) for r in run_ids])

    # -- logging (buffered: each call returns at once) ----------------------------------

    def _state(self, run_id: str) -> _RunState:
        state = self._runs.get(run_id)
        if state is None:
            run = self.tracking_store.get_run(validate_run_id(run_id))
            state = _RunState(finished=run.status.is_terminal, params=dict(run.params))
            self._runs[run_id] = state
        if state.finished:
            raise Conflict(f"run {run_id!r} has ended; it accepts no more data", run_id=run_id)
        return state

    def log_metric(
        self, run_id: str, key: str, value: float, step: int = 0, timestamp: int | None = None
    ) -> None:
        """Buffer one point; NaN and ±inf are kept as they are."""
        state = self._state(run_id)
        if key not in state.keys:
            validate_key(key)
            state.keys.add(key)
        try:
            value = float(value)
            step = int(step)
        except (TypeError, ValueError):
            raise InvalidInput(
                f"metric {key!r} needs a number and an integer step, got {value!r} at step {step!r}",
                field="value",
            ) from None
        self._batch_writer.metric(run_id, key, value, timestamp or now_ms(), step)

    def log_metrics(self, run_id: str, metrics: dict[str, float], step: int = 0) -> None:
        ts = now_ms()
        for key, value in metrics.items():
            self.log_metric(run_id, key, value, step, ts)

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        """Buffer a param. Params are immutable: a different value is a :class:`Conflict`."""
        state = self._state(run_id)
        validate_key(key, "param")
        text = str(value)
        if len(text) > MAX_PARAM_LENGTH:
            raise InvalidInput(f"param {key!r} is longer than {MAX_PARAM_LENGTH} characters", field=key)
        old = state.params.get(key)
        if old is not None:
            if old != text:
                raise Conflict(
                    f"param {key!r} of run {run_id!r} is already {old!r}; params are immutable (tried {text!r})",
                    run_id=run_id, key=key,
                )
            return
        state.params[key] = text
        self._batch_writer.param(run_id, key, text)

    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        for key, value in params.items():
            self.log_param(run_id, key, value)

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self._state(run_id)
        self._batch_writer.tag(run_id, validate_key(key, "tag"), str(value))

    def set_tags(self, run_id: str, tags: dict[str, Any]) -> None:
        for key, value in tags.items():
            self.set_tag(run_id, key, value)

    def log_batch(
        self,
        run_id: str,
        metrics: dict[str, float] | None = None,
        params: dict[str, Any] | None = None,
        tags: dict[str, Any] | None = None,
        step: int = 0,
    ) -> None:
        """Log several metrics (at one step), params and tags in one call."""
        self.log_params(run_id, params or {})
        self.set_tags(run_id, tags or {})
        self.log_metrics(run_id, metrics or {}, step)

    # -- artifacts ------------------------------------------------------------------

    def log_artifact(
        self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> ArtifactInfo:
        """Store a file under the run, at ``artifact_path/<file name>``."""
        path = Path(local_path)
        if not path.is_file():
            raise InvalidInput(f"{str(path)!r} is not a file", field="local_path")
        logical = f"{artifact_path.rstrip('/')}/{path.name}" if artifact_path else path.name
        return self.tracking_store.log_artifact(run_id, logical, path)

    def log_artifacts(
        self, run_id: str, local_dir: str | os.PathLike[str], artifact_path: str | None = None
    ) -> list[ArtifactInfo]:
        """Store every file under ``local_dir``, keeping the relative layout."""
        root = Path(local_dir)
        if not root.is_dir():
            raise InvalidInput(f"{str(root)!r} is not a directory", field="local_dir")
        logged = []
        for file in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = file.relative_to(root).as_posix()
            logical = f"{artifact_path.rstrip('/')}/{rel}" if artifact_path else rel
            logged.append(self.tracking_store.log_artifact(run_id, logical, file))
        return logged

    def log_bytes(self, run_id: str, data: bytes | BinaryIO, artifact_path: str) -> ArtifactInfo:
        """Store bytes (or a binary stream) at ``artifact_path`` of the run."""
        import io

        stream = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
        return self.tracking_store.log_artifact(run_id, artifact_path, stream)

    def list_artifacts(self, run_id: str, prefix: str = "") -> list[ArtifactInfo]:
        return self.tracking_store.list_artifacts(run_id, prefix)

    def download_artifacts(
        self, run_id: str, path: str = "", dest: str | os.PathLike[str] = "."
    ) -> Path:
        """Download one artifact, or every artifact under ``path``, into ``dest``.

        Each file's hash is verified before it appears at its destination.
        """
        dest_root = Path(dest)
        infos = self.tracking_store.list_artifacts(run_id, path)
        if not infos:
            raise NotFound(f"no artifact at {path!r} in run {run_id!r}", resource="artifact", run_id=run_id)
        if len(infos) == 1 and infos[0].path == path:
            return self.tracking_store.download_artifact(run_id, path, dest_root / Path(path).name)
        base = path.rstrip("/")
        for info in infos:
            rel = info.path[len(base) + 1 :] if base else info.path
            self.tracking_store.download_artifact(run_id, info.path, dest_root / rel)
        return dest_root


def _status(status: RunStatus | str) -> RunStatus:
    try:
        return RunStatus(status)
    except ValueError:
        raise InvalidInput(
            f"status must be one of {[s.value for s in RunStatus]}, got {status!r}", field="status"
        ) from None

