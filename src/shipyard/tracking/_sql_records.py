"""Bulk run records on the metadata database: the ``record_runs`` half of SqlTrackingStore.

One call, one transaction, whatever the number of runs: the artifact bytes go to
the artifact store first (so no path is ever visible without its object), then
every row — runs, params, tags, metrics, artifact paths and parent lineage — is
written by one ``executemany`` per table. Any refusal (an unknown experiment or
parent, a finished run, a param that clashes) rolls the whole batch back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shipyard.errors import Conflict, NotFound
from shipyard.lineage import Edge, Node
from shipyard.store import Database, LineageStore, upsert
from shipyard.store import schema as t
from shipyard.store.artifacts import ArtifactStore
from shipyard.tracking._entities import RunStatus, ValueLimits, current_user, default_run_name, now_ms
from shipyard.tracking._records import RunRecord, check_records
from shipyard.tracking._sql_experiments import experiment_int
from shipyard.tracking._sql_run_data import SqlRunData

__all__ = ["SqlRunRecords"]


def _insert(conn: Connection, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]],
            on_conflict: str = "") -> None:
    """A driver-level ``executemany`` of plain tuples: about 4x cheaper than Core's dict per row."""
    if not rows:
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    names = ", ".join(f'"{c}"' for c in columns)  # quoted: "user" is reserved in PostgreSQL
    conn.exec_driver_sql(
        f"INSERT INTO {table} ({names}) VALUES ({', '.join([mark] * len(columns))}) {on_conflict}", rows)


def _latest(points: list[tuple[str, str, float | None, int, int]]) -> list[tuple[str, str, int, int, float | None]]:
    """The newest point (highest step, then time) per run and key."""
    latest: dict[tuple[str, str], tuple[int, int, float | None]] = {}
    for r, k, v, ts, s in points:
        cur = latest.get((r, k))
        if cur is None or (s, ts) >= (cur[0], cur[1]):
            latest[(r, k)] = (s, ts, v)
    return [(r, k, s, ts, v) for (r, k), (s, ts, v) in latest.items()]


def _run_row(r: RunRecord, now: int, user: str | None) -> tuple[Any, ...]:
    """The ``runs`` row of a new run, its defaults filled: a run with no start time starts when it ends, or now."""
    return (r.id, experiment_int(r.experiment_id), r.name or default_run_name(r.id), r.status.value,
            r.start_time if r.start_time is not None else (r.end_time or now), r.end_time, r.parent_run_id,
            "active", r.user or user, json.dumps(r.environment) if r.environment else None)


def _insert_runs(conn: Connection, new: list[RunRecord], now: int, user: str | None) -> None:
    _insert(conn, "runs", ("id", "experiment_id", "name", "status", "start_time", "end_time",
                           "parent_run_id", "lifecycle_stage", "user", "environment"),
            [_run_row(r, now, user) for r in new])


def _update_runs(conn: Connection, old: list[RunRecord]) -> None:
    """Move stored runs to their record's status; the end time only when terminal, the name only when given."""
    for r in old:
        values: dict[str, Any] = {"status": r.status.value}
        if r.status.is_terminal:
            values["end_time"] = r.end_time
        if r.name:
            values["name"] = r.name
        conn.execute(t.runs.update().where(t.runs.c.id == r.id).values(**values))


def _write_tags(conn: Connection, new: list[RunRecord], old: list[RunRecord]) -> None:
    """Tags of new runs are inserted; those of stored runs replace any value under the same key."""
    _insert(conn, "run_tags", ("run_id", "key", "value"),
            [(r.id, k, v) for r in new for k, v in r.tags.items()])
    _insert(conn, "run_tags", ("run_id", "key", "value"),
            [(r.id, k, v) for r in old for k, v in r.tags.items()],
            'ON CONFLICT ("run_id", "key") DO UPDATE SET "value" = excluded."value"')


def _write_artifacts(conn: Connection, stored: dict[tuple[str, str], tuple[str, int]], fresh: set[str],
                     now: int) -> None:
    """Artifact paths of the ``fresh`` (new) runs are inserted; those of stored runs replace the same path."""
    _insert(conn, "artifacts", ("run_id", "path", "digest", "size", "created_at"),
            [(run_id, path, d, s, now) for (run_id, path), (d, s) in stored.items() if run_id in fresh])
    upsert(conn, t.artifacts, [{"run_id": run_id, "path": path, "digest": d, "size": s, "created_at": now}
                               for (run_id, path), (d, s) in stored.items() if run_id not in fresh],
           keys=["run_id", "path"], update=["digest", "size", "created_at"])


