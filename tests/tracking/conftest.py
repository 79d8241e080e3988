"""Clients in every mode: embedded on SQLite, embedded on PostgreSQL, remote via a server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services import running_server
from shipyard import Client, Config


@pytest.fixture(params=["sqlite", "postgres", "remote"])
def client_config(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Config]:
    """The configuration of a client in one of the three modes (server kept up for the test)."""
    if request.param == "remote":
        server_config = Config(home=tmp_path / "server")
        with running_server(server_config) as server:
            yield Config(home=tmp_path / "client", url=server.url, flush_interval=0.2)
        return
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    yield Config(home=tmp_path / "home", db=url, flush_interval=0.2)


@pytest.fixture
def client(client_config: Config) -> Iterator[Client]:
    c = Client(client_config)
    yield c
    c.close()
