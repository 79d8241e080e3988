"""Alembic migrations, run programmatically (no alembic.ini needed).

Every process may call :func:`upgrade` on first use, so the upgrade runs inside one
transaction that first takes an exclusive lock (SQLite's ``BEGIN IMMEDIATE``,
PostgreSQL's transaction-scoped advisory lock): concurrent starters queue, and all
but the first find the schema already current.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory

from shipyard.store._db import Database

__all__ = ["head_revision", "upgrade"]

_SCRIPTS = Path(__file__).with_name("migrations")
_LOCK_KEY = 0x5348_4950  # "SHIP": the advisory lock id for migrations on PostgreSQL


def _alembic_config() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    return cfg


def head_revision() -> str:
    """The newest revision shipped with this version of Shipyard."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring ``db`` up to ``revision`` (default: the newest)."""
    cfg = _alembic_config()
    with db.write() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
