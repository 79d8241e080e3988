"""Monitors, window results and batch labels on the metadata database.

Points are keyed by (monitor, series, canonical labels, window_start), so writing a
window again (late labels recomputing its performance) replaces its points instead of
adding rows. Window profiles are stored as zlib-compressed JSON: an hourly window of 25
columns is a few kilobytes, and a month of them is read back to merge in one query.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import orjson
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shipyard.alerting._series import Point, labels_key, parse_labels_key
from shipyard.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from shipyard.monitoring._entities import Monitor, MonitorWindow
from shipyard.monitoring._labels import empty_labels, encode_labels, normalize_labels
from shipyard.store import Database, insert_ignore, upsert
from shipyard.store import schema as t
from shipyard.timeutil import now_ms

__all__ = ["PointKey", "SqlMonitorStore", "point_key"]

_IN_CHUNK = 900  # SQLite allows 999 bound parameters per statement
_WRITE_CHUNK = 5000
_SCAN_CHUNK = 1000  # rows read at a time while filtering a page of points by labels


def _pack(data: dict[str, Any] | None) -> bytes | None:
    return None if data is None else zlib.compress(orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY), 1)


def _unpack(blob: bytes | None) -> dict[str, Any] | None:
    return None if blob is None else orjson.loads(zlib.decompress(blob))


def _monitor(row: Any) -> Monitor:
    return Monitor(name=row.name, model=row.model, window_s=row.window_s, reference=row.reference, task=row.task,
                   label_column=row.label_column, options=orjson.loads(row.options) if row.options else {},
                   cursor=row.cursor, label_watermark=row.label_watermark, created_at=row.created_at,
                   updated_at=row.updated_at)


def _point_row(p: Point) -> dict[str, Any]:
    if not isinstance(p, Point):
        raise InvalidInput(f"expected a Point, got {type(p).__name__}", field="points")
    if p.window_end <= p.window_start:
        raise InvalidInput(f"point {p.series!r} of {p.monitor!r}: window_end must follow window_start",
                           field="window_end")
    value = None if p.value is None or p.value != p.value else float(p.value)
    return {"monitor": p.monitor, "series": p.series, "labels": labels_key(p.labels),
            "window_start": int(p.window_start), "window_end": int(p.window_end), "value": value}


def _point(row: Any) -> Point:
    return Point(row.monitor, row.series, row.window_start, row.window_end, row.value, parse_labels_key(row.labels))


def _matches(labels: Mapping[str, str], wanted: Mapping[str, str] | None) -> bool:
    return not wanted or all(labels.get(k) == str(v) for k, v in wanted.items())


PointKey = tuple[int, str, str, str, int]


def point_key(point: Point) -> PointKey:
    """The sort key of a point in :meth:`SqlMonitorStore.query_points`: window end, series,
    labels (canonical text), monitor, window start."""
    return point.window_end, point.series, labels_key(point.labels), point.monitor, point.window_start


class SqlMonitorStore:
    """:class:`~shipyard.monitoring._backend.MonitorStore` over a :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def close(self) -> None:
        """Nothing of its own to release: the database belongs to the tracking store too."""

    # -- monitors -------------------------------------------------------------------------

    def create_monitor(self, monitor: Monitor) -> Monitor:
        now = now_ms()
        cursor = monitor.cursor if monitor.cursor is not None else monitor.first_window_start(now)
        row = {"name": monitor.name, "model": monitor.model, "reference": monitor.reference,
               "window_s": monitor.window_s, "task": monitor.task, "label_column": monitor.label_column,
               "options": orjson.dumps(dict(monitor.options)).decode() if monitor.options else None,
               "cursor": cursor, "label_watermark": monitor.label_watermark, "created_at": now, "updated_at": now}
        with self.db.write() as conn:
            if conn.execute(sa.select(t.monitors.c.name).where(t.monitors.c.name == monitor.name)).first():
                raise AlreadyExists(f"monitor {monitor.name!r} already exists", resource="monitor",
                                    name=monitor.name)
            conn.execute(t.monitors.insert().values(**row))
        return self.get_monitor(monitor.name)

    def get_monitor(self, name: str) -> Monitor:
        with self.db.read() as conn:
            return _monitor(self._row(conn, name))

    def _row(self, conn: Connection, name: str, lock: bool = False) -> Any:
        query = sa.select(t.monitors).where(t.monitors.c.name == name)
        row = conn.execute(query.with_for_update() if lock else query).first()
        if row is None:
            raise NotFound(f"no monitor named {name!r}", resource="monitor", name=name)
        return row

    def list_monitors(self) -> list[Monitor]:
        with self.db.read() as conn:
            return [_monitor(r) for r in conn.execute(sa.select(t.monitors).order_by(t.monitors.c.name))]

    def delete_monitor(self, name: str) -> None:
        with self.db.write() as conn:
            self._row(conn, name)
            conn.execute(t.monitor_points.delete().where(t.monitor_points.c.monitor == name))
            conn.execute(t.monitor_windows.delete().where(t.monitor_windows.c.monitor == name))
            conn.execute(t.monitors.delete().where(t.monitors.c.name == name))

    def commit(self, name: str, *, expect: tuple[int | None, int | None], windows: Sequence[MonitorWindow],
               points: Sequence[Point], cursor: int | None, label_watermark: int | None) -> Monitor:
        point_rows = [_point_row(p) for p in points]
        if any(p["monitor"] != name for p in point_rows) or any(w.monitor != name for w in windows):
            raise InvalidInput(f"every window and point committed to {name!r} must belong to it", field="monitor")
        if any(w.status == "partial" for w in windows):  # a window still open is recomputed, never kept
            raise InvalidInput("a partial window is never stored: commit closed windows only", field="windows")
        now = now_ms()
        window_rows = [{"monitor": name, "window_start": w.window_start, "window_end": w.window_end,
                        "rows": w.rows, "version": w.version, "status": w.status, "detail": w.detail,
                        "profile": _pack(w.profile), "prediction_profile": _pack(w.prediction_profile),
                        "computed_at": w.computed_at or now} for w in windows]
        with self.db.write() as conn:
            row = self._row(conn, name, lock=True)
            if (row.cursor, row.label_watermark) != tuple(expect):
                raise Conflict(f"monitor {name!r} moved on while this run computed (another runner?)",
                               resource="monitor", name=name)
            upsert(conn, t.monitor_windows, window_rows, ("monitor", "window_start"),
                   ("window_end", "rows", "version", "status", "detail", "profile", "prediction_profile",
                    "computed_at"))
            self._write_points(conn, point_rows)
            conn.execute(t.monitors.update().where(t.monitors.c.name == name).values(
                cursor=cursor, label_watermark=label_watermark, updated_at=now))
        return self.get_monitor(name)

    def list_windows(self, name: str, *, since_ms: int | None = None, until_ms: int | None = None,
                     profiles: bool = False, after: int | None = None, limit: int | None = None) -> list[MonitorWindow]:
        """With ``limit``, a page of at most that many windows: those starting after ``after``."""
        w = t.monitor_windows
        columns = [c for c in w.c if profiles or c.name not in ("profile", "prediction_profile")]
        query = sa.select(*columns).where(w.c.monitor == name)
        if since_ms is not None:
            query = query.where(w.c.window_end > int(since_ms))
        if until_ms is not None:
            query = query.where(w.c.window_end <= int(until_ms))
        if after is not None:
            query = query.where(w.c.window_start > int(after))
        with self.db.read() as conn:
            self._row(conn, name)
            rows = conn.execute(query.order_by(w.c.window_start).limit(limit)).all()
        return [MonitorWindow(r.monitor, r.window_start, r.window_end, r.rows, r.status, r.version, r.detail,
                              _unpack(r.profile) if profiles else None,
                              _unpack(r.prediction_profile) if profiles else None, r.computed_at) for r in rows]

    # -- series ---------------------------------------------------------------------------

    def write_points(self, points: Sequence[Point]) -> None:
        rows = [_point_row(p) for p in points]
        with self.db.write() as conn:
            self._write_points(conn, rows)

    @staticmethod
    def _write_points(conn: Connection, rows: list[dict[str, Any]]) -> None:
        for start in range(0, len(rows), _WRITE_CHUNK):
            upsert(conn, t.monitor_points, rows[start:start + _WRITE_CHUNK],
                   ("monitor", "series", "labels", "window_start"), ("window_end", "value"))

    def query_points(self, monitor: str | None = None, series: str | None = None, *,
                     since_ms: int | None = None, until_ms: int | None = None,
                     labels: Mapping[str, str] | None = None, after: PointKey | None = None,
                     limit: int | None = None) -> list[Point]:
        """With ``limit``, a page of at most that many points: those whose :func:`point_key`
        follows ``after`` (the order is that of the keys)."""
        p = t.monitor_points
        query = sa.select(p)
        if monitor is not None:
            query = query.where(p.c.monitor == monitor)
        if series is not None:
            query = query.where(p.c.series == series)
        if since_ms is not None:
            query = query.where(p.c.window_end > int(since_ms))
        if until_ms is not None:
            query = query.where(p.c.window_end <= int(until_ms))
        key = (p.c.window_end, p.c.series, p.c.labels, p.c.monitor, p.c.window_start)
        query = query.order_by(*key)
        found: list[Point] = []
        # The labels filter applies to the decoded rows, so a page may need several reads;
        # they are large enough that looking one point past a page stays one read or so.
        chunk = None if limit is None else (max(limit, _SCAN_CHUNK) if labels else limit)
        with self.db.read() as conn:
            while limit is None or len(found) < limit:
                step = query if after is None else query.where(sa.tuple_(*key) > sa.tuple_(*after))
                rows = conn.execute(step.limit(chunk)).all()
                points = [_point(r) for r in rows]
                found += [pt for pt in points if _matches(pt.labels, labels)] if labels else points
                if chunk is None or len(rows) < chunk:
                    break
                after = (rows[-1].window_end, rows[-1].series, rows[-1].labels, rows[-1].monitor,
                         rows[-1].window_start)
        return found[:limit]

    def latest_points(self, monitor: str | None = None) -> list[Point]:
        p = t.monitor_points
        latest = sa.select(p.c.monitor, p.c.series, p.c.labels,
                           sa.func.max(p.c.window_start).label("start")).group_by(p.c.monitor, p.c.series, p.c.labels)
        if monitor is not None:
            latest = latest.where(p.c.monitor == monitor)
        sub = latest.subquery()
        query = sa.select(p).join(sub, sa.and_(p.c.monitor == sub.c.monitor, p.c.series == sub.c.series,
                                               p.c.labels == sub.c.labels, p.c.window_start == sub.c.start))
        with self.db.read() as conn:
            rows = conn.execute(query.order_by(p.c.monitor, p.c.series, p.c.labels)).all()
        return [_point(r) for r in rows]

    # -- labels ---------------------------------------------------------------------------

    def put_labels(self, labels: pd.DataFrame) -> int:
        frame = normalize_labels(labels)
        now = now_ms()
        texts = encode_labels(frame["label"].tolist())
        rows = list(zip(frame["model"].tolist(), frame["request_id"].tolist(), frame["row"].tolist(), texts,
                        [now] * len(texts), strict=True))
        with self.db.write() as conn:
            # The driver's executemany directly: building SQLAlchemy parameters per row costs
            # more than the insert itself for the hundreds of thousands a batch upload holds.
            mark = "?" if conn.dialect.name == "sqlite" else "%s"
            sql = (f'INSERT INTO monitor_labels (model, request_id, "row", label, arrived_at) '
                   f"VALUES ({', '.join([mark] * 5)}) ON CONFLICT (model, request_id, \"row\") "
                   f"DO UPDATE SET label = excluded.label, arrived_at = excluded.arrived_at")
            for start in range(0, len(rows), _WRITE_CHUNK):
                conn.exec_driver_sql(sql, rows[start:start + _WRITE_CHUNK])
        return len(rows)

    def get_labels(self, model: str, *, arrived_after: int | None = None,
                   request_ids: Sequence[str] | None = None) -> pd.DataFrame:
        lab = t.monitor_labels
        base = sa.select(lab.c.model, lab.c.request_id, lab.c.row, lab.c.label, lab.c.arrived_at).where(
            lab.c.model.in_([model, ""]))
        if arrived_after is not None:
            base = base.where(lab.c.arrived_at > int(arrived_after))
        rows: list[Any] = []
        with self.db.read() as conn:
            # Plain driver tuples: SQLAlchemy's Row objects cost more than the query for 100,000 labels.
            if request_ids is None:
                rows = list(conn.execute(base).cursor.fetchall())
            else:
                wanted = sorted(set(request_ids))
                for start in range(0, len(wanted), _IN_CHUNK):
                    query = base.where(lab.c.request_id.in_(wanted[start:start + _IN_CHUNK]))
                    rows += conn.execute(query).cursor.fetchall()
        if not rows:
            return empty_labels()
        models, ids, row_numbers, texts, arrived = zip(*rows, strict=True)
        # One JSON parse for every label rather than one call per row.
        values = orjson.loads("[" + ",".join("null" if v is None else v for v in texts) + "]")
        return pd.DataFrame({
            "model": pd.Series(models, dtype=object),
            "request_id": pd.Series(ids, dtype=object),
            "row": np.asarray(row_numbers, dtype=np.int64),
            "label": pd.Series(values, dtype=object),
            "arrived_at": np.asarray(arrived, dtype=np.int64),
        })

    # -- segment index --------------------------------------------------------------------

    def segment_spans(self, digests: Sequence[str]) -> dict[str, tuple[int, int, int]]:
        seg = t.monitor_segments
        wanted = sorted(set(digests))
        out: dict[str, tuple[int, int, int]] = {}
        with self.db.read() as conn:
            for start in range(0, len(wanted), _IN_CHUNK):
                query = sa.select(seg).where(seg.c.digest.in_(wanted[start:start + _IN_CHUNK]))
                out.update({r.digest: (r.first_ms, r.last_ms, r.rows) for r in conn.execute(query)})
        return out

    def record_segment_spans(self, spans: Mapping[str, tuple[int, int, int]]) -> None:
        rows = [{"digest": d, "first_ms": int(a), "last_ms": int(b), "rows": int(n)} for d, (a, b, n) in spans.items()]
        if rows:
            with self.db.write() as conn:
                insert_ignore(conn, t.monitor_segments, rows)
