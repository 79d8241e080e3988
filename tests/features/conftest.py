"""Fixtures: feature registries and online stores on every backend, through real services."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard import Client, Config
from shipyard.features import FeatureRegistry, SqlFeatureRegistry
from shipyard.features.online import OnlineStore, RedisOnlineStore, SqliteOnlineStore
from shipyard.store import Database
from tests.services import running_server

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The real Redis on this machine, under a key prefix of this test (removed afterwards)."""
    import redis

    prefix = f"t{uuid.uuid4().hex[:12]}"
    yield f"{REDIS_URL}?prefix={prefix}"
    conn = redis.Redis.from_url(REDIS_URL)
    keys = list(conn.scan_iter(match=f"{prefix}:*", count=1_000))
    if keys:
        conn.unlink(*keys)
    conn.close()


@pytest.fixture(params=["sqlite", "postgres", "remote"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FeatureRegistry]:
    if request.param == "remote":
        with running_server(Config(home=tmp_path / "server")) as server:
            client = Client(Config(home=tmp_path / "client", url=server.url))
            yield client.feature_registry
            client.close()
        return
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    db = Database(url)
    db.ensure_schema()
    yield SqlFeatureRegistry(db)
    db.dispose()


@pytest.fixture(params=["sqlite", "redis", "remote"])
def online(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OnlineStore]:
    store: OnlineStore
    if request.param == "remote":
        with running_server(Config(home=tmp_path / "server")) as server:
            client = Client(Config(home=tmp_path / "client", url=server.url))
            yield client.feature_online_store
            client.close()
        return
    if request.param == "redis":
        store = RedisOnlineStore(request.getfixturevalue("redis_url"))
    else:
        store = SqliteOnlineStore(tmp_path / "online.db")
    yield store
    store.close()
