"""Schema migrations: the pinned head, ensure_schema on both databases, races and failures."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import shipyard.store._db
from shipyard.errors import ConfigError, StorageError, Unavailable
from shipyard.store import Database, head_revision, schema

# Each child imports everything first, reports "ready", then waits for the parent's
# start time on stdin: all six reach ensure_schema() within a few milliseconds.
_RACER = """
import sys, time
from shipyard.store import Database
import shipyard.store._migrate
print("ready", flush=True)
start = float(sys.stdin.readline())
time.sleep(max(0.0, start - time.time()))
db = Database(sys.argv[1])
db.ensure_schema()
print(db.current_revision(), flush=True)
db.dispose()
"""


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


def experiments(db: Database) -> list[tuple[int, str]]:
    with db.read() as conn:
        rows = conn.execute(sa.select(schema.experiments.c.id, schema.experiments.c.name)).all()
    return [(row.id, row.name) for row in rows]


def test_pinned_head_revision_is_the_newest_migration() -> None:
    assert head_revision() == shipyard.store._db._HEAD_REVISION


def test_fresh_database_has_no_revision(db: Database) -> None:
    assert db.current_revision() is None


def test_ensure_schema_migrates_to_head_and_creates_the_default_experiment(db: Database) -> None:
    db.ensure_schema()
    assert db.current_revision() == head_revision()
    assert experiments(db) == [(0, "Default")]
    with db.read() as conn:
        tables = set(sa.inspect(conn).get_table_names())
    assert {"alembic_version", "experiments", "runs"} <= tables


def test_ensure_schema_is_idempotent(db: Database, db_url: str) -> None:
    db.ensure_schema()
    db.ensure_schema()
    again = Database(db_url)  # a second process's view: nothing cached
    try:
        again.ensure_schema()
        again.ensure_schema()
        assert again.current_revision() == head_revision()
        assert experiments(again) == [(0, "Default")]
        with again.read() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1
    finally:
        again.dispose()


def test_six_processes_migrating_a_fresh_database_at_once_all_succeed(db_url: str) -> None:
    racers = [
        subprocess.Popen([sys.executable, "-c", _RACER, db_url], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    try:
        for racer in racers:
            assert racer.stdout is not None
            assert racer.stdout.readline().strip() == "ready", racer.communicate(timeout=30)[1]
        start = f"{time.time() + 0.3}\n"
        results = [racer.communicate(start, timeout=60) for racer in racers]
    finally:
        for racer in racers:
            if racer.poll() is None:
                racer.kill()
                racer.wait()
    failures = [err for racer, (_, err) in zip(racers, results, strict=True) if racer.returncode != 0]
    assert failures == []
    assert [out.strip() for out, _ in results] == [head_revision()] * 6
    db = Database(db_url)
    try:
        assert experiments(db) == [(0, "Default")]
    finally:
        db.dispose()


@pytest.mark.parametrize("url", ["mysql://x", "mssql+pyodbc://u@h/db", "oracle://h/db"])
def test_unsupported_database_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="sqlite or postgresql") as info:
        Database(url)
    assert info.value.field == "db"  # type: ignore[attr-defined]


def test_malformed_database_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not a database URL"):
        Database("not a url")


def test_constructor_does_no_io(tmp_path: Path) -> None:
    Database(f"sqlite:///{tmp_path / 'sub' / 'meta.db'}")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A loopback port bound but not listening: every connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


@pytest.mark.parametrize("driver", ["postgresql", "postgresql+psycopg"])
def test_unreachable_postgresql_is_unavailable_on_first_use(refused_port: int, driver: str) -> None:
    db = Database(f"{driver}://postgres@127.0.0.1:{refused_port}/test")
    with pytest.raises(Unavailable, match="unreachable") as info:
        db.ensure_schema()
    assert isinstance(info.value, StorageError)
    assert not isinstance(info.value, sa.exc.SQLAlchemyError)
    with pytest.raises(Unavailable):
        db.current_revision()


def test_sqlite_file_that_is_not_a_database_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database\n" * 100)
    with pytest.raises(StorageError, match="not a database"):
        Database(f"sqlite:///{path}").ensure_schema()


def test_sqlite_path_under_a_regular_file_is_a_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageError, match="file"):
        Database(f"sqlite:///{blocker / 'meta.db'}").ensure_schema()


def test_0010_links_sign_on_accounts_to_existing_users_and_downgrades(db: Database) -> None:
    from alembic import command

    from shipyard.store._migrate import _alembic_config, upgrade

    upgrade(db, "0009")
    with db.write() as conn:
        conn.execute(sa.text("INSERT INTO users (name, role, password_hash, disabled, created_at) "
                             "VALUES ('ana', 'admin', NULL, 0, 1), ('bo', 'viewer', NULL, 0, 2)"))
    upgrade(db, "0010")
    assert db.current_revision() == "0010"
    users = schema.users
    with db.read() as conn:
        rows = conn.execute(sa.select(users.c.name, users.c.oidc_issuer, users.c.oidc_subject)
                            .order_by(users.c.name)).all()
    assert [tuple(r) for r in rows] == [("ana", None, None), ("bo", None, None)]
    link = users.update().values(oidc_issuer="https://id.example", oidc_subject="s-1")
    with db.write() as conn:
        conn.execute(link.where(users.c.name == "ana"))
    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:  # one account, one user
        conn.execute(link.where(users.c.name == "bo"))
    with db.write() as conn:
        conn.execute(users.update().where(users.c.name == "bo")
                     .values(oidc_issuer="https://id.example", oidc_subject="s-2"))

    cfg = _alembic_config()
    with db.write() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0009")
    assert db.current_revision() == "0009"
    with db.read() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("users")}
        assert conn.execute(sa.text("SELECT name FROM users ORDER BY name")).scalars().all() == ["ana", "bo"]
    assert "oidc_subject" not in columns and "oidc_issuer" not in columns


_AUTOMATION_TABLES = {"automation_policies", "automation_runs", "automation_leases"}


def test_0011_adds_the_automation_tables_beside_existing_data_and_downgrades(db: Database) -> None:
    from alembic import command

    from shipyard.store._migrate import _alembic_config, upgrade

    upgrade(db, "0010")
    with db.write() as conn:
        conn.execute(sa.text("INSERT INTO audit_log (at, actor, action, entity_type, entity_id, forced) "
                             "VALUES (1, 'ana', 'register', 'model_version', 'churn/1', 0)"))
    with db.read() as conn:
        assert not _AUTOMATION_TABLES & set(sa.inspect(conn).get_table_names())
    upgrade(db, "0011")
    with db.write() as conn:
        conn.execute(schema.automation_policies.insert().values(name="p", version=1, spec="{}", actor="ana",
                                                                created_at=2))
        conn.execute(schema.automation_runs.insert().values(
            id="a" * 32, policy="p", policy_version=1, state="triggered", evidence="{}", started_at=2, updated_at=2))
        conn.execute(schema.automation_leases.insert().values(policy="p", holder="c1", acquired_at=2, expires_at=3))
    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:  # one row per version of a policy
        conn.execute(schema.automation_policies.insert().values(name="p", version=1, spec="{}", created_at=3))
    with db.read() as conn:
        indexes = {i["name"] for i in sa.inspect(conn).get_indexes("automation_runs")}
        assert conn.execute(sa.text("SELECT count(*) FROM audit_log")).scalar() == 1
    assert {"ix_automation_runs_policy", "ix_automation_runs_state"} <= indexes

    cfg = _alembic_config()
    with db.write() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0010")
    assert db.current_revision() == "0010"
    with db.read() as conn:
        assert not _AUTOMATION_TABLES & set(sa.inspect(conn).get_table_names())
        assert conn.execute(sa.text("SELECT count(*) FROM audit_log")).scalar() == 1
