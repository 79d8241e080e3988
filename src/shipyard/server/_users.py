"""Users, roles, grants and API tokens under ``/api/v1``: a thin HTTP skin over an AccessStore.

User routes are for admins (the permission table says so). Token routes are open to every
signed-in user for their own tokens: listing, creating or revoking another user's needs
the admin role. A token's secret is in the answer that creates it, and never again.
While the server runs open (no users, no server token) the caller counts as an admin.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from shipyard.access import AccessStore, Grant, Token, User, may
from shipyard.errors import NotFound
from shipyard.server._access import USER_SCOPE_KEY
from shipyard.server._errors import error_response

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserCreate(_Body):
    name: str
    role: str = "viewer"
    password: str | None = None


class RoleChange(_Body):
    role: str


class GrantCreate(_Body):
    resource_type: str
    resource_id: str
    permission: str


class TokenCreate(_Body):
    user: str | None = None  # default: the caller
    name: str = ""
    expires_in_ms: int | None = None


def _store(request: Request) -> AccessStore:
    store: AccessStore = request.app.state.access
    return store


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _caller(request: Request) -> User | None:
    """The authenticated user; None while the server runs open (the caller acts as an admin)."""
    user: User | None = request.scope.get(USER_SCOPE_KEY)
    return user


def _restricted(user: User | None) -> User | None:
    """``user`` when they may touch only their own tokens; None for an admin (or an open server)."""
    return None if user is None or may(user, "admin") else user


def _forbidden(message: str, field: str) -> Response:
    return error_response(403, "Forbidden", message, field=field)


def user_json(user: User) -> dict[str, Any]:
    """A user as the API answers it (never a password hash)."""
    return {"name": user.name, "role": user.role, "disabled": user.disabled, "created_at": user.created_at,
            "grants": [grant_json(g) for g in user.grants]}


def grant_json(grant: Grant) -> dict[str, Any]:
    return {"user": grant.user, "resource_type": grant.resource_type, "resource_id": grant.resource_id,
            "permission": grant.permission}


def token_json(token: Token) -> dict[str, Any]:
    """A token's record (never its secret)."""
    return {"id": token.id, "user": token.user, "name": token.name, "created_at": token.created_at,
            "revoked_at": token.revoked_at, "expires_at": token.expires_at}


# -- users (admins only) ------------------------------------------------------------------
@router.get("/users")
def list_users(request: Request) -> Response:
    return _json({"items": [user_json(u) for u in _store(request).list_users()]})


@router.post("/users")
async def create_user(body: UserCreate, request: Request) -> Response:
    # Argon2id hashing is slow by design: off the event loop.
    user = await run_in_threadpool(_store(request).create_user, body.name, body.role, body.password)
    return _json(user_json(user), 201)


@router.get("/users/{name}")
def get_user(name: str, request: Request) -> Response:
    return _json(user_json(_store(request).get_user(name)))


@router.post("/users/{name}/disable")
def disable_user(name: str, request: Request) -> Response:
    return _json(user_json(_store(request).set_disabled(name, True)))


@router.post("/users/{name}/enable")
def enable_user(name: str, request: Request) -> Response:
    return _json(user_json(_store(request).set_disabled(name, False)))


@router.put("/users/{name}/role")
def set_role(name: str, body: RoleChange, request: Request) -> Response:
    return _json(user_json(_store(request).set_role(name, body.role)))


@router.post("/users/{name}/grants")
def grant(name: str, body: GrantCreate, request: Request) -> Response:
    created = _store(request).grant(name, body.resource_type, body.resource_id, body.permission)
    return _json(grant_json(created), 201)


# -- tokens (own tokens for everyone, all tokens for admins) -------------------------------
@router.get("/tokens")
def list_tokens(request: Request, user: str | None = None) -> Response:
    caller = _restricted(_caller(request))
    if caller is not None:
        if user not in (None, caller.name):
            return _forbidden(f"user {caller.name!r} may list only their own tokens", "user")
        user = caller.name
    return _json({"items": [token_json(t) for t in _store(request).list_tokens(user)]})


@router.post("/tokens")
def create_token(body: TokenCreate, request: Request) -> Response:
    caller = _caller(request)
    owner = body.user or (caller.name if caller is not None else None)
    if owner is None:
        return error_response(422, "InvalidInput", "user: name the user the token acts as", field="user")
    restricted = _restricted(caller)
    if restricted is not None and owner != restricted.name:
        return _forbidden("only an admin may create a token for another user", "user")
    record, secret = _store(request).create_token(owner, body.name, body.expires_in_ms)
    return _json({**token_json(record), "token": secret}, 201)


@router.delete("/tokens/{token_id}")
def revoke_token(token_id: str, request: Request) -> Response:
    caller = _restricted(_caller(request))
    store = _store(request)
    # Another user's token reads as missing: its id is not the caller's to learn about.
    if caller is not None and all(t.id != token_id for t in store.list_tokens(caller.name)):
        raise NotFound(f"token {token_id!r:.40} not found", resource="token", id=token_id)
    return _json(token_json(store.revoke_token(token_id)))
