"""Reading the access generation: a primary-key read, and on SQLite a change signal that needs no I/O.

A token check needs the generation as committed when the request arrived, by any
process. :meth:`GenerationReader.read` reads it on a plain DBAPI connection of its own
in autocommit mode: no transaction (so no snapshot) outlives a read, no SQLAlchemy
machinery runs per read, and the connection is detached from the engine's pool, so it
never leaves the stores a pooled connection short.

Even that read does not belong on an event loop: it is a read transaction (two
file-lock system calls on SQLite, a network round trip on PostgreSQL) and it lets go of
the GIL, which another thread busy in a C call (a model, a Parquet writer) may then hold
for milliseconds while every request waits. ``PRAGMA data_version`` costs the same. On a
SQLite database in WAL mode, :meth:`GenerationReader.known` instead compares the
WAL-index header in the ``-shm`` file (SQLite's shared memory, mapped read-only) with
the header seen just before the last read: every commit by any connection of any process
publishes a new header (its ``iChange`` counter moves) before the commit returns, so an
unchanged header means the value last read is still current. Otherwise, and on other
databases, it answers None, and the caller reads (off the loop).
"""

from __future__ import annotations

import contextlib
import mmap
import sqlite3
import sys
import threading
import weakref
from typing import Any

from shipyard.errors import Unavailable
from shipyard.store import Database

__all__ = ["GenerationReader"]

_SQL = "SELECT generation FROM access_state WHERE id = 1"
# The first copy of the WAL-index header (WalIndexHdr, https://sqlite.org/walformat.html):
# 48 bytes at the start of the -shm file, written last when a commit is published.
_HEADER_BYTES = 48
_WAL_INDEX_VERSION = 3007000


class GenerationReader:
    """``read()``: the access generation of ``db`` as committed when the read begins;
    ``known()``: the value last read, when the database certainly has not changed since,
    found without I/O (or None)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        database = db.url.database or ""
        # An in-memory SQLite database exists once per connection: a connection of our
        # own would see another, empty one. Such a database is read through the pool.
        self._own = not (db.dialect == "sqlite" and (database in ("", ":memory:") or "mode=memory" in str(db.url)))
        self._lock = threading.Lock()
        self._conn: Any = None
        self._closer: weakref.finalize[Any, Any] | None = None  # closes the connection with this reader
        self._shm: mmap.mmap | None = None
        self._seen: tuple[bytes, int] | None = None  # (WAL-index header before the last read, its value)

    def known(self) -> int | None:
        """The generation last read if no commit has been published since that read began,
        else None. Reads shared memory only, never waits: safe on an event loop."""
        seen, shm = self._seen, self._shm
        if seen is None or shm is None or shm[:_HEADER_BYTES] != seen[0]:
            return None
        return seen[1]

    def read(self) -> int:
        if not self._own:
            return int(self.db.fast_scalar(_SQL))
        with self._lock:
            try:
                if self._conn is None:
                    self._connect()
                    self._select()  # opens the WAL index, which can be mapped from then on
                    self._shm = _map_wal_index(self._conn) if self.db.dialect == "sqlite" else None
                # The header is taken first: a commit published after it shows as a new header.
                header = self._shm[:_HEADER_BYTES] if self._shm is not None else None
                generation = self._select()
            except Exception as exc:
                self._drop()  # the next read reconnects
                raise Unavailable(f"cannot read the access generation from the metadata database: {exc}") from exc
            if header is not None:
                self._seen = (header, generation)
        return generation

    def _select(self) -> int:
        cur = self._conn.cursor()
        try:
            cur.execute(_SQL)
            row = cur.fetchone()  # a single row: the statement is done, its read ends here
        finally:
            cur.close()
        if row is None:
            raise LookupError("no access generation: run `shipyard db upgrade`")
        return int(row[0])

    def _connect(self) -> None:
        pooled = self.db.engine.raw_connection()  # with the engine's per-connection settings
        conn: Any = pooled.driver_connection
        pooled.detach()  # ours alone from now on: the pool neither counts nor reuses it
        self._closer = weakref.finalize(self, _close, conn)
        if self.db.dialect == "postgresql":
            conn.autocommit = True
        self._conn = conn

    def _drop(self) -> None:
        # The mapping is let go, not closed: known() may be reading it on another thread.
        closer, self._closer, self._conn, self._shm, self._seen = self._closer, None, None, None, None
        if closer is not None:
            closer()

    def close(self) -> None:
        """Close the connection (a later read opens another)."""
        with self._lock:
            self._drop()


def _map_wal_index(conn: Any) -> mmap.mmap | None:
    """The WAL-index header of ``conn``'s database, mapped read-only; None unless the
    database is a file in WAL mode with an initialized index of the known version.

    While ``conn`` stays open, SQLite never truncates or re-creates that file (only the
    first connection to open a database does), so the mapping stays valid.
    """
    try:
        if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
            return None
        path = next((row[2] for row in conn.execute("PRAGMA database_list") if row[1] == "main"), "")
        if not path:
            return None
        with open(f"{path}-shm", "rb") as handle:
            shm = mmap.mmap(handle.fileno(), _HEADER_BYTES, access=mmap.ACCESS_READ)
    except (OSError, ValueError, sqlite3.Error):
        return None
    header = shm[:_HEADER_BYTES]
    if int.from_bytes(header[:4], sys.byteorder) != _WAL_INDEX_VERSION or header[12] != 1:
        shm.close()
        return None
    return shm


def _close(conn: Any) -> None:
    with contextlib.suppress(Exception):  # a broken connection may refuse to close: it is dropped anyway
        conn.close()
