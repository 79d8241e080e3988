"""Users' API tokens on the serving face: the picklable check and the bearer middleware's hook."""

from __future__ import annotations

import pickle
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from shipyard.access import SqlAccessStore, TokenCheck
from shipyard.auth import TokenAuthMiddleware
from shipyard.store import Database
from tests.services import ServerThread


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
