"""Every monitoring backend passes the same suite: SQLite, PostgreSQL, and through the server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shipyard import Client, Config
from shipyard.monitoring._backend import MonitorStore
from shipyard.testing.monitoring import MonitorStoreConformance


@pytest.fixture
def monitor_store(client_config: Config) -> Iterator[MonitorStore]:
    with Client(client_config) as client:
        yield client.monitor_store


class TestMonitorStore(MonitorStoreConformance):
    pass
