"""The interface every tracking backend implements.

Two implementations exist: :class:`~shipyard.tracking._sql_store.SqlTrackingStore`
(the metadata database plus the artifact store, in-process) and
``shipyard.remote.RemoteTrackingStore`` (the same calls over HTTP to
``shipyard server``). The tracking test suite runs every case against both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from shipyard.tracking._entities import ArtifactInfo, Experiment, LogBatch, Page, Run, RunStatus, ValueLimits
from shipyard.tracking._records import RunRecord

__all__ = ["TrackingStore"]


@runtime_checkable
class TrackingStore(Protocol):
    """Experiments, runs, their logged data and their artifacts."""

    @property
    def limits(self) -> ValueLimits:
        """The longest param and tag values this store keeps; a longer one is refused."""
        ...

    # experiments
    def create_experiment(
        self, name: str, tags: dict[str, str] | None = None, artifact_location: str | None = None
    ) -> Experiment: ...

    def get_experiment(self, experiment_id: str) -> Experiment: ...

    def get_experiment_by_name(self, name: str) -> Experiment: ...

    def list_experiments(self, include_deleted: bool = False) -> list[Experiment]: ...

    def update_experiment(
        self, experiment_id: str, *, name: str | None = None, lifecycle_stage: str | None = None
    ) -> Experiment: ...

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None: ...

    # runs
    def create_run(
        self,
        experiment_id: str,
        *,
        name: str | None = None,
        start_time: int | None = None,
        tags: dict[str, str] | None = None,
        parent_run_id: str | None = None,
        user: str | None = None,
        environment: dict[str, object] | None = None,
        run_id: str | None = None,
    ) -> Run: ...

    def get_run(self, run_id: str) -> Run: ...

    def update_run(
        self,
        run_id: str,
        *,
        status: RunStatus | None = None,
        end_time: int | None = None,
        name: str | None = None,
        lifecycle_stage: str | None = None,
        environment: dict[str, object] | None = None,
    ) -> Run:
        """Change what is given; ``environment`` records where the run ran (captured after
        the run was created, off the caller's path)."""
        ...

    def log_batch(self, batch: LogBatch, *, allow_finished: bool = False) -> None:
        """Write a batch; entries for a finished run are refused unless ``allow_finished``
        (MLflow lets a finished run take more data; Shipyard's own clients do not)."""
        ...

    def record_runs(self, records: Sequence[RunRecord]) -> list[str]:
        """Write whole runs (created, or completed if still running) with their params, tags,
        metrics and artifact bytes in one metadata transaction; return their ids.
        All or nothing: a bad record (InvalidInput naming the field), an unknown
        experiment or parent (NotFound), or a clash (Conflict) writes nothing."""
        ...

    def delete_tag(self, run_id: str, key: str) -> None: ...

    def search_runs(
        self,
        experiment_ids: list[str],
        filter: str | None = None,
        order_by: list[str] | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
        include_deleted: bool = False,
    ) -> Page: ...

    def get_metric_history(
        self,
        run_id: str,
        key: str,
        max_points: int | None = None,
        page_token: str | None = None,
        max_results: int | None = None,
    ) -> Page: ...

    # artifacts
    def log_artifact(self, run_id: str, path: str, source: str | os.PathLike[str] | BinaryIO) -> ArtifactInfo: ...

    def list_artifacts(self, run_id: str, prefix: str = "") -> list[ArtifactInfo]: ...

    def open_artifact(self, run_id: str, path: str) -> Iterator[bytes]: ...

    def download_artifact(self, run_id: str, path: str, dest: str | os.PathLike[str]) -> Path: ...

    def delete_artifact(self, run_id: str, path: str) -> None: ...

    def close(self) -> None: ...
