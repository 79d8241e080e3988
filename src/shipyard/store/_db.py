"""The metadata database: engine set-up, transactions, migrations and error translation.

:class:`Database` wraps one SQLAlchemy engine. Its constructor does no I/O; the
schema is brought up to date by :meth:`Database.ensure_schema` (called once by the
client on first use, and by ``shipyard db upgrade``).

SQLite is tuned for many processes logging at once: WAL journal, a busy timeout,
and ``BEGIN IMMEDIATE`` for write transactions. The last matters because a
deferred transaction that reads first and then writes cannot wait for the lock —
SQLite answers "database is locked" at once to avoid a deadlock — while an
immediate one queues behind the current writer for up to the busy timeout.

A write that waited out the busy timeout, and PostgreSQL's lock timeout, serialization
failure and deadlock, become :class:`~shipyard.errors.Unavailable` with a
``retry_after`` (seconds): the database is busy, not broken, and the same call may
succeed later. The timeout is short by default (:data:`DEFAULT_BUSY_TIMEOUT_S`), so a
server thread held by a lock is freed soon and its caller told to come back.
"""

from __future__ import annotations

import contextlib
import functools
import math
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from shipyard.errors import ConfigError, Conflict, InvalidInput, StorageError, Unavailable

__all__ = ["DEFAULT_BUSY_TIMEOUT_S", "Database", "insert_ignore", "nan_to_none", "none_to_nan", "upsert"]

DEFAULT_BUSY_TIMEOUT_S = 5.0
_RETRY_AFTER_S = 1  # what a caller refused by a held lock is told to wait
# PostgreSQL's SQLSTATEs of a lock not granted in time, a serialization failure and a deadlock.
_PG_BUSY = frozenset({"55P03", "40001", "40P01"})
_HEAD_REVISION = "0013"  # kept equal to the newest Alembic revision by a test


def nan_to_none(value: float) -> float | None:
    """Stored form of a metric value: NaN becomes NULL (SQLite cannot hold NaN)."""
    return None if math.isnan(value) else value


def none_to_nan(value: float | None) -> float:
    """Inverse of :func:`nan_to_none`."""
    return math.nan if value is None else value


