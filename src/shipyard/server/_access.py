"""Authentication and authorization of every request to ``shipyard server``.

:class:`AccessMiddleware` sits in front of everything (the MLflow-compatible API
included) and, for each request:

1. looks the route up in :data:`~shipyard.server._permissions.PERMISSIONS`; open routes
   (health, documentation) pass untouched;
2. authenticates ``Authorization: Bearer <token>`` (the server's own ``SHIPYARD_TOKEN``,
   an admin credential, or a user's API token: ``MLFLOW_TRACKING_TOKEN``) or ``Basic``
   (``MLFLOW_TRACKING_USERNAME``/``PASSWORD``; failures throttled per user and per
   address); bearer tokens resolve through a :class:`~shipyard.access.TokenCache`
   checked against the access generation on every request, so a revoked token or a
   disabled user is refused at the next one; passwords are checked against the store;
3. checks :func:`~shipyard.access.may` for the route's action, and runs the rest of the
   request :func:`~shipyard.registry.acting_as` the user, so the audit log names them
   and never a client-supplied ``actor``.

A browser signed in through single sign-on (:mod:`shipyard.server._oidc`) is
authenticated by its session cookie when it sends no ``Authorization`` header; a
state-changing request so authenticated also needs the session's ``X-CSRF-Token``.

With no ``SHIPYARD_TOKEN`` and no users the server is open, as for local use (the bind
rule keeps it on loopback); creating the first user turns authentication on. A server
started with ``--insecure`` logs a warning once it has started, and if it runs open says
so on every ``/api/v1/health`` too: a warning in the log and the ``X-Shipyard-Insecure:
true`` header on the answer.

The authenticated user travels to the handlers in ``scope["shipyard.user"]`` (absent
while the server runs open), for routes whose rights depend on who asks (own tokens).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shipyard.access import PERMISSIONS, ROLES, AccessStore, LoginLimiter, Resource, TokenCache, User, may
from shipyard.errors import InvalidInput, ShipyardError
from shipyard.registry import acting_as
from shipyard.server._permissions import OPEN, Call, Rule, match
from shipyard.server._session import CSRF_HEADER, SAFE_METHODS, Sessions
from shipyard.server.mlflow import PREFIXES, route_path

__all__ = ["INSECURE_HEADER", "SHARED_TOKEN_USER", "USER_SCOPE_KEY", "AccessMiddleware"]

logger = logging.getLogger("shipyard.server")

SHARED_TOKEN_USER = User("admin", "admin")  # who SHIPYARD_TOKEN, the server's own token, acts as
_ADMIN_ONLY = Rule("admin")  # a route missing from the table: admins only
_USERS_RECHECK_S = 2.0  # how stale "no users yet" may be while the server runs open
_MAX_BODY = 16 * 1024 * 1024  # bodies read to find a resource (larger ones: the global role decides)
_HEALTH = "/api/v1/health"
INSECURE_HEADER = "x-shipyard-insecure"
USER_SCOPE_KEY = "shipyard.user"


class _Refused(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None,
                 field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers, self.field = status, message, headers or {}, field


class AccessMiddleware:
    """Authenticate and authorize every request; see the module docstring."""

    def __init__(self, app: ASGIApp, shared_token: str | None = None, limiter: LoginLimiter | None = None,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep, insecure: bool = False) -> None:
        self.app = app
        self.insecure = insecure
        self._shared = shared_token.encode() if shared_token else None
        self.limiter = limiter or LoginLimiter()
        self._sleep = sleep
        self._auth_on = bool(shared_token)
        self._checked_at = -_USERS_RECHECK_S
        self._tokens: TokenCache | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan" and self.insecure:
                send = self._warn_when_started(scope, send)
            await self.app(scope, receive, send)
            return
        path, method = route_path(scope), scope["method"]
        found = match(method, path) or (match("GET", path) if method == "HEAD" else None)
        rule = found[1] if found else _ADMIN_ONLY
        if rule.action == OPEN:
            if path == _HEALTH and self.insecure and not await self._enabled(scope["app"].state.access):
                send = _warn_insecure(send)
            await self.app(scope, receive, send)
            return
        store: AccessStore = scope["app"].state.access
        try:
            if not await self._enabled(store):
                await self.app(scope, receive, send)
                return
            user = await self._authenticate(scope, store)
            receive = await self._authorize(scope, receive, user, rule, found[2] if found else {})
        except _Refused as refused:
            await _refuse(scope, send, path, refused)
            return
        scope[USER_SCOPE_KEY] = user
        with acting_as(user.name):
            await self.app(scope, receive, send)

    def _warn_when_started(self, scope: Scope, send: Send) -> Send:
        """``send`` that logs, once the app has started (its stores are open), what ``--insecure`` means now."""

        async def started(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                store: AccessStore | None = getattr(scope["app"].state, "access", None)
                if store is not None and not await self._enabled(store):
                    logger.warning(_INSECURE_WARNING)
                else:
                    logger.warning("WARNING: --insecure has no effect: authentication is on "
                                   "(users or SHIPYARD_TOKEN)")
            await send(message)

        return started

    async def _enabled(self, store: AccessStore) -> bool:
        if not self._auth_on and time.monotonic() - self._checked_at >= _USERS_RECHECK_S:
            self._auth_on = await run_in_threadpool(store.has_users)
            self._checked_at = time.monotonic()
        return self._auth_on

    async def _authenticate(self, scope: Scope, store: AccessStore) -> User:
        header = _header(scope, b"authorization")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() == "bearer" and credential:
            if self._shared is not None and secrets.compare_digest(credential.encode(), self._shared):
                return SHARED_TOKEN_USER
            user = await self._user_for_token(store, credential)
            if user is None:
                raise _Refused(401, "wrong bearer token: unknown, revoked, or of a disabled user")
            return user
        if scheme.lower() == "basic" and credential:
            return await self._login(scope, store, credential)
        if not header and (user := await _session_user(scope, store)) is not None:
            return user
        raise _Refused(401, "missing or wrong bearer token")

    async def _user_for_token(self, store: AccessStore, secret: str) -> User | None:
        """The bearer token's user, cached when ``store`` publishes an access generation: from
        memory on the event loop while the store can tell, without I/O, that nothing changed;
        else looked up off the loop."""
        if not TokenCache.supports(store):
            return await run_in_threadpool(store.user_for_token, secret)
        cache = self._tokens
        if cache is None or cache.store is not store:
            cache = self._tokens = TokenCache(store)  # type: ignore[arg-type]
        known, user = cache.cached(secret)
        if known:
            return user
        return await run_in_threadpool(cache.user_for_token, secret)

    async def _login(self, scope: Scope, store: AccessStore, credential: str) -> User:
        try:
            name, sep, password = base64.b64decode(credential, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise _Refused(401, "malformed basic credentials") from None
        if not sep:
            raise _Refused(401, "malformed basic credentials")
        client = scope.get("client")
        keys = (f"user:{name[:64]}", f"addr:{client[0] if client else '?'}")
        verdict, wait = self.limiter.verdict(*keys)
        if verdict == "refuse":
            raise _Refused(429, "too many failed logins: try again later",
                           {"retry-after": str(max(1, int(wait + 0.999)))})
        if verdict == "slow":
            await self._sleep(wait)
        user = await run_in_threadpool(store.check_password, name, password)
        if user is None:
            self.limiter.failed(*keys)
            raise _Refused(401, "wrong user name or password, or a disabled user")
        self.limiter.succeeded(keys)
        return user

    async def _authorize(self, scope: Scope, receive: Receive, user: User, rule: Rule,
                         params: dict[str, str]) -> Receive:
        if not callable(rule.action) and may(user, rule.action):
            return receive  # the global role suffices: nothing to look up
        body, receive = await _read_json(scope, receive) if rule.needs_body else (None, receive)
        call = Call(params, _query(scope), body, scope["app"].state)
        try:
            # A computed action may read the store (a guarded alias's policy): off the loop.
            action = await run_in_threadpool(rule.action, call) if callable(rule.action) else rule.action
            if rule.resources is not None:
                resources = await run_in_threadpool(rule.resources, call) or [None]
            else:
                resources = [await run_in_threadpool(rule.resource, call) if rule.resource else None]
        except InvalidInput as exc:
            raise _Refused(400, str(exc), field=exc.context.get("field")) from None
        for resource in resources:
            if not may(user, action, resource):
                named = await run_in_threadpool(_named, resource, scope["app"].state) if resource else None
                raise _Refused(403, _refusal(user, action, resource, named, f"{scope['method']} {route_path(scope)}"))
        return receive


def _refusal(user: User, action: str, resource: Resource | None, named: str | None, request: str) -> str:
    """Why ``user`` is refused: the action, what it concerns, the request, and what would allow it.

    >>> _refusal(User("bob", "viewer"), "edit", None, None, "POST /api/v1/experiments")
    "user 'bob' (viewer) may not edit on this server: POST /api/v1/experiments needs the editor role"
    """
    needed = next((role for role in ROLES if may(User("-", role), action)), "admin")
    why = f"{request:.200} needs the {needed} role"
    if resource is None:
        return f"user {user.name!r} ({user.role}) may not {action} on this server: {why}"
    if action in PERMISSIONS:  # a grant on the one resource would do too
        article = "an" if action[0] in "aeiou" else "a"
        why += f", or {article} {action} grant on that {resource.type.replace('_', ' ')}"
    return f"user {user.name!r} ({user.role}) may not {action} {named}: {why}"


def _named(resource: Resource, state: Any) -> str:
    """``experiment 'churn' (id 3)``, ``registered model 'churn'``: the resource as people know it."""
    kind = resource.type.replace("_", " ")
    if resource.type != "experiment":
        return f"{kind} {resource.id!r:.80}"
    try:
        name = state.tracking.get_experiment(resource.id).name
    except ShipyardError:  # an unknown or malformed id: the refusal still names it
        return f"{kind} {resource.id!r:.80}"
    return f"{kind} {name!r:.80} (id {resource.id:.20})"


_INSECURE_WARNING = "WARNING: --insecure: this server accepts unauthenticated requests from the network"


def _warn_insecure(send: Send) -> Send:
    """``send`` that marks the answer as from a server running open to the network, and logs it."""
    logger.warning(_INSECURE_WARNING)

    async def marked(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (INSECURE_HEADER.encode(), b"true")]}
        await send(message)

    return marked


async def _session_user(scope: Scope, store: AccessStore) -> User | None:
    """The user of a browser session cookie (single sign-on), if any; a state-changing
    request so authenticated must carry the session's CSRF token."""
    sessions: Sessions | None = getattr(scope["app"].state, "sessions", None)
    session = sessions.read(scope) if sessions is not None else None
    if sessions is None or session is None:
        return None
    user = await run_in_threadpool(sessions.user, session, store)
    if user is None:
        raise _Refused(401, "the session's user is unknown or disabled")
    if scope["method"] not in SAFE_METHODS and not sessions.csrf_ok(session, _header(scope, CSRF_HEADER)):
        raise _Refused(403, "a request authenticated by the session cookie needs its CSRF token in X-CSRF-Token")
    return user


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _query(scope: Scope) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))


