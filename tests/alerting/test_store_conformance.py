"""The alerting conformance suite, embedded on SQLite and PostgreSQL and through a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard import Client, Config
from shipyard.alerting import AlertStore
from shipyard.testing.alerts import AlertsConformance, WebhookReceiver, webhook_receiver
from tests.services import running_server


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as receiver:
        yield receiver


@pytest.fixture(params=["sqlite", "postgres", "remote"])
def alert_client(request: pytest.FixtureRequest, tmp_path: Path, webhook: WebhookReceiver) -> Iterator[Client]:
    alerts = {"notifiers": {"hook": {"type": "slack", "url": webhook.url, "timeout": 5}}}
    if request.param == "remote":
        with running_server(Config(home=tmp_path / "server", alerts=alerts)) as server, \
                Client(Config(home=tmp_path / "client", url=server.url)) as client:
            yield client
        return
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    with Client(Config(home=tmp_path / "home", db=url, alerts=alerts)) as client:
        yield client


@pytest.fixture
def rule_store(alert_client: Client, tmp_path: Path) -> Iterator[AlertStore]:
    """The rules the evaluating side reads, unchecked: the client's own store, or the server's database."""
    if not alert_client.config.url:
        yield alert_client.alert_store
        return
    with Client(Config(home=tmp_path / "server")) as server_side:
        yield server_side.alert_store


class TestAlerts(AlertsConformance):
    pass
