"""Runs on the metadata database: create, read (with their params, tags and latest metrics), update."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shipyard.errors import Conflict, InvalidInput, NotFound
from shipyard.lineage import Edge, Node
from shipyard.store import Database, LineageStore, none_to_nan
from shipyard.store import schema as t
from shipyard.tracking._entities import (
    Metric,
    Run,
    RunStatus,
    current_user,
    default_run_name,
    new_run_id,
    now_ms,
    validate_key,
    validate_run_id,
)
from shipyard.tracking._sql_experiments import LIFECYCLE_STAGES, experiment_int

__all__ = ["SqlRuns"]


class SqlRuns:
    """The run part of :class:`~shipyard.tracking._sql_store.SqlTrackingStore`."""

    def __init__(self, db: Database) -> None:
        self.db = db

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
        exp_int = experiment_int(experiment_id)
        run_id = validate_run_id(run_id) if run_id else new_run_id()
        if parent_run_id is not None:
            validate_run_id(parent_run_id)
        with self.db.write() as conn:
            exp = conn.execute(
                sa.select(t.experiments.c.lifecycle_stage).where(t.experiments.c.id == exp_int)
            ).first()
            if exp is None:
                raise NotFound(f"experiment {experiment_id!r} not found", resource="experiment",
                               experiment_id=str(experiment_id))
            if exp.lifecycle_stage != "active":
                raise Conflict(f"experiment {experiment_id!r} is deleted", experiment_id=str(experiment_id))
            if parent_run_id and not conn.execute(
                sa.select(t.runs.c.id).where(t.runs.c.id == parent_run_id)
            ).first():
                raise NotFound(f"parent run {parent_run_id!r} not found", resource="run", run_id=parent_run_id)
            conn.execute(
                t.runs.insert().values(
                    id=run_id, experiment_id=exp_int, name=name or default_run_name(run_id),
                    status=RunStatus.RUNNING.value, start_time=start_time or now_ms(),
                    parent_run_id=parent_run_id, lifecycle_stage="active",
                    user=user or current_user(),
                    environment=json.dumps(environment) if environment else None,
                )
            )
            if tags:
                conn.execute(
                    t.run_tags.insert(),
                    [{"run_id": run_id, "key": validate_key(k, "tag"), "value": str(v)} for k, v in tags.items()],
                )
            if parent_run_id:
                LineageStore.add_in(conn, [Edge(Node("run", parent_run_id), "parent", Node("run", run_id))],
                                    now_ms())
        return self.get_run(run_id)

    def get_run(self, run_id: str) -> Run:
        validate_run_id(run_id)
        with self.db.read() as conn:
            rows = conn.execute(sa.select(t.runs).where(t.runs.c.id == run_id)).all()
            if not rows:
                raise NotFound(f"run {run_id!r} not found", resource="run", run_id=run_id)
            return self.with_data(conn, rows, with_environment=True)[0]

    def with_data(self, conn: Connection, rows: Sequence[Any], with_environment: bool = False) -> list[Run]:
        """Runs from rows of the ``runs`` table, each with its params, tags and latest metrics."""
        ids = [r.id for r in rows]
        params: dict[str, dict[str, str]] = {i: {} for i in ids}
        tags: dict[str, dict[str, str]] = {i: {} for i in ids}
        metrics: dict[str, dict[str, Metric]] = {i: {} for i in ids}
        if ids:
            for run_id, key, value in conn.execute(
                sa.select(t.params.c.run_id, t.params.c.key, t.params.c.value).where(t.params.c.run_id.in_(ids))
            ):
                params[run_id][key] = value
            for run_id, key, value in conn.execute(
                sa.select(t.run_tags.c.run_id, t.run_tags.c.key, t.run_tags.c.value).where(
                    t.run_tags.c.run_id.in_(ids)
                )
            ):
                tags[run_id][key] = value
            lm = t.latest_metrics
            for run_id, key, step, ts, value in conn.execute(
                sa.select(lm.c.run_id, lm.c.key, lm.c.step, lm.c.timestamp, lm.c.value).where(lm.c.run_id.in_(ids))
            ):
                metrics[run_id][key] = Metric(key, none_to_nan(value), step, ts)
        return [
            Run(
                id=r.id, experiment_id=str(r.experiment_id), name=r.name, status=RunStatus(r.status),
                start_time=r.start_time, end_time=r.end_time, parent_run_id=r.parent_run_id,
                lifecycle_stage=r.lifecycle_stage, user=r.user, params=params[r.id], tags=tags[r.id],
                metrics=metrics[r.id],
                environment=json.loads(r.environment) if with_environment and r.environment else None,
            )
            for r in rows
        ]

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
        validate_run_id(run_id)
        values: dict[str, Any] = {}
        if status is not None:
            values["status"] = RunStatus(status).value
            if RunStatus(status).is_terminal:
                values["end_time"] = end_time or now_ms()
        elif end_time is not None:
            values["end_time"] = end_time
        if name is not None:
            values["name"] = name
        if lifecycle_stage is not None:
            if lifecycle_stage not in LIFECYCLE_STAGES:
                raise InvalidInput(f"lifecycle_stage must be one of {LIFECYCLE_STAGES}", field="lifecycle_stage")
            values["lifecycle_stage"] = lifecycle_stage
            # The first deletion starts the retention that ``shipyard gc`` counts; a restore clears it.
            deleted = lifecycle_stage == "deleted"
            values["deleted_at"] = sa.func.coalesce(t.runs.c.deleted_at, now_ms()) if deleted else None
        if environment is not None:
            values["environment"] = json.dumps(environment)
        with self.db.write() as conn:
            if values:
                updated = conn.execute(t.runs.update().where(t.runs.c.id == run_id).values(**values)).rowcount
            else:
                updated = len(conn.execute(sa.select(t.runs.c.id).where(t.runs.c.id == run_id)).all())
        if not updated:
            raise NotFound(f"run {run_id!r} not found", resource="run", run_id=run_id)
        return self.get_run(run_id)

    def delete_tag(self, run_id: str, key: str) -> None:
        validate_run_id(run_id)
        with self.db.write() as conn:
            deleted = conn.execute(
                t.run_tags.delete().where(t.run_tags.c.run_id == run_id, t.run_tags.c.key == key)
            ).rowcount
        if not deleted:
            raise NotFound(f"tag {key!r} not found on run {run_id!r}", resource="tag", run_id=run_id, key=key)
