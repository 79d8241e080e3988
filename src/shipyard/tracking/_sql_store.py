"""Tracking on the metadata database (SQLite or PostgreSQL) and the artifact store.

:class:`SqlTrackingStore` is one object over composed parts, one module each:

* :class:`~shipyard.tracking._sql_experiments.SqlExperiments` — experiments and their tags;
* :class:`~shipyard.tracking._sql_runs.SqlRuns` — runs: create, read, update;
* :class:`~shipyard.tracking._sql_run_data.SqlRunData` — params, tags and metric points,
  written in batches, and metric history;
* :class:`~shipyard.tracking._sql_run_search.SqlRunSearch` — MLflow-style run search;
* :class:`~shipyard.tracking._sql_artifacts.SqlRunArtifacts` — run artifacts;
* :class:`~shipyard.tracking._sql_records.SqlRunRecords` — whole runs in one transaction.

The store's methods are the :class:`~shipyard.tracking._backend.TrackingStore`
interface, each handed to the part that owns it; the rules every backend shares (names,
the size of param and tag values) are checked here first, so no part can miss them. The database and the artifact
store belong to whoever built them (the client's backend): :meth:`close` leaves them open.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from shipyard.store import Database, check_name
from shipyard.store.artifacts import ArtifactStore
from shipyard.tracking._entities import (
    ArtifactInfo,
    Experiment,
    LogBatch,
    Page,
    Run,
    RunStatus,
    ValueLimits,
    check_batch,
)
from shipyard.tracking._records import RunRecord
from shipyard.tracking._sql_artifacts import SqlRunArtifacts
from shipyard.tracking._sql_experiments import SqlExperiments
from shipyard.tracking._sql_records import SqlRunRecords
from shipyard.tracking._sql_run_data import SqlRunData
from shipyard.tracking._sql_run_search import SqlRunSearch
from shipyard.tracking._sql_runs import SqlRuns

__all__ = ["SqlTrackingStore"]


class SqlTrackingStore:
    """:class:`~shipyard.tracking._backend.TrackingStore` on a :class:`Database` and an :class:`ArtifactStore`.

    ``limits`` bounds param and tag values (MLflow's limits by default).
    """

    def __init__(self, db: Database, artifacts: ArtifactStore, limits: ValueLimits | None = None) -> None:
        self.db = db
        self.artifacts = artifacts
        self.limits = limits or ValueLimits()
        self.experiments = SqlExperiments(db)
        self.runs = SqlRuns(db)
        self.data = SqlRunData(db)
        self.search = SqlRunSearch(db, self.runs)
        self.run_artifacts = SqlRunArtifacts(db, artifacts)
        self.records = SqlRunRecords(db, artifacts, self.data, self.limits)

    def __repr__(self) -> str:
        return f"SqlTrackingStore({self.db!r})"

    def close(self) -> None:
        """Nothing of its own to release: the database and the artifact store are its owner's."""

    # -- experiments ----------------------------------------------------------------------

    def create_experiment(
        self, name: str, tags: dict[str, str] | None = None, artifact_location: str | None = None
    ) -> Experiment:
        self.limits.check("tag", _users((tags or {}).items()))
        return self.experiments.create_experiment(check_name(name, "name"), tags, artifact_location)

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self.experiments.get_experiment(experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment:
        return self.experiments.get_experiment_by_name(name)

    def list_experiments(self, include_deleted: bool = False) -> list[Experiment]:
        return self.experiments.list_experiments(include_deleted)

    def update_experiment(
        self, experiment_id: str, *, name: str | None = None, lifecycle_stage: str | None = None
    ) -> Experiment:
        if name is not None:
            check_name(name, "name")
        return self.experiments.update_experiment(experiment_id, name=name, lifecycle_stage=lifecycle_stage)

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        self.limits.check("tag", _users([(key, value)]))
        self.experiments.set_experiment_tag(experiment_id, key, value)

    # -- runs -----------------------------------------------------------------------------

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
    ) -> Run:
        if name:  # no name: the default one
            check_name(name, "name")
        self.limits.check("tag", (tags or {}).items())
        return self.runs.create_run(experiment_id, name=name, start_time=start_time, tags=tags,
                                    parent_run_id=parent_run_id, user=user, environment=environment, run_id=run_id)

    def get_run(self, run_id: str) -> Run:
        return self.runs.get_run(run_id)

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
        if name:
            check_name(name, "name")
        return self.runs.update_run(run_id, status=status, end_time=end_time, name=name,
                                    lifecycle_stage=lifecycle_stage, environment=environment)

    def delete_tag(self, run_id: str, key: str) -> None:
        self.runs.delete_tag(run_id, key)

    def search_runs(
        self,
        experiment_ids: list[str],
        filter: str | None = None,
        order_by: list[str] | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
        include_deleted: bool = False,
    ) -> Page:
        return self.search.search_runs(experiment_ids, filter, order_by, max_results, page_token, include_deleted)

    def record_runs(self, records: Sequence[RunRecord]) -> list[str]:
        return self.records.record_runs(records)

    # -- logged data ------------------------------------------------------------------------

    def log_batch(self, batch: LogBatch, *, allow_finished: bool = False) -> None:
        check_batch(batch, self.limits)
        self.data.log_batch(batch, allow_finished=allow_finished)

    def get_metric_history(
        self,
        run_id: str,
        key: str,
        max_points: int | None = None,
        page_token: str | None = None,
        max_results: int | None = None,
    ) -> Page:
        return self.data.get_metric_history(run_id, key, max_points, page_token, max_results)

    # -- artifacts ----------------------------------------------------------------------------

    def log_artifact(self, run_id: str, path: str, source: str | os.PathLike[str] | BinaryIO) -> ArtifactInfo:
        return self.run_artifacts.log_artifact(run_id, path, source)

    def list_artifacts(self, run_id: str, prefix: str = "") -> list[ArtifactInfo]:
        return self.run_artifacts.list_artifacts(run_id, prefix)

    def open_artifact(self, run_id: str, path: str) -> Iterator[bytes]:
        return self.run_artifacts.open_artifact(run_id, path)

    def download_artifact(self, run_id: str, path: str, dest: str | os.PathLike[str]) -> Path:
        return self.run_artifacts.download_artifact(run_id, path, dest)

    def delete_artifact(self, run_id: str, path: str) -> None:
        self.run_artifacts.delete_artifact(run_id, path)


def _users(tags: Iterable[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The tags a value limit applies to: not Shipyard's own ``shipyard.*`` experiment tags,
    which hold a pipeline's definition and cache index (a long pipeline's batch of cache
    entries is over 8,000 characters)."""
    return [(key, value) for key, value in tags if not key.startswith("shipyard.")]
