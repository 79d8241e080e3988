"""Where studies live: Optuna's ``RDBStorage`` inside Shipyard's metadata database.

Optuna's tables (``studies``, ``trials``…) and its own Alembic history would meet
Shipyard's in one namespace: both keep an ``alembic_version`` table, and Optuna
reading Shipyard's revision there refuses to start (or, on an empty database,
stamps its own revision where Shipyard's migrations look). So Optuna gets a
namespace of its own, reached through the same URL, and every statement it sends
is redirected there by SQLAlchemy's ``schema_translate_map``:

- PostgreSQL: the schema ``<current schema>_optuna`` (``public_optuna`` by default)
  in the same database, created on first use. Every process pointed at the
  database shares the studies.
- SQLite: one file holds one namespace, so Optuna's tables live in a database file
  beside the metadata file (``shipyard.db`` → ``shipyard.optuna.db``), attached to
  each connection as the schema ``optuna``.

Alembic checks whether its version table exists without that redirection (it sees
Shipyard's), so the redirected ``alembic_version`` is created here first; Optuna then
stamps its revision into it. Shipyard's migrations and tables are never touched.

An in-memory SQLite URL (tests, notebooks) gets an in-memory study: nothing to
resume after the process ends.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from shipyard.errors import ConfigError, MissingExtra

__all__ = ["close_storage", "import_optuna", "open_storage", "optuna_namespace", "quiet_optuna"]

_SQLITE_SCHEMA = "optuna"
_VERSION_TABLE = "CREATE TABLE IF NOT EXISTS {schema}.alembic_version " \
                 "(version_num VARCHAR(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"


def import_optuna() -> Any:
    """The ``optuna`` module; :class:`MissingExtra` naming the ``tune`` extra when it is absent."""
    try:
        import optuna
    except ImportError:
        raise MissingExtra("optuna", "tune") from None
    return optuna


@contextmanager
def quiet_optuna() -> Iterator[Any]:
    """Optuna's INFO lines ("A new study created in RDB…", "Trial 3 finished…") silenced inside.

    Optuna's verbosity is lowered to WARNING (never raised: a caller's ERROR stays) and
    put back to what it was on the way out, so the setting outside is unchanged.
    Yields the ``optuna`` module.
    """
    optuna = import_optuna()
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(max(previous, optuna.logging.WARNING))
    try:
        yield optuna
    finally:
        optuna.logging.set_verbosity(previous)


def _sqlite_file(url: sa.URL) -> Path | None:
    database = url.database or ""
    return None if database in ("", ":memory:") or database.startswith("file:") else Path(database)


def optuna_namespace(database_url: str) -> str:
    """Where the studies of ``database_url`` are kept, in words (for logs and reports)."""
    url = sa.make_url(database_url)
    if url.get_backend_name() == "sqlite":
        path = _sqlite_file(url)
        return "memory" if path is None else str(_study_file(path))
    return f"schema {_pg_schema(url)}"


def _study_file(path: Path) -> Path:
    return path.with_name(f"{path.stem}.optuna{path.suffix}")


def _sqlite_creator(path: Path) -> Any:
    study_file = str(_study_file(path))

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(str(path), timeout=30.0, check_same_thread=False)
        conn.execute(f"ATTACH DATABASE ? AS {_SQLITE_SCHEMA}", (study_file,))
        conn.execute("PRAGMA busy_timeout=30000")
        # WAL lets trials on other processes (Ray workers) read while the driver writes.
        if conn.execute(f"PRAGMA {_SQLITE_SCHEMA}.journal_mode").fetchone()[0].lower() != "wal":
            conn.execute(f"PRAGMA {_SQLITE_SCHEMA}.journal_mode=WAL")
        conn.execute(f"PRAGMA {_SQLITE_SCHEMA}.synchronous=NORMAL")
        return conn

    return connect


def _pg_url(url: sa.URL) -> sa.URL:
    return url.set(drivername="postgresql+psycopg") if url.drivername == "postgresql" else url


def _pg_schema(url: sa.URL) -> str:
    engine = sa.create_engine(_pg_url(url))
    try:
        with engine.connect() as conn:
            current = conn.execute(sa.text("SELECT current_schema()")).scalar() or "public"
    finally:
        engine.dispose()
    return f"{current}_optuna"


def _prepare(engine: sa.Engine, schema: str, create_schema: bool) -> None:
    """The redirected namespace and its (empty) Alembic version table, before Optuna looks."""
    for attempt in range(3):
        try:
            with engine.begin() as conn:
                if create_schema:
                    conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                conn.exec_driver_sql(_VERSION_TABLE.format(schema=f'"{schema}"'))
            return
        except sa.exc.IntegrityError:  # two processes creating the schema at once: the other won
            if attempt == 2:
                raise


def open_storage(database_url: str) -> Any:
    """An Optuna storage for the metadata database at ``database_url`` (see the module docstring).

    The caller owns it and closes it with :func:`close_storage`.
    """
    optuna = import_optuna()
    url = sa.make_url(database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        path = _sqlite_file(url)
        if path is None:
            return optuna.storages.InMemoryStorage()
        creator = _sqlite_creator(path)
        probe = sa.create_engine("sqlite://", creator=creator)
        try:
            _prepare(probe, _SQLITE_SCHEMA, create_schema=False)
        finally:
            probe.dispose()
        kwargs: dict[str, Any] = {"creator": creator,
                                  "execution_options": {"schema_translate_map": {None: _SQLITE_SCHEMA}}}
        return optuna.storages.RDBStorage(database_url, engine_kwargs=kwargs)
    if backend != "postgresql":
        raise ConfigError(f"studies live in the metadata database: sqlite or postgresql, got {backend!r}",
                          field="db")
    schema = _pg_schema(url)
    engine = sa.create_engine(_pg_url(url))
    try:
        _prepare(engine, schema, create_schema=True)
    finally:
        engine.dispose()
    kwargs = {"pool_pre_ping": True, "execution_options": {"schema_translate_map": {None: schema}}}
    return optuna.storages.RDBStorage(_pg_url(url).render_as_string(hide_password=False), engine_kwargs=kwargs)


def close_storage(storage: Any) -> None:
    """Close the connections ``storage`` holds (an in-memory storage holds none)."""
    engine = getattr(storage, "engine", None)
    if engine is not None:
        storage.remove_session()
        engine.dispose()