class SqlRunRecords:
    """The ``record_runs`` part of :class:`~shipyard.tracking._sql_store.SqlTrackingStore`; runs that
    exist already get their params and points through ``data``, as a logged batch would."""

    def __init__(self, db: Database, artifacts: ArtifactStore, data: SqlRunData,
                 limits: ValueLimits | None = None) -> None:
        self.db = db
        self.artifacts = artifacts
        self.data = data
        self.limits = limits or ValueLimits()

    def record_runs(self, records: Sequence[RunRecord]) -> list[str]:
        """Write whole runs in one transaction; return their ids (see :class:`RunRecord`).

        Bad input raises :class:`InvalidInput` naming the field before anything is
        written; an unknown experiment or parent raises :class:`NotFound`, a record
        for a finished run or one of another experiment, or a param clashing with a
        stored value, raises :class:`Conflict`; in every case nothing is written.
        """
        now = now_ms()
        records = check_records(records, now, self.limits)
        if not records:
            return []
        stored = self._store_objects(records)
        ids = [r.id for r in records]
        user = current_user()
        with self.db.write() as conn:
            existing = self._check(conn, records, ids)
            new = [r for r in records if r.id not in existing]
            old = [r for r in records if r.id in existing]
            _insert_runs(conn, new, now, user)
            _update_runs(conn, old)
            self._write_params(conn, new, old)
            _write_tags(conn, new, old)
            self._write_metrics(conn, new, old)
            _write_artifacts(conn, stored, {r.id for r in new}, now)
            LineageStore.add_in(conn, [Edge(Node("run", r.parent_run_id), "parent", Node("run", r.id))
                                       for r in new if r.parent_run_id], now)
        return ids

    def _store_objects(self, records: list[RunRecord]) -> dict[tuple[str, str], tuple[str, int]]:
        """Put artifact bytes in the artifact store (before any row names them) and size the linked objects.

        Returns ``(digest, size)`` by ``(run id, path)``; a link to an object the store lacks raises NotFound.
        """
        stored: dict[tuple[str, str], tuple[str, int]] = {}
        for rec in records:
            for path, data in rec.artifacts.items():
                ref = self.artifacts.put_bytes(data)
                stored[(rec.id, path)] = (ref.digest, ref.size)
            for path, digest in rec.links.items():
                stored[(rec.id, path)] = (digest, self.artifacts.size(digest))  # NotFound if absent
        return stored

    def _write_params(self, conn: Connection, new: list[RunRecord], old: list[RunRecord]) -> None:
        """Params of new runs are inserted; those of stored runs go through ``data``, which refuses a clash."""
        _insert(conn, "params", ("run_id", "key", "value"),
                [(r.id, k, v) for r in new for k, v in r.params.items()])
        refusals = self.data.write_params(conn, [(r.id, k, v) for r in old for k, v in r.params.items()])
        if refusals:
            raise refusals[0]

    def _write_metrics(self, conn: Connection, new: list[RunRecord], old: list[RunRecord]) -> None:
        """Points of new runs and their latest values are inserted; those of stored runs go through ``data``."""
        # A new run has no stored points: its latest values are known here, no upsert needed.
        points = [(r.id, m.key, None if m.value != m.value else m.value, m.timestamp, m.step)
                  for r in new for m in r.metrics]
        _insert(conn, "metrics", ("run_id", "key", "value", "timestamp", "step"), points)
        _insert(conn, "latest_metrics", ("run_id", "key", "step", "timestamp", "value"), _latest(points))
        old_points = [(r.id, m.key, m.value, m.timestamp, m.step) for r in old for m in r.metrics]
        if old_points:
            self.data.write_metrics(conn, old_points)

    def _check(self, conn: Connection, records: list[RunRecord], ids: list[str]) -> dict[str, Any]:
        """Refuse what the database makes impossible; return the stored runs among ``ids``."""
        exp_ints = {experiment_int(r.experiment_id) for r in records}
        stages = dict(conn.execute(
            sa.select(t.experiments.c.id, t.experiments.c.lifecycle_stage).where(t.experiments.c.id.in_(exp_ints))
        ).all())
        existing = {row.id: row for row in conn.execute(
            sa.select(t.runs.c.id, t.runs.c.experiment_id, t.runs.c.status, t.runs.c.parent_run_id)
            .where(t.runs.c.id.in_(ids)))}
        for i, r in enumerate(records):
            exp = experiment_int(r.experiment_id)
            if exp not in stages:
                raise NotFound(f"runs[{i}]: experiment {r.experiment_id!r} not found", resource="experiment",
                               experiment_id=r.experiment_id)
            row = existing.get(r.id)
            if row is None:
                if stages[exp] != "active":
                    raise Conflict(f"runs[{i}]: experiment {r.experiment_id!r} is deleted",
                                   experiment_id=r.experiment_id)
                continue
            if row.experiment_id != exp:
                raise Conflict(f"runs[{i}]: run {r.id!r} belongs to experiment {row.experiment_id}, "
                               f"not {r.experiment_id}", run_id=r.id)
            if RunStatus(row.status).is_terminal:
                raise Conflict(f"runs[{i}]: run {r.id!r} is {row.status}; a finished run accepts no more data",
                               run_id=r.id)
            if r.parent_run_id is not None and r.parent_run_id != row.parent_run_id:
                raise Conflict(f"runs[{i}]: run {r.id!r} has parent {row.parent_run_id!r}, not {r.parent_run_id!r}",
                               run_id=r.id)
        parents = {r.parent_run_id for r in records if r.parent_run_id} - set(ids)
        if parents:
            found = {p for (p,) in conn.execute(sa.select(t.runs.c.id).where(t.runs.c.id.in_(parents)))}
            for missing in sorted(parents - found):
                raise NotFound(f"parent run {missing!r} not found", resource="run", run_id=missing)
        return existing
