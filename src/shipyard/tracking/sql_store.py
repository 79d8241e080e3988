"""Tracking on the metadata database (SQLite or PostgreSQL) and the artifact store.

Writes of logged data arrive in batches (see :mod:`shipyard.tracking.writer`), so a
batch of thousands of points costs one transaction, not thousands.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shipyard.errors import Conflict, InvalidInput, NotFound, ShipyardError
from shipyard.store import schema as t
from shipyard.store.artifacts import ArtifactStore
from shipyard.store.db import Database, insert_ignore, nan_to_none, none_to_nan, upsert
from shipyard.store.lineage import LineageStore
from shipyard.tracking import search
from shipyard.tracking.entities import (
    LogBatch,
    Metric,
    Page,
    Run,
    RunStatus,
    new_run_id,
    now_ms,
    validate_key,
    validate_run_id,
)
from shipyard.tracking.sql_artifacts import SqlRunArtifacts
from shipyard.tracking.sql_experiments import LIFECYCLE_STAGES, SqlExperiments, experiment_int
from shipyard.tracking.sql_records import SqlRunRecords
from shipyard.types import Edge, Node

__all__ = ["SqlTrackingStore"]

class SqlTrackingStore(SqlExperiments, SqlRunArtifacts, SqlRunRecords):
    """:class:`~shipyard.tracking.backend.TrackingStore` on a :class:`Database`."""

    def __init__(self, db: Database, artifacts: ArtifactStore) -> None:
        self.db = db
        self.artifacts = artifacts

    def close(self) -> None:
        self.db.dispose()

    # -- runs -----------------------------------------------------------------------

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
                    id=run_id, experiment_id=exp_int, name=name or _default_run_name(run_id),
                    status=RunStatus.RUNNING.value, start_time=start_time or now_ms(),
                    parent_run_id=parent_run_id, lifecycle_stage="active",
                    user=user or _current_user(),
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
            return self._runs_with_data(conn, rows, with_environment=True)[0]

    def _runs_with_data(self, conn: Connection, rows: Sequence[Any], with_environment: bool = False) -> list[Run]:
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
        with self.db.write() as conn:
            if values:
                updated = conn.execute(t.runs.update().where(t.runs.c.id == run_id).values(**values)).rowcount
            else:
                updated = len(conn.execute(sa.select(t.runs.c.id).where(t.runs.c.id == run_id)).all())
        if not updated:
            raise NotFound(f"run {run_id!r} not found", resource="run", run_id=run_id)
        return self.get_run(run_id)

    def log_batch(self, batch: LogBatch, *, allow_finished: bool = False) -> None:
        """Write a batch in one transaction.

        Entries for a run that does not exist or has finished (unless ``allow_finished``,
        which MLflow's API needs), and params that clash with a stored value, are
        refused; everything else in the batch is written, and then the first refusal is
        raised (:class:`NotFound` or :class:`Conflict`), so one bad entry never costs the
        good ones.
        """
        if not batch:
            return
        refusals: list[ShipyardError] = []
        with self.db.write() as conn:
            run_ids = sorted(batch.run_ids())
            found = dict(
                conn.execute(sa.select(t.runs.c.id, t.runs.c.status).where(t.runs.c.id.in_(run_ids))).all()
            )
            open_runs = set()
            for run_id in run_ids:
                if run_id not in found:
                    refusals.append(NotFound(f"run {run_id!r} not found", resource="run", run_id=run_id))
                elif RunStatus(found[run_id]).is_terminal and not allow_finished:
                    refusals.append(Conflict(
                        f"run {run_id!r} is {found[run_id]}; a finished run accepts no more data",
                        run_id=run_id,
                    ))
                else:
                    open_runs.add(run_id)
            if batch.params:
                refusals.extend(self._write_params(conn, [p for p in batch.params if p[0] in open_runs]))
            if batch.tags:
                latest_tags = {(r, k): v for r, k, v in batch.tags if r in open_runs}
                upsert(conn, t.run_tags, [{"run_id": r, "key": k, "value": v} for (r, k), v in latest_tags.items()],
                       keys=["run_id", "key"], update=["value"])
            metrics = [m for m in batch.metrics if m[0] in open_runs]
            if metrics:
                self._write_metrics(conn, metrics)
        if refusals:
            raise refusals[0]

    def _write_params(self, conn: Connection, params: list[tuple[str, str, str]]) -> list[ShipyardError]:
        """Insert new params; return a Conflict for each that clashes with a stored value."""
        wanted: dict[tuple[str, str], str] = {}
        for run_id, key, value in params:
            wanted.setdefault((run_id, key), value)
        refusals: list[ShipyardError] = [
            _param_conflict(r, k, wanted[(r, k)], v) for r, k, v in params if wanted[(r, k)] != v
        ]
        if not wanted:
            return refusals
        insert_ignore(conn, t.params, [{"run_id": r, "key": k, "value": v} for (r, k), v in wanted.items()])
        # What is stored now must equal what was asked: a value logged earlier (by
        # anyone) wins, and the clash is reported.
        stored = conn.execute(
            sa.select(t.params.c.run_id, t.params.c.key, t.params.c.value).where(
                t.params.c.run_id.in_({r for r, _ in wanted}), t.params.c.key.in_({k for _, k in wanted})
            )
        )
        for run_id, key, value in stored:
            new = wanted.get((run_id, key))
            if new is not None and new != value:
                refusals.append(_param_conflict(run_id, key, value, new))
        return refusals

    def _write_metrics(self, conn: Connection, points: list[tuple[str, str, float, int, int]]) -> None:
        # The hot path of every flush: a driver-level executemany of plain tuples is
        # about 4x faster than SQLAlchemy Core building a parameter dict per row.
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        conn.exec_driver_sql(
            f"INSERT INTO metrics (run_id, key, value, timestamp, step) VALUES ({', '.join([mark] * 5)})",
            [(r, k, None if v != v else v, ts, s) for r, k, v, ts, s in points],
        )
        latest: dict[tuple[str, str], tuple[int, int, float]] = {}
        for r, k, v, ts, s in points:
            cur = latest.get((r, k))
            if cur is None or (s, ts) >= (cur[0], cur[1]):
                latest[(r, k)] = (s, ts, v)
        upsert(
            conn, t.latest_metrics,
            [{"run_id": r, "key": k, "step": s, "timestamp": ts, "value": nan_to_none(v)}
             for (r, k), (s, ts, v) in latest.items()],
            keys=["run_id", "key"], update=["step", "timestamp", "value"],
            where=_newer_point,
        )

    def delete_tag(self, run_id: str, key: str) -> None:
        validate_run_id(run_id)
        with self.db.write() as conn:
            deleted = conn.execute(
                t.run_tags.delete().where(t.run_tags.c.run_id == run_id, t.run_tags.c.key == key)
            ).rowcount
        if not deleted:
            raise NotFound(f"tag {key!r} not found on run {run_id!r}", resource="tag", run_id=run_id, key=key)

    def search_runs(
        self,
        experiment_ids: list[str],
        filter: str | None = None,
        order_by: list[str] | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
        include_deleted: bool = False,
    ) -> Page:
        if not isinstance(max_results, int) or not 1 <= max_results <= 50_000:
            raise InvalidInput(f"max_results must be between 1 and 50000, got {max_results!r}",
                               field="max_results")
        clauses = search.parse_filter(filter)
        order = search.parse_order_by(order_by)
        offset = search.decode_page_token(page_token)
        query = search.build_search_query(
            [experiment_int(e) for e in experiment_ids], clauses, order,
            lifecycle_stage=None if include_deleted else "active",
        )
        with self.db.read() as conn:
            rows = conn.execute(query.limit(max_results + 1).offset(offset)).all()
            more = len(rows) > max_results
            runs = self._runs_with_data(conn, rows[:max_results])
        token = search.encode_page_token(offset + max_results) if more else None
        return Page(runs, token)

    def get_metric_history(
        self,
        run_id: str,
        key: str,
        max_points: int | None = None,
        page_token: str | None = None,
        max_results: int | None = None,
    ) -> Page:
        """Points of one metric ordered by step then time.

        ``max_points`` downsamples a long curve to about that many evenly spaced points,
        always keeping the first and the last; it is done in SQL so a 100,000-step
        curve never leaves the database whole.
        """
        validate_run_id(run_id)
        m = t.metrics
        where = sa.and_(m.c.run_id == run_id, m.c.key == key)
        with self.db.read() as conn:
            if not conn.execute(sa.select(t.runs.c.id).where(t.runs.c.id == run_id)).first():
                raise NotFound(f"run {run_id!r} not found", resource="run", run_id=run_id)
            if max_points is not None:
                if max_points < 2:
                    raise InvalidInput("max_points must be at least 2", field="max_points")
                total = conn.execute(sa.select(sa.func.count()).where(where)).scalar_one()
                if total > max_points:
                    stride = -(-total // max_points)
                    rn = sa.func.row_number().over(order_by=(m.c.step, m.c.timestamp)).label("rn")
                    inner = sa.select(m.c.step, m.c.timestamp, m.c.value, rn).where(where).subquery()
                    rows = conn.execute(
                        sa.select(inner.c.step, inner.c.timestamp, inner.c.value)
                        .where(sa.or_((inner.c.rn - 1) % stride == 0, inner.c.rn == total))
                        .order_by(inner.c.rn)
                    ).all()
                    return Page([Metric(key, none_to_nan(v), s, ts) for s, ts, v in rows])
            offset = search.decode_page_token(page_token)
            query = sa.select(m.c.step, m.c.timestamp, m.c.value).where(where).order_by(m.c.step, m.c.timestamp)
            if max_results is not None:
                query = query.limit(max_results + 1).offset(offset)
            rows = conn.execute(query).all()
        token = None
        if max_results is not None and len(rows) > max_results:
            rows = rows[:max_results]
            token = search.encode_page_token(offset + max_results)
        return Page([Metric(key, none_to_nan(v), s, ts) for s, ts, v in rows], token)


def _newer_point(table: sa.Table, new: Any) -> Any:
    """A stored latest point is replaced only by one at a higher step, or a later time."""
    return sa.or_(new.step > table.c.step, sa.and_(new.step == table.c.step, new.timestamp >= table.c.timestamp))


def _param_conflict(run_id: str, key: str, stored: str, new: str) -> Conflict:
    return Conflict(
        f"param {key!r} of run {run_id!r} is already {stored!r}; params are immutable (tried {new!r})",
        run_id=run_id, key=key,
    )


def _default_run_name(run_id: str) -> str:
    return f"run-{run_id[:8]}"


def _current_user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None
