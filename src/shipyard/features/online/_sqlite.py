"""The default online store: one SQLite file (``<SHIPYARD_HOME>/online.db``).

Reads are one ``SELECT … WHERE view = ? AND key IN (…)`` on a connection each
thread keeps open (the ``sqlite3`` module caches the prepared statement per
text, and the text per key count is built once); values are one JSON object per
row. Writes are one ``BEGIN IMMEDIATE`` transaction per batch with an upsert that
keeps the newer row, so concurrent writers queue instead of failing.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.errors import StorageError
from shipyard.features.online._backend import OnlineRows, encode_payloads, pick

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["SqliteOnlineStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS online_values (
    view TEXT NOT NULL, key TEXT NOT NULL, event_ts INTEGER NOT NULL, payload BLOB NOT NULL,
    PRIMARY KEY (view, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS online_views (view TEXT PRIMARY KEY, newest_ts INTEGER NOT NULL);
"""
_UPSERT = ("INSERT INTO online_values (view, key, event_ts, payload) VALUES (?, ?, ?, ?) "
           "ON CONFLICT (view, key) DO UPDATE SET event_ts = excluded.event_ts, payload = excluded.payload "
           "WHERE excluded.event_ts >= online_values.event_ts")
_NEWEST = ("INSERT INTO online_views (view, newest_ts) VALUES (?, ?) ON CONFLICT (view) DO UPDATE "
           "SET newest_ts = max(newest_ts, excluded.newest_ts)")
_BUSY_TIMEOUT_S = 60.0
_MAX_KEYS = 30_000  # below SQLite's limit of 32,766 bound parameters per statement


class SqliteOnlineStore:
    """:class:`~shipyard.features.online.OnlineStore` in a SQLite file.

    >>> store = SqliteOnlineStore("/tmp/sy-doc/online.db")   # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._select_sql: dict[int, str] = {}
        self._ready = False
        self._opened: list[sqlite3.Connection] = []  # every thread's connection, closed by close()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SqliteOnlineStore({str(self.path)!r})"

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None,
                                       check_same_thread=False, cached_statements=256)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                if not self._ready:
                    conn.executescript(_SCHEMA)
                    self._ready = True
            except (OSError, sqlite3.Error) as exc:
                raise StorageError(f"cannot open the online store {str(self.path)!r}: {exc}") from exc
            self._local.conn = conn
            with self._lock:
                self._opened.append(conn)
        return conn

    def write(self, view: str, rows: pa.Table) -> int:
        keys, ts, payloads = encode_payloads(rows)
        if not keys:
            return 0
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(_UPSERT, zip([view] * len(keys), keys, ts, payloads, strict=True))
                conn.execute(_NEWEST, (view, max(ts)))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StorageError(f"online store write failed: {exc}") from exc
        return len(keys)

    def read(self, view: str, keys: Sequence[str], features: Sequence[str]) -> OnlineRows:
        if not keys:
            return OnlineRows([], {f: [] for f in features})
        conn = self._conn()
        found: dict[str, Any] = {}
        try:
            for start in range(0, len(keys), _MAX_KEYS):
                chunk = keys[start:start + _MAX_KEYS]
                found.update({k: (t, p) for k, t, p in conn.execute(self._select(len(chunk)), (view, *chunk))})
        except sqlite3.Error as exc:
            raise StorageError(f"online store read failed: {exc}") from exc
        hits = [found.get(k) for k in keys]
        payloads = [h[1] if h else None for h in hits]
        return OnlineRows([h[0] if h else None for h in hits],
                          pick([p.encode() if isinstance(p, str) else p for p in payloads], features))

    def _select(self, n: int) -> str:
        sql = self._select_sql.get(n)
        if sql is None:
            sql = ("SELECT key, event_ts, payload FROM online_values WHERE view = ? AND key IN ("
                   + ",".join("?" * n) + ")")
            self._select_sql[n] = sql
        return sql

    def delete_view(self, view: str) -> None:
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("DELETE FROM online_values WHERE view = ?", (view,))
            conn.execute("DELETE FROM online_views WHERE view = ?", (view,))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StorageError(f"online store delete failed: {exc}") from exc

    def sample_keys(self, view: str, n: int) -> list[str]:
        """Up to ``n`` stored entity keys of ``view``, drawn at random (what skew checks compare)."""
        try:
            rows = self._conn().execute("SELECT key FROM online_values WHERE view = ? ORDER BY random() LIMIT ?",
                                        (view, int(n))).fetchall()
        except sqlite3.Error as exc:
            raise StorageError(f"online store read failed: {exc}") from exc
        return [str(row[0]) for row in rows]

    def freshness(self, view: str) -> int | None:
        try:
            row = self._conn().execute("SELECT newest_ts FROM online_views WHERE view = ?", (view,)).fetchone()
        except sqlite3.Error as exc:
            raise StorageError(f"online store read failed: {exc}") from exc
        return None if row is None else int(row[0])

    def close(self) -> None:
        """Close every thread's connection; a later call opens a new one."""
        with self._lock:
            opened, self._opened = self._opened, []
        self._local = threading.local()
        for conn in opened:
            conn.close()
