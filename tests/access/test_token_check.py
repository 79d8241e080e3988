"""Users' API tokens on the serving face: the picklable check and the bearer middleware's hook."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from shipyard.access import SqlAccessStore, TokenCheck
from shipyard.auth import TokenAuthMiddleware
from shipyard.store import Database
from tests.services import ServerThread

SHIPYARD = str(Path(sys.executable).with_name("shipyard"))


def test_a_pickled_check_accepts_live_tokens_of_enabled_users_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    db = Database(url)
    db.ensure_schema()
    store = SqlAccessStore(db)
    store.create_user("ana", "viewer")
    record, secret = store.create_token("ana")
    check = pickle.loads(pickle.dumps(TokenCheck(url)))
    assert check(secret) and not check(secret + "x")
    assert url not in repr(check)
    store.revoke_token(record.id)
    assert not check(secret)
    db.dispose()


def test_the_bearer_middleware_accepts_the_shared_token_or_what_the_hook_accepts() -> None:
    inner = Starlette(routes=[Route("/predict", lambda request: PlainTextResponse("ok")),
                              Route("/health", lambda request: PlainTextResponse("up"))])
    app = TokenAuthMiddleware(inner, None, open_paths=("/health",), check=lambda token: token == "user-token")
    server = ServerThread(app).start()
    try:
        get = lambda path, **h: httpx.get(server.url + path, headers=h).status_code  # noqa: E731
        assert get("/predict", Authorization="Bearer user-token") == 200
        assert get("/predict", Authorization="Bearer other") == 401
        assert get("/predict") == 401
        assert get("/health") == 200
    finally:
        server.stop()


def test_the_bearer_middleware_takes_the_hooks_answer_now_and_calls_the_hook_only_without_one() -> None:
    class Hook:
        def __init__(self) -> None:
            self.calls: list[str] = []

        def answer_now(self, token: str) -> bool | None:
            return {"known-good": True, "known-bad": False}.get(token)

        def __call__(self, token: str) -> bool:
            self.calls.append(token)
            return token == "looked-up"

    hook = Hook()
    inner = Starlette(routes=[Route("/predict", lambda request: PlainTextResponse("ok"))])
    server = ServerThread(TokenAuthMiddleware(inner, None, check=hook)).start()
    try:
        codes = [httpx.get(server.url + "/predict", headers={"Authorization": f"Bearer {token}"}).status_code
                 for token in ("known-good", "known-bad", "looked-up", "other")]
    finally:
        server.stop()
    assert codes == [200, 401, 200, 401]
    assert hook.calls == ["looked-up", "other"]


def test_answer_now_knows_a_checked_token_until_access_changes(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    db.ensure_schema()
    store = SqlAccessStore(db)
    store.create_user("ana", "viewer")
    record, secret = store.create_token("ana")
    check = TokenCheck(sqlite_url)

    try:
        assert check.answer_now(secret) is None  # never looked up: only a call can tell
        assert check(secret)
        assert check.answer_now(secret) is True
        store.revoke_token(record.id)
        assert check.answer_now(secret) is None  # committed to since: only a call can tell
        assert not check(secret)
        assert check.answer_now(secret) is False
    finally:
        check.close()
        db.dispose()


def test_answer_now_leaves_a_database_over_the_network_to_the_call(pg_url: str) -> None:
    db = Database(pg_url)
    db.ensure_schema()
    SqlAccessStore(db).create_user("ana", "viewer")
    _, secret = SqlAccessStore(db).create_token("ana")
    check = TokenCheck(pg_url)
    try:
        assert check(secret)
        assert check.answer_now(secret) is None  # a generation read there is a round trip: not on the loop
    finally:
        check.close()
        db.dispose()


def test_serving_refuses_a_token_revoked_by_the_cli_of_another_process_at_the_next_request(
        db_url: str, tmp_path: Path) -> None:
    db = Database(db_url)
    db.ensure_schema()
    store = SqlAccessStore(db)
    store.create_user("ana", "viewer")
    record, secret = store.create_token("ana")
    inner = Starlette(routes=[Route("/predict", lambda request: PlainTextResponse("ok"))])
    check = TokenCheck(db_url)
    server = ServerThread(TokenAuthMiddleware(inner, None, check=check)).start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    env |= {"SHIPYARD_HOME": str(tmp_path), "SHIPYARD_DB": db_url}

    def status() -> int:
        return httpx.get(server.url + "/predict", headers={"Authorization": f"Bearer {secret}"}).status_code

    try:
        assert [status(), status()] == [200, 200]  # the second answered from memory
        subprocess.run([SHIPYARD, "tokens", "revoke", record.id], env=env, check=True, capture_output=True,
                       timeout=120)
        assert status() == 401
    finally:
        server.stop()
        check.close()
        store.close()
        db.dispose()
