"""Experiments on the metadata database: the experiment part of SqlTrackingStore."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shipyard.errors import AlreadyExists, InvalidInput, NotFound
from shipyard.store import Database, upsert
from shipyard.store import schema as t
from shipyard.tracking._entities import Experiment, now_ms, validate_key

__all__ = ["LIFECYCLE_STAGES", "SqlExperiments", "experiment_int"]

LIFECYCLE_STAGES = ("active", "deleted")


def experiment_int(experiment_id: str | int) -> int:
    """The database key of an experiment id given as a string of digits."""
    try:
        return int(experiment_id)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"experiment_id must be a string of digits, got {experiment_id!r}", field="experiment_id"
        ) from None


class SqlExperiments:
    """The experiment part of :class:`~shipyard.tracking._sql_store.SqlTrackingStore`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create_experiment(
        self, name: str, tags: dict[str, str] | None = None, artifact_location: str | None = None
    ) -> Experiment:
        if not isinstance(name, str) or not name.strip() or len(name) > 256:
            raise InvalidInput(f"experiment name must be 1-256 characters, got {name!r}", field="name")
        now = now_ms()
        with self.db.write() as conn:
            if conn.execute(sa.select(t.experiments.c.id).where(t.experiments.c.name == name)).first():
                raise AlreadyExists(f"experiment {name!r} already exists", resource="experiment", name=name)
            exp_id = conn.execute(
                t.experiments.insert().values(
                    name=name, artifact_location=artifact_location, lifecycle_stage="active",
                    created_at=now, updated_at=now,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            if tags:
                conn.execute(
                    t.experiment_tags.insert(),
                    [{"experiment_id": exp_id, "key": validate_key(k, "tag"), "value": str(v)}
                     for k, v in tags.items()],
                )
        return self.get_experiment(str(exp_id))

    def _experiment_from_row(self, conn: Connection, row: Any) -> Experiment:
        tags = dict(
            conn.execute(
                sa.select(t.experiment_tags.c.key, t.experiment_tags.c.value).where(
                    t.experiment_tags.c.experiment_id == row.id
                )
            ).all()
        )
        return Experiment(
            id=str(row.id), name=row.name, artifact_location=row.artifact_location,
            lifecycle_stage=row.lifecycle_stage, created_at=row.created_at,
            updated_at=row.updated_at, tags=tags,
        )

    def get_experiment(self, experiment_id: str) -> Experiment:
        exp_int = experiment_int(experiment_id)
        with self.db.read() as conn:
            row = conn.execute(sa.select(t.experiments).where(t.experiments.c.id == exp_int)).first()
            if row is None:
                raise NotFound(f"experiment {experiment_id!r} not found", resource="experiment",
                               experiment_id=str(experiment_id))
            return self._experiment_from_row(conn, row)

    def get_experiment_by_name(self, name: str) -> Experiment:
        with self.db.read() as conn:
            row = conn.execute(sa.select(t.experiments).where(t.experiments.c.name == name)).first()
            if row is None:
                raise NotFound(f"experiment {name!r} not found", resource="experiment", name=name)
            return self._experiment_from_row(conn, row)

    def list_experiments(self, include_deleted: bool = False) -> list[Experiment]:
        query = sa.select(t.experiments).order_by(t.experiments.c.id)
        if not include_deleted:
            query = query.where(t.experiments.c.lifecycle_stage == "active")
        with self.db.read() as conn:
            return [self._experiment_from_row(conn, row) for row in conn.execute(query).all()]

    def update_experiment(
        self, experiment_id: str, *, name: str | None = None, lifecycle_stage: str | None = None
    ) -> Experiment:
        exp_int = experiment_int(experiment_id)
        values: dict[str, Any] = {"updated_at": now_ms()}
        if name is not None:
            values["name"] = name
        if lifecycle_stage is not None:
            if lifecycle_stage not in LIFECYCLE_STAGES:
                raise InvalidInput(f"lifecycle_stage must be one of {LIFECYCLE_STAGES}", field="lifecycle_stage")
            values["lifecycle_stage"] = lifecycle_stage
        with self.db.write() as conn:
            if name is not None and conn.execute(
                sa.select(t.experiments.c.id).where(t.experiments.c.name == name, t.experiments.c.id != exp_int)
            ).first():
                raise AlreadyExists(f"experiment {name!r} already exists", resource="experiment", name=name)
            updated = conn.execute(
                t.experiments.update().where(t.experiments.c.id == exp_int).values(**values)
            ).rowcount
        if not updated:
            raise NotFound(f"experiment {experiment_id!r} not found", resource="experiment",
                           experiment_id=str(experiment_id))
        return self.get_experiment(str(exp_int))

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        exp_int = experiment_int(experiment_id)
        with self.db.write() as conn:
            # An existence check only: loading the experiment would read all its tags.
            if conn.execute(sa.select(t.experiments.c.id).where(t.experiments.c.id == exp_int)).first() is None:
                raise NotFound(f"experiment {experiment_id!r} not found", resource="experiment",
                               experiment_id=str(experiment_id))
            upsert(conn, t.experiment_tags,
                   [{"experiment_id": exp_int, "key": validate_key(key, "tag"), "value": str(value)}],
                   keys=["experiment_id", "key"], update=["value"])
