"""Users, roles, grants and API tokens under ``/api/v1``: a thin HTTP skin over an AccessStore.

User routes are for admins (the permission table says so), but for revoking a grant, which
``manage`` on the resource allows too. Token routes are open to every signed-in user for
their own tokens: listing, creating or revoking another user's needs the admin role. A
token's secret is in the answer that creates it, and never again. While the server runs
open (no users, no server token) the caller counts as an admin.

Every list is a page, as ``GET /api/v1/registry/models`` answers: ``max_results`` items after
``page_token``, ``{"items": [...], "next_page_token": "..."}`` (no token on the last page).
Each route declares what it answers (:mod:`shipyard.server._schemas`): the OpenAPI document
is exactly what the handlers send.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from shipyard.access import AccessStore, Grant, Token, User, may
from shipyard.errors import NotFound
from shipyard.server._access import USER_SCOPE_KEY
from shipyard.server._errors import error_response
from shipyard.server._schemas import ERROR_ANSWERS, Page, answers
from shipyard.tracking import Page as StorePage

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", responses=ERROR_ANSWERS)

_MAX_RESULTS = Query(100, ge=1, le=10_000, description="The most items in one page")
_PAGE_TOKEN = Query(None, description="The next_page_token of the previous page")


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


class GrantOut(BaseModel):
    """``permission`` on one experiment (``resource_id`` its id) or registered model (its name)."""

    user: str
    resource_type: str = Field(description="experiment or registered_model")
    resource_id: str
    permission: str = Field(description="read, edit or manage")


class UserOut(BaseModel):
    """A user: global role, whether disabled, and per-resource grants (never a password hash)."""

    name: str
    role: str = Field(description="viewer, editor, approver or admin")
    disabled: bool
    created_at: int = Field(description="Milliseconds since the epoch")
    grants: list[GrantOut]


class TokenOut(BaseModel):
    """An API token's record (never its secret). Times are milliseconds since the epoch."""

    id: str
    user: str
    name: str
    created_at: int
    revoked_at: int | None
    expires_at: int | None = Field(description="None: never")


class NewToken(TokenOut):
    """A token just created: its record and the secret, shown this once."""

    token: str = Field(description="The secret to send as 'Authorization: Bearer'")


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
    return error_response(403, "PermissionDenied", message, field=field)


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


def _page(page: StorePage, item_json: Any) -> Response:
    out: dict[str, Any] = {"items": [item_json(x) for x in page.items]}
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return _json(out)


# -- the caller ---------------------------------------------------------------------------
@router.get("/me", responses=answers(UserOut))
def me(request: Request) -> Response:
    """Who the request acts as: its user, with role and grants, so a face (the web UI) can offer
    only what the caller may do. While the server runs open the caller is an anonymous admin."""
    user = _caller(request)
    return _json(user_json(user if user is not None else User("anonymous", "admin")))


# -- users (admins only) ------------------------------------------------------------------
@router.get("/users", responses=answers(Page[UserOut]))
def list_users(request: Request, max_results: int = _MAX_RESULTS, page_token: str | None = _PAGE_TOKEN) -> Response:
    return _page(_store(request).list_users(max_results, page_token), user_json)


@router.post("/users", status_code=201, responses=answers(UserOut, 201, "Created"))
async def create_user(body: UserCreate, request: Request) -> Response:
    # Argon2id hashing is slow by design: off the event loop.
    user = await run_in_threadpool(_store(request).create_user, body.name, body.role, body.password)
    return _json(user_json(user), 201)


@router.get("/users/{name}", responses=answers(UserOut))
def get_user(name: str, request: Request) -> Response:
    return _json(user_json(_store(request).get_user(name)))


@router.post("/users/{name}/disable", responses=answers(UserOut))
def disable_user(name: str, request: Request) -> Response:
    return _json(user_json(_store(request).set_disabled(name, True)))


@router.post("/users/{name}/enable", responses=answers(UserOut))
def enable_user(name: str, request: Request) -> Response:
    return _json(user_json(_store(request).set_disabled(name, False)))


@router.put("/users/{name}/role", responses=answers(UserOut))
def set_role(name: str, body: RoleChange, request: Request) -> Response:
    return _json(user_json(_store(request).set_role(name, body.role)))


@router.get("/users/{name}/grants", responses=answers(Page[GrantOut]))
def list_grants(name: str, request: Request, max_results: int = _MAX_RESULTS,
                page_token: str | None = _PAGE_TOKEN) -> Response:
    return _page(_store(request).list_grants(name, max_results, page_token), grant_json)


@router.post("/users/{name}/grants", status_code=201, responses=answers(GrantOut, 201, "Created"))
def grant(name: str, body: GrantCreate, request: Request) -> Response:
    created = _store(request).grant(name, body.resource_type, body.resource_id, body.permission)
    return _json(grant_json(created), 201)


@router.delete("/users/{name}/grants/{resource_type}/{resource_id:path}", responses=answers(GrantOut))
def revoke_grant(name: str, resource_type: str, resource_id: str, request: Request) -> Response:
    """Take back the user's grant on one experiment (by id) or registered model (by name); answers it."""
    return _json(grant_json(_store(request).revoke_grant(name, resource_type, resource_id)))


# -- tokens (own tokens for everyone, all tokens for admins) -------------------------------
@router.get("/tokens", responses=answers(Page[TokenOut]))
def list_tokens(request: Request, user: str | None = None, max_results: int = _MAX_RESULTS,
                page_token: str | None = _PAGE_TOKEN) -> Response:
    caller = _restricted(_caller(request))
    if caller is not None:
        if user not in (None, caller.name):
            return _forbidden(f"user {caller.name!r} may list only their own tokens", "user")
        user = caller.name
    return _page(_store(request).list_tokens(user, max_results, page_token), token_json)


@router.post("/tokens", status_code=201, responses=answers(NewToken, 201, "Created"))
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


@router.delete("/tokens/{token_id}", responses=answers(TokenOut))
def revoke_token(token_id: str, request: Request) -> Response:
    caller = _restricted(_caller(request))
    store = _store(request)
    # Another user's token reads as missing: its id is not the caller's to learn about.
    if caller is not None and store.get_token(token_id).user != caller.name:
        raise NotFound(f"token {token_id!r:.40} not found", resource="token", id=token_id[:40])
    return _json(token_json(store.revoke_token(token_id)))
