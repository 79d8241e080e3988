"""The metadata database: a lock not granted in time is Unavailable (retry later), not a failure."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from shipyard.config import Config, load_config
from shipyard.errors import ConfigError, Unavailable
from shipyard.store import Database

_ROW = sa.text("INSERT INTO alembic_version (version_num) VALUES ('x')")


def test_a_sqlite_write_waits_the_busy_timeout_then_is_unavailable_with_retry_after(tmp_path: Path) -> None:
    path = tmp_path / "meta.db"
    db = Database(f"sqlite:///{path}", busy_timeout=0.3)
    db.ensure_schema()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        start = time.perf_counter()
        with pytest.raises(Unavailable, match="busy") as caught, db.write() as conn:
            conn.execute(_ROW)
        waited = time.perf_counter() - start
    finally:
        holder.rollback()
        holder.close()
    assert 0.25 <= waited < 3
    assert caught.value.retry_after >= 1
    with db.write() as conn:  # released: the same write goes through
        conn.execute(_ROW)
    db.dispose()


def test_a_postgres_lock_timeout_is_unavailable_with_retry_after(pg_url: str) -> None:
    db = Database(pg_url)
    db.ensure_schema()
    with db.engine.connect() as holder, holder.begin():
        holder.execute(sa.text("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE"))
        with pytest.raises(Unavailable, match="busy") as caught, db.write() as conn:
            conn.execute(sa.text("SET LOCAL lock_timeout = '200ms'"))
            conn.execute(_ROW)
    assert caught.value.retry_after >= 1
    db.dispose()


def test_the_busy_timeout_comes_from_the_configuration() -> None:
    assert Config().db_busy_timeout == 5.0
    assert Config(db_busy_timeout=0.5).db_busy_timeout == 0.5
    with pytest.raises(ConfigError, match="db_busy_timeout"):
        Config(db_busy_timeout=-1)
    assert load_config(env={"SHIPYARD_DB_BUSY_TIMEOUT": "0.25"}).db_busy_timeout == 0.25
    with pytest.raises(ConfigError, match="busy_timeout"):
        Database("sqlite:///:memory:", busy_timeout=float("nan"))