class Database:
    """One metadata database, SQLite or PostgreSQL, addressed by a SQLAlchemy URL.

    ``busy_timeout`` is how many seconds a SQLite write waits for another writer's lock
    before it fails with :class:`~shipyard.errors.Unavailable`.

    >>> db = Database("sqlite:///:memory:")
    >>> db.dialect
    'sqlite'
    """

    def __init__(self, url: str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT_S) -> None:
        if isinstance(busy_timeout, bool) or not isinstance(busy_timeout, int | float) \
                or not math.isfinite(busy_timeout) or busy_timeout < 0:
            raise ConfigError(f"busy_timeout must be a non-negative number of seconds, got {busy_timeout!r}",
                              field="db_busy_timeout")
        self.busy_timeout = float(busy_timeout)
        try:
            self.url = sa.make_url(url)
        except sa.exc.ArgumentError as exc:
            raise ConfigError(f"not a database URL: {url!r} ({exc})", field="db") from None
        self.dialect = self.url.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise ConfigError(
                f"unsupported database {self.dialect!r}: use sqlite or postgresql", field="db"
            )
        self._engine: Engine | None = None
        self._schema_ready = False
        self._fast = threading.local()

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"

    # -- engine ---------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """The engine, created on first use."""
        if self._engine is None:
            self._engine = self._create_engine()
        return self._engine

    def _create_engine(self) -> Engine:
        url = self.url
        if self.dialect == "postgresql" and url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")
        if self.dialect == "sqlite":
            database = url.database or ""
            if database and database != ":memory:":
                from pathlib import Path

                try:
                    Path(database).parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise StorageError(f"cannot create the folder of {database}: {exc}") from exc
            engine = sa.create_engine(
                url, connect_args={"timeout": self.busy_timeout, "check_same_thread": False}
            )
            _tune_sqlite(engine, int(self.busy_timeout * 1000))
            return engine
        try:
            return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
        except ModuleNotFoundError as exc:
            from shipyard.errors import MissingExtra

            raise MissingExtra(exc.name or "psycopg", "postgres") from None

    def dispose(self) -> None:
        """Close every pooled connection (call before forking or at shutdown)."""
        held = getattr(self._fast, "conn", None)
        if held is not None:
            self._fast.conn = None
            if self.dialect == "postgresql":
                held.driver_connection.autocommit = False
            held.close()  # back to the pool
        if self._engine is not None:
            self._engine.dispose()

    def fast_scalar(self, sql: str) -> Any:
        """Run one constant read-only query on a connection this thread keeps open.

        For hot reads (a cache validity check per call) where a pool checkout and a
        transaction would cost far more than the query: the connection is in
        autocommit mode, so each call sees the latest committed data.
        """
        with translate_errors():
            held = getattr(self._fast, "conn", None)
            if held is None:
                # Keep the pool's wrapper, not just the driver connection: dropping it
                # would hand the connection back to the pool while we still use it.
                held = self.engine.raw_connection()
                if self.dialect == "postgresql":
                    held.driver_connection.autocommit = True  # type: ignore[union-attr]
                self._fast.conn = held
            cur = held.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                cur.execute(sql)
                row = cur.fetchone()
            finally:
                cur.close()
            return None if row is None else row[0]

    # -- transactions ---------------------------------------------------------------

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction, committed on success and rolled back on error."""
        with translate_errors(), self.engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (never takes SQLite's write lock)."""
        with translate_errors(), self.engine.connect() as raw:
            conn = raw.execution_options(shipyard_read=True)
            with conn.begin():
                yield conn

    # -- schema ---------------------------------------------------------------------

    def ensure_schema(self) -> None:
        """Apply pending migrations; cheap when the schema is already current."""
        if self._schema_ready:
            return
        if self.current_revision() != _HEAD_REVISION:
            from shipyard.store._migrate import upgrade

            upgrade(self)
        self._schema_ready = True

    def current_revision(self) -> str | None:
        """The Alembic revision the database is at, or None for an empty database."""
        with self.read() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def _tune_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let us emit BEGIN ourselves (below) instead of the driver's implicit one.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        # Switching to WAL takes a lock and may fail at once (no busy wait) while another
        # connection writes or checkpoints; WAL is persistent, so only the first switch is needed.
        if cur.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("shipyard_read"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    """Translate SQLAlchemy/driver errors into the Shipyard tree where they enter."""
    try:
        yield
    except OverflowError as exc:
        raise InvalidInput(f"number out of range: {exc}", field="value") from exc
    except sa.exc.DataError as exc:
        raise InvalidInput(f"value refused by the database: {exc.orig}", field="value") from exc
    except sa.exc.IntegrityError as exc:
        raise Conflict(f"database constraint violated: {exc.orig}") from exc
    except OperationalError as exc:
        text = str(exc.orig).lower()
        if "could not connect" in text or "connection refused" in text or "unable to open" in text:
            raise Unavailable(f"metadata database unreachable: {exc.orig}") from exc
        if _busy(exc.orig, text):
            raise _busy_error(exc.orig) from exc
        raise StorageError(f"metadata database error: {exc.orig}") from exc
    except DBAPIError as exc:
        if _busy(exc.orig, str(exc.orig).lower()):
            raise _busy_error(exc.orig) from exc
        raise StorageError(f"metadata database error: {exc.orig}") from exc
    except SQLAlchemyError as exc:
        raise StorageError(f"metadata database error: {exc}") from exc


def _busy(orig: BaseException | None, text: str) -> bool:
    """Whether a driver error says a lock was not granted in time (not that anything is wrong)."""
    name = str(getattr(orig, "sqlite_errorname", ""))
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in text \
            or "database table is locked" in text:
        return True
    # psycopg names the SQLSTATE ``sqlstate``, psycopg2 ``pgcode``.
    return (getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)) in _PG_BUSY


def _busy_error(orig: BaseException | None) -> Unavailable:
    return Unavailable(f"metadata database busy, try again shortly: {orig}", retry_after=_RETRY_AFTER_S)


def _dialect_insert(conn: Connection) -> Any:
    """The INSERT construct with ON CONFLICT support for this connection's dialect."""
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def upsert(
    conn: Connection,
    table: sa.Table,
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    update: Sequence[str],
    where: Any = None,
) -> None:
    """Insert rows, updating ``update`` columns where ``keys`` already exist.

    ``where`` (optional) is a function of ``(table, excluded)`` returning the condition
    under which an existing row is overwritten. Works on SQLite and PostgreSQL.
    """
    if not rows:
        return
    conn.execute(_upsert_statement(conn.dialect.name, table, tuple(keys), tuple(update), where), list(rows))


@functools.lru_cache(maxsize=256)
def _upsert_statement(dialect: str, table: sa.Table, keys: tuple[str, ...], update: tuple[str, ...],
                      where: Any) -> Any:
    # Building the ON CONFLICT construct costs more than executing it on SQLite, and
    # the statement is immutable: build each shape once. ``where`` must therefore be a
    # module-level function, not a fresh lambda per call.
    from sqlalchemy.dialects import postgresql, sqlite

    stmt: Any = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    set_ = {col: stmt.excluded[col] for col in update}
    condition = where(table, stmt.excluded) if where is not None else None
    return stmt.on_conflict_do_update(index_elements=list(keys), set_=set_, where=condition)


def insert_ignore(conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows, silently skipping those whose primary key already exists."""
    if not rows:
        return
    conn.execute(_dialect_insert(conn)(table).on_conflict_do_nothing(), list(rows))
