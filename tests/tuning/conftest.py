"""Fixtures for the search tests: a client on a SQLite file, and one on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from shipyard import Client, Config

pytest.importorskip("optuna")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    c = Client(Config(home=tmp_path / "home", flush_interval=0.2, system_metrics=False))
    yield c
    c.close()


@pytest.fixture
def pg_client(pg_url: str, pg_engine: sa.Engine, tmp_path: Path) -> Iterator[Client]:
    """A client on a fresh PostgreSQL schema; the studies' schema beside it is dropped afterwards."""
    c = Client(Config(home=tmp_path / "home", db=pg_url, flush_interval=0.2, system_metrics=False))
    yield c
    c.close()
    schema = pg_url.rpartition("%3D")[2]
    with pg_engine.connect() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}_optuna" CASCADE'))
