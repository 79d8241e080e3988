"""Password sign-in for browsers: ``POST /login/password`` starts a session.

The web UI signs a user in here and then calls the API with the session cookie
(:mod:`shipyard.server._session`: HttpOnly, signed, with a CSRF token that every change
must repeat). The body is JSON only, ``{"username", "password"}``: a form on another site
cannot send JSON, so no other site can sign a browser in to an account of its choosing.

Failures are throttled by the server's :class:`~shipyard.access.LoginLimiter`, the one
that also throttles basic auth, per user name and per address: guesses made here and
there count together. A wrong password and a disabled user get the same answer.

Without single sign-on configured, sessions are signed with a random key made when the
server starts (:func:`local_sessions`): a restart signs everyone out.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from shipyard.access import AccessStore, LoginLimiter
from shipyard.server._errors import error_response
from shipyard.server._schemas import ERROR_ANSWERS, ErrorBody, answers
from shipyard.server._session import Sessions

__all__ = ["SESSION_MAX_AGE", "local_sessions", "router"]

SESSION_MAX_AGE = 8 * 3600.0  # seconds a password session lasts without single sign-on configured

_ANSWERS: dict[int | str, dict[str, Any]] = {
    **ERROR_ANSWERS, 501: {"model": ErrorBody, "description": "Sessions need the sso extra"}}

router = APIRouter(tags=["sign-in"], responses=_ANSWERS)


class PasswordLogin(BaseModel):
    username: str = Field(min_length=1, max_length=256)
    password: str = Field(min_length=1, max_length=1024)


class SignedIn(BaseModel):
    """Who the session belongs to; the session itself travels in cookies."""

    model_config = ConfigDict(extra="forbid")

    name: str
    role: str


def local_sessions() -> Sessions:
    """Browser sessions for a server without single sign-on, signed with a random key made
    at start (a restart signs everyone out)."""
    return Sessions(secrets.token_urlsafe(32), SESSION_MAX_AGE, secure=False)


@router.post("/login/password", responses=answers(SignedIn, description="Signed in: the session cookies are set"))
async def password_login(body: PasswordLogin, request: Request) -> Response:
    """Check the password and start a browser session (``shipyard_session`` and ``shipyard_csrf`` cookies)."""
    sessions: Sessions = request.app.state.sessions
    limiter: LoginLimiter = request.app.state.login_limiter
    keys = (f"user:{body.username[:64]}", f"addr:{request.client.host if request.client else '?'}")
    verdict, wait = limiter.verdict(*keys)
    if verdict == "refuse":
        refused = error_response(429, "TooManyRequests", "too many failed logins: try again later")
        refused.headers["retry-after"] = str(max(1, int(wait + 0.999)))
        return refused
    if verdict == "slow":
        await asyncio.sleep(wait)
    store: AccessStore = request.app.state.access
    user = await run_in_threadpool(store.check_password, body.username, body.password)
    if user is None:
        limiter.failed(*keys)
        return error_response(401, "Unauthorized", "wrong user name or password, or a disabled user")
    limiter.succeeded(keys)
    response = Response(orjson.dumps({"name": user.name, "role": user.role}), media_type="application/json")
    sessions.set_cookies(response, sessions.issue(user.name))
    return response
