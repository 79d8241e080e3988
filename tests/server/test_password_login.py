"""``POST /login/password``: a password starts a browser session (cookies, CSRF on changes),
JSON only, throttled together with basic auth, and ended by ``POST /logout``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from shipyard import Config
from shipyard.server import create_app
from shipyard.server._session import COOKIE, CSRF_COOKIE
from tests.services import ServerThread

PASSWORD = "correct horse battery"


@dataclass
class Server:
    url: str
    app: Any


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    app = create_app(Config(home=tmp_path_factory.mktemp("password-login")))
    thread = ServerThread(app).start()
    try:
        for name, role in (("ed", "editor"), ("vi", "viewer"), ("gone", "viewer"), ("slow", "viewer")):
            app.state.access.create_user(name, role, PASSWORD)
        app.state.access.set_disabled("gone")
        yield Server(thread.url, app)
    finally:
        thread.stop()


def browser(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=30)


def sign_in(client: httpx.Client, name: str, password: str = PASSWORD) -> httpx.Response:
    return client.post("/login/password", json={"username": name, "password": password})


def test_a_password_starts_a_session_whose_changes_need_the_csrf_token(server: Server) -> None:
    with browser(server) as client:
        answer = sign_in(client, "ed")
        assert answer.status_code == 200 and answer.json() == {"name": "ed", "role": "editor"}
        cookies = answer.headers.get_list("set-cookie")
        assert any(c.startswith(f"{COOKIE}=") and "HttpOnly" in c and "SameSite=lax" in c for c in cookies)
        assert any(c.startswith(f"{CSRF_COOKIE}=") and "HttpOnly" not in c for c in cookies)
        assert client.get("/api/v1/experiments").status_code == 200
        assert client.post("/api/v1/experiments", json={"name": "no-token"}).status_code == 403
        made = client.post("/api/v1/experiments", json={"name": "with-token"},
                            headers={"X-CSRF-Token": client.cookies[CSRF_COOKIE]})
        assert made.status_code == 200


def test_a_viewers_session_reads_but_may_not_write(server: Server) -> None:
    with browser(server) as client:
        answer = sign_in(client, "vi")
        assert answer.status_code == 200
        assert client.get("/api/v1/experiments").status_code == 200
        refused = client.post("/api/v1/experiments", json={"name": "viewer-made"},
                               headers={"X-CSRF-Token": client.cookies[CSRF_COOKIE]})
        assert refused.status_code == 403


def test_a_wrong_password_and_a_disabled_user_get_the_same_refusal(server: Server) -> None:
    with browser(server) as client:
        wrong, disabled, unknown = sign_in(client, "vi", "guess"), sign_in(client, "gone"), sign_in(client, "nobody")
    assert wrong.status_code == disabled.status_code == unknown.status_code == 401
    assert wrong.json() == disabled.json() == unknown.json()
    assert "set-cookie" not in wrong.headers


def test_only_a_json_body_signs_in_so_no_other_sites_form_can(server: Server) -> None:
    form = httpx.post(server.url + "/login/password", data={"username": "vi", "password": PASSWORD}, timeout=30)
    assert form.status_code == 422 and "set-cookie" not in form.headers


def test_failures_here_and_through_basic_auth_are_throttled_together(server: Server) -> None:
    limiter = server.app.state.login_limiter
    keys = ["user:slow", "addr:127.0.0.1"]
    limiter.succeeded(keys)  # the other tests' failures from this address start no count here
    limiter.slow_after, limiter.refuse_after = 100, 3
    try:
        for _ in range(2):
            assert httpx.get(server.url + "/api/v1/experiments", auth=("slow", "guess"), timeout=30).status_code == 401
        with browser(server) as client:
            assert sign_in(client, "slow", "guess").status_code == 401
            refused = sign_in(client, "slow")  # the right password, after three failures
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert httpx.get(server.url + "/api/v1/experiments", auth=("slow", PASSWORD), timeout=30).status_code == 429
    finally:
        limiter.slow_after, limiter.refuse_after = 5, 20
        limiter.succeeded(keys)


def test_logout_ends_a_password_session(server: Server) -> None:
    with browser(server) as client:
        sign_in(client, "vi")
        kept = client.cookies[COOKIE]
        assert client.post("/logout").status_code == 403  # the CSRF token is needed here too
        assert client.post("/logout", headers={"X-CSRF-Token": client.cookies[CSRF_COOKIE]}).status_code == 204
        assert httpx.get(server.url + "/api/v1/experiments", cookies={COOKIE: kept}, timeout=30).status_code == 401
