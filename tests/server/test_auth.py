"""Bearer-token authentication and the guard on non-loopback binds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import shipyard
from shipyard import Config, ConfigError, RunStatus, ShipyardError
from shipyard.server import check_bind
from tests.services import free_port, running_server

TOKEN = "s3cret"
SHIPYARD = str(Path(sys.executable).with_name("shipyard"))


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(Config(home=tmp_path_factory.mktemp("auth"), token=TOKEN)) as server:
        yield server.url


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
     {"Authorization": f"Bearer {TOKEN[:-1]}"}, {"Authorization": f"Basic {TOKEN}"},
     {"Authorization": f"bearer {TOKEN}x"}],
    ids=["none", "wrong", "no-scheme", "prefix", "basic", "longer"],
)
@pytest.mark.parametrize("path", ["/api/v1/experiments", "/api/v1/runs/0123456789abcdef0123456789abcdef",
                                  "/api/v1/no-such-route"])
def test_request_without_the_right_token_is_401(server_url: str, headers: dict[str, str], path: str) -> None:
    response = httpx.get(server_url + path, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "Unauthorized"
    assert TOKEN not in response.text


def test_request_with_the_right_token_is_answered(server_url: str) -> None:
    response = httpx.get(server_url + "/api/v1/experiments", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert [e["name"] for e in response.json()["items"]] == ["Default"]


def test_health_check_needs_no_token(server_url: str) -> None:
    response = httpx.get(server_url + "/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_the_landing_page_and_api_docs_need_no_token_but_the_api_does(server_url: str) -> None:
    for path in ("/", "/docs", "/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css", "/openapi.json"):
        assert httpx.get(server_url + path).status_code == 200, path
    for path in ("/docs/assets/nothing.js", "/docsx", "/api/v1/experiments"):
        assert httpx.get(server_url + path).status_code == 401, path


def test_client_with_the_token_works_end_to_end(server_url: str, tmp_path: Path) -> None:
    with shipyard.Client(url=server_url, token=TOKEN, home=tmp_path, flush_interval=0.1) as client:
        run = client.create_run("auth-e2e")
        client.log_param(run.id, "lr", 0.1)
        client.log_metric(run.id, "loss", 0.25, step=3)
        client.end_run(run.id)
        stored = client.get_run(run.id)
    assert stored.status is RunStatus.FINISHED
    assert stored.params == {"lr": "0.1"}
    assert (stored.metrics["loss"].value, stored.metrics["loss"].step) == (0.25, 3)


def test_client_with_a_wrong_token_gets_a_shipyard_error(server_url: str, tmp_path: Path) -> None:
    client = shipyard.Client(url=server_url, token="guess", home=tmp_path)
    with client, pytest.raises(ShipyardError, match="bearer token") as info:
        client.list_experiments()
    assert info.value.status == 401  # type: ignore[attr-defined]


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.com"])
def test_non_loopback_bind_without_token_or_insecure_is_refused(host: str) -> None:
    with pytest.raises(ConfigError, match="--insecure") as info:
        check_bind(host, None, False)
    assert info.value.field == "host"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("host", "token", "insecure"),
    [("0.0.0.0", "t" * 32, False), ("0.0.0.0", None, True), ("127.0.0.1", None, False),
     ("localhost", None, False), ("::1", None, False), ("127.0.0.2", None, False), ("127.0.0.1", "t", False)],
)
def test_bind_is_allowed_on_loopback_with_a_token_or_when_insecure(
    host: str, token: str | None, insecure: bool
) -> None:
    check_bind(host, token, insecure)


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    return env | {"SHIPYARD_HOME": str(home)} | extra


def test_cli_server_refuses_a_public_bind_without_token(tmp_path: Path) -> None:
    started = time.monotonic()
    done = subprocess.run(
        [SHIPYARD, "server", "--host", "0.0.0.0", "--port", str(free_port())],
        env=cli_env(tmp_path), capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 1
    assert time.monotonic() - started < 15
    assert done.stdout == ""
    assert done.stderr.startswith("error: ConfigError:")
    assert "--insecure" in done.stderr


def test_server_output_never_contains_the_token(tmp_path: Path) -> None:
    token = "tok-9f3a1c-never-log-me"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [SHIPYARD, "server", "--port", str(port), "--log-level", "debug"],
        env=cli_env(tmp_path, SHIPYARD_TOKEN=token), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/api/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, "server exited early"
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        good = httpx.get(url + "/api/v1/experiments", headers={"Authorization": f"Bearer {token}"})
        bad = httpx.get(url + "/api/v1/experiments", headers={"Authorization": f"Bearer {token}-wrong"})
        missing = httpx.get(url + f"/api/v1/runs/{'0' * 32}", headers={"Authorization": f"Bearer {token}"})
        assert (good.status_code, bad.status_code, missing.status_code) == (200, 401, 404)
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=30)
    text = output.decode(errors="replace")
    assert "Application startup complete" in text  # the log was captured
    assert token not in text


@pytest.mark.parametrize("insecure", [False, True])
def test_a_shared_token_shorter_than_32_characters_is_refused_beyond_loopback(insecure: bool) -> None:
    with pytest.raises(ConfigError, match="at least 32") as info:
        check_bind("0.0.0.0", "x" * 31, insecure)
    assert info.value.field == "token"  # type: ignore[attr-defined]
    assert "x" * 31 not in str(info.value)
    check_bind("0.0.0.0", None, False, users=True)  # users authenticate with their own API tokens


def test_api_tokens_shipyard_creates_are_long_enough_to_listen_beyond_loopback(tmp_path: Path) -> None:
    from shipyard.access import SqlAccessStore
    from shipyard.auth import MIN_TOKEN_LENGTH
    from shipyard.store import Database

    db = Database(f"sqlite:///{tmp_path / 'meta.db'}")
    try:
        db.ensure_schema()
        access = SqlAccessStore(db)
        access.create_user("ana")
        secrets = {access.create_token("ana")[1] for _ in range(20)}
    finally:
        db.dispose()
    assert len(secrets) == 20 and min(len(s) for s in secrets) >= MIN_TOKEN_LENGTH
    for secret in secrets:
        check_bind("0.0.0.0", secret, False)


def test_cli_server_refuses_a_short_token_for_a_public_bind(tmp_path: Path) -> None:
    done = subprocess.run(
        [SHIPYARD, "server", "--host", "0.0.0.0", "--port", str(free_port()), "--insecure"],
        env=cli_env(tmp_path, SHIPYARD_TOKEN="short-token"), capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("error: ConfigError:") and "at least 32" in done.stderr
    assert "short-token" not in done.stderr



def test_a_token_revoked_or_a_user_disabled_by_the_cli_of_another_process_is_refused_at_the_next_request(
        db_url: str, tmp_path: Path) -> None:
    from shipyard.access import SqlAccessStore
    from shipyard.server import create_app
    from shipyard.store import Database
    from tests.services import ServerThread

    db = Database(db_url)
    db.ensure_schema()
    try:  # users before the server starts: authentication is on from its first request
        access = SqlAccessStore(db)
        access.create_user("leaver", "editor")
        record, first = access.create_token("leaver")
        _, second = access.create_token("leaver")
    finally:
        db.dispose()
    app = create_app(Config(home=tmp_path / "server", db=db_url))
    server = ServerThread(app).start()
    env = cli_env(tmp_path / "cli", SHIPYARD_DB=db_url)

    def status(token: str) -> int:
        return httpx.get(server.url + "/api/v1/experiments", headers={"Authorization": f"Bearer {token}"}).status_code

    try:
        assert [status(first), status(second), status(first)] == [200, 200, 200]  # the last from memory
        subprocess.run([SHIPYARD, "tokens", "revoke", record.id], env=env, check=True, capture_output=True,
                       timeout=120)
        assert [status(first), status(second)] == [401, 200]
        subprocess.run([SHIPYARD, "users", "disable", "leaver"], env=env, check=True, capture_output=True,
                       timeout=120)
        assert status(second) == 401
    finally:
        server.stop()
        app.state.access.close()