async def _read_json(scope: Scope, receive: Receive) -> tuple[dict[str, Any] | None, Receive]:
    """The JSON object body (None for any other), and a ``receive`` that replays it."""
    if "json" not in _header(scope, b"content-type") or scope["method"] in ("GET", "HEAD"):
        return None, receive
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    raw = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}
        return await receive()

    try:
        data = orjson.loads(raw) if len(raw) <= _MAX_BODY else None
    except orjson.JSONDecodeError:
        data = None
    return (data if isinstance(data, dict) else None), replay


async def _refuse(scope: Scope, send: Send, path: str, refused: _Refused) -> None:
    if path.startswith(PREFIXES) or path == "/api/2.0/mlflow-artifacts/artifacts":
        code = {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 429: "REQUEST_LIMIT_EXCEEDED"}.get(
            refused.status, "INVALID_PARAMETER_VALUE")
        body = orjson.dumps({"error_code": code, "message": refused.message})
    else:
        kind = {401: "Unauthorized", 403: "PermissionDenied", 429: "TooManyRequests"}.get(
            refused.status, "InvalidInput")
        error: dict[str, Any] = {"code": kind, "message": refused.message}
        if refused.field:
            error["field"] = refused.field
        body = orjson.dumps({"error": error})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if refused.status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    headers += [(k.encode(), v.encode()) for k, v in refused.headers.items()]
    await send({"type": "http.response.start", "status": refused.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
