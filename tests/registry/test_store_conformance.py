"""Every registry backend passes the same conformance suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard import Client, Config
from shipyard.testing.registry import RegistryStoreConformance, Stores
from tests.services import running_server


@pytest.fixture(params=["sqlite", "postgres", "remote"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    if request.param == "remote":
        with running_server(Config(home=tmp_path / "server")) as server:
            client = Client(Config(home=tmp_path / "client", url=server.url))
            yield client.tracking_store, client.registry_store
            client.close()
        return
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    client = Client(Config(home=tmp_path / "home", db=url))
    yield client.tracking_store, client.registry_store
    client.close()


class TestRegistryStore(RegistryStoreConformance):
    pass
