"""Pytest fixtures for the real services the suites run against.

PostgreSQL: each test gets its own schema in database ``test`` (dropped afterwards),
so parallel workers never collide. The server: a real uvicorn on a free loopback
port, in a thread, over the stores of the test.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from shipyard import Client, Config

PG_ADMIN_URL = os.environ.get("SHIPYARD_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[sa.Engine]:
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:  # pragma: no cover - .ci/run starts PostgreSQL
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}")
    yield engine
    engine.dispose()


@pytest.fixture
def pg_url(pg_engine: sa.Engine) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh, empty schema."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with pg_engine.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    yield f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    with pg_engine.connect() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'meta.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Every metadata-store case runs on SQLite and on the real PostgreSQL."""
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))


class ServerThread:
    """``shipyard server``'s app under a real uvicorn in a background thread."""

    def __init__(self, app: object, port: int | None = None) -> None:
        import uvicorn

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error", lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


@contextlib.contextmanager
def running_server(config: object, port: int | None = None) -> Iterator[ServerThread]:
    from shipyard.server import create_app

    server = ServerThread(create_app(config), port).start()  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgres", "remote"])
def client_config(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Config]:
    """A client configuration in each mode: embedded on SQLite, embedded on PostgreSQL,
    remote through a real server (kept up for the test)."""
    if request.param == "remote":
        with running_server(Config(home=tmp_path / "server")) as server:
            yield Config(home=tmp_path / "client", url=server.url, flush_interval=0.2)
        return
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    yield Config(home=tmp_path / "home", db=url, flush_interval=0.2)


@pytest.fixture
def client(client_config: Config) -> Iterator[Client]:
    c = Client(client_config)
    yield c
    c.close()
