"""Fixtures for the pipeline tests: a tracked client on SQLite, a shared local executor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard import Client, Config
from shipyard.pipelines import LocalExecutor


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    c = Client(Config(home=tmp_path / "home", flush_interval=0.2))
    yield c
    c.close()


@pytest.fixture(scope="module")
def local() -> Iterator[LocalExecutor]:
    """Two worker processes shared by a module's tests (starting workers costs about a second)."""
    with LocalExecutor(2) as executor:
        yield executor
