"""A client with scikit-learn autologging switched on for the test, and off after it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import shipyard
from shipyard import Client


@pytest.fixture
def autologged(tmp_path) -> Iterator[Client]:
    client = Client(home=tmp_path)
    shipyard.autolog(client=client)
    yield client
    shipyard.autolog(disable=True)
    client.close()


@pytest.fixture
def autologged_without_models(tmp_path) -> Iterator[Client]:
    """Autologging that skips model packages: for tests about which runs appear."""
    client = Client(home=tmp_path)
    shipyard.autolog(client=client, log_models=False)
    yield client
    shipyard.autolog(disable=True)
    client.close()
