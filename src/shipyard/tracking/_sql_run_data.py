"""Logged data on the metadata database: params, tags and metric points, written in batches.

Writes of logged data arrive in batches (see :mod:`shipyard.tracking._writer`), so a
batch of thousands of points costs one transaction, not thousands.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shipyard.errors import Conflict, InvalidInput, NotFound, ShipyardError
from shipyard.store import Database, insert_ignore, nan_to_none, none_to_nan, upsert
from shipyard.store import schema as t
from shipyard.tracking import _search as search
from shipyard.tracking._entities import LogBatch, Metric, Page, RunStatus, validate_run_id

__all__ = ["SqlRunData"]

# A downsampled curve of up to this many times the points asked for is read whole.
_READ_WHOLE = 8


class SqlRunData:
    """The logged-data part of :class:`~shipyard.tracking._sql_store.SqlTrackingStore`."""

    def __init__(self, db: Database) -> None:
        self.db = db

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
                refusals.extend(self.write_params(conn, [p for p in batch.params if p[0] in open_runs]))
            if batch.tags:
                latest_tags = {(r, k): v for r, k, v in batch.tags if r in open_runs}
                upsert(conn, t.run_tags, [{"run_id": r, "key": k, "value": v} for (r, k), v in latest_tags.items()],
                       keys=["run_id", "key"], update=["value"])
            metrics = [m for m in batch.metrics if m[0] in open_runs]
            if metrics:
                self.write_metrics(conn, metrics)
        if refusals:
            raise refusals[0]

    def write_params(self, conn: Connection, params: list[tuple[str, str, str]]) -> list[ShipyardError]:
        """Insert new params in ``conn``'s transaction; return a Conflict for each that clashes
        with a stored value."""
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

    def write_metrics(self, conn: Connection, points: list[tuple[str, str, float, int, int]]) -> None:
        """Append points ``(run_id, key, value, timestamp, step)`` and move each latest value on."""
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
                sampled = _by_step(conn, where, max_points)
                if sampled is not None:
                    return Page([Metric(key, none_to_nan(v), s, ts) for s, ts, v in sampled])
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


def _by_step(conn: Connection, where: Any, max_points: int) -> list[Any] | None:
    """About ``max_points`` evenly spaced points, first and last included, or None when the
    curve has no more points than that, or too few distinct steps to spread them over (the
    caller then strides through the rows in SQL).

    A curve of up to a few times ``max_points`` is read whole and strided here (cheaper than
    ranking it in SQL); a longer one is sampled at evenly spaced steps, each one seek in the
    (run, key, step) index, so a 1,000,000-point curve is answered in milliseconds.
    """
    m = t.metrics
    points = sa.select(m.c.step, m.c.timestamp, m.c.value).where(where).order_by(m.c.step, m.c.timestamp)
    rows = conn.execute(points.limit(_READ_WHOLE * max_points + 1)).all()
    if len(rows) <= max_points:
        return None
    if len(rows) <= _READ_WHOLE * max_points:
        stride = -(-len(rows) // max_points)
        return list(rows[::stride]) + ([rows[-1]] if (len(rows) - 1) % stride else [])
    low = conn.execute(sa.select(sa.func.min(m.c.step)).where(where)).scalar_one()
    high = conn.execute(sa.select(sa.func.max(m.c.step)).where(where)).scalar_one()
    if high - low + 1 < max_points:
        return None
    start = sa.select(sa.cast(sa.literal(0), sa.BigInteger).label("i")).cte("targets", recursive=True)
    targets = start.union_all(sa.select(start.c.i + 1).where(start.c.i < max_points - 1))
    target = sa.literal(low, sa.BigInteger) + sa.literal(high - low, sa.BigInteger) * targets.c.i / (max_points - 1)
    steps = sa.select(sa.select(sa.func.min(m.c.step)).where(where, m.c.step >= target).scalar_subquery())
    return list(conn.execute(points.where(m.c.step.in_(steps.select_from(targets)))).all())


def _newer_point(table: sa.Table, new: Any) -> Any:
    """A stored latest point is replaced only by one at a higher step, or a later time."""
    return sa.or_(new.step > table.c.step, sa.and_(new.step == table.c.step, new.timestamp >= table.c.timestamp))


def _param_conflict(run_id: str, key: str, stored: str, new: str) -> Conflict:
    return Conflict(
        f"param {key!r} of run {run_id!r} is already {stored!r}; params are immutable (tried {new!r})",
        run_id=run_id, key=key,
    )
