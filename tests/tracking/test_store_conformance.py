"""Every tracking backend passes the same conformance suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import running_server
from shipyard.config import Config
from shipyard.remote import RemoteTrackingStore
from shipyard.store.artifacts import open_artifact_store
from shipyard.store.db import Database
from shipyard.testing.tracking import TrackingStoreConformance
from shipyard.tracking import TrackingStore
from shipyard.tracking.sql_store import SqlTrackingStore


@pytest.fixture(params=["sqlite", "postgres", "remote"])
def tracking_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TrackingStore]:
    if request.param == "remote":
        config = Config(home=tmp_path / "server", db=request.getfixturevalue("sqlite_url"))
        with running_server(config) as server:
            store = RemoteTrackingStore(server.url)
            yield store
            store.close()
        return
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    db = Database(url)
    db.ensure_schema()
    store = SqlTrackingStore(db, open_artifact_store(str(tmp_path / "artifacts")))
    yield store
    store.close()


class TestTrackingStore(TrackingStoreConformance):
    pass
