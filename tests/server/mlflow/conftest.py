"""Fixtures: a real ``shipyard server`` and the real ``mlflow`` client (the dev extra's
``mlflow-skinny``) pointed at it.

``mlflow_server`` is one server per test module, plain or mounted under ``/mlflow``
(the same suite runs both ways); tests share it and keep apart by using their own
experiment names. The client keeps its tracking URI in module globals, so the
``mlflow`` fixture sets it for each test and puts it back afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shipyard import Client, Config
from tests.services import ServerThread

mlflow = pytest.importorskip("mlflow", reason="the dev extra installs mlflow-skinny")

PREFIX = "/mlflow"


@dataclass
class MlflowServer:
    """A running server: the tracking URI the MLflow client uses, and its Shipyard config."""

    uri: str
    config: Config

    def shipyard(self) -> Client:
        """A Shipyard client on the same stores (embedded), to see what MLflow wrote."""
        return Client(self.config)


def _app(config: Config, prefix: str) -> Any:
    from shipyard.server import create_app

    app = create_app(config)
    if not prefix:
        return app
    from starlette.applications import Starlette
    from starlette.routing import Mount

    # A parent app does not run a mounted app's lifespan: hand it over explicitly.
    return Starlette(routes=[Mount(prefix, app=app)], lifespan=lambda _: app.router.lifespan_context(app))


def start_server(config: Config, prefix: str = "") -> tuple[ServerThread, MlflowServer]:
    server = ServerThread(_app(config, prefix)).start()
    return server, MlflowServer(server.url + prefix, config)


@pytest.fixture(scope="module", params=["plain", "prefix"])
def mlflow_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    home = tmp_path_factory.mktemp("mlflow-server")
    config = Config(home=home, db=f"sqlite:///{home / 'meta.db'}")
    thread, server = start_server(config, PREFIX if request.param == "prefix" else "")
    try:
        yield server
    finally:
        thread.stop()


@pytest.fixture
def client_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment the issue prescribes for the client (no retries, no telemetry)."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DO_NOT_TRACK", "true")
    # Loading a logged model deserialises it; MLflow asks for consent even for skops.
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")


@pytest.fixture
def ml(mlflow_server: MlflowServer, client_env: None) -> Iterator[Any]:
    """The ``mlflow`` module with its tracking URI on the test server."""
    previous = mlflow.get_tracking_uri() if mlflow.is_tracking_uri_set() else None
    mlflow.set_tracking_uri(mlflow_server.uri)
    mlflow.set_experiment(experiment_id="0")  # the fluent API remembers the last server's experiment
    try:
        yield mlflow
    finally:
        while mlflow.active_run():
            mlflow.end_run()
        mlflow.set_tracking_uri(previous)


@pytest.fixture
def client(ml: Any, mlflow_server: MlflowServer) -> Any:
    return ml.MlflowClient(mlflow_server.uri)


@pytest.fixture
def exp_name() -> str:
    return f"exp-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    return tmp_path
