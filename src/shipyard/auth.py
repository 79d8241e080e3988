"""Bearer-token authentication and the loopback bind rule, shared by the HTTP faces.

``shipyard server`` (the REST API) and ``shipyard serve`` (model serving) both listen
on 127.0.0.1 unless told otherwise; any other address needs authentication (a token, or
users with their own API tokens) or an explicit ``--insecure``, and a shared token of at
least :data:`MIN_TOKEN_LENGTH` characters (:func:`check_bind`). :class:`TokenAuthMiddleware`
then requires ``Authorization: Bearer <token>`` on every path but the face's health checks.

>>> check_bind("127.0.0.1", token=None, insecure=False)  # loopback: always fine
>>> is_loopback("::1"), is_loopback("0.0.0.0")
(True, False)
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Callable, Iterable

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from shipyard.errors import ConfigError

__all__ = ["MIN_TOKEN_LENGTH", "TokenAuthMiddleware", "check_bind", "is_loopback"]

# A shared token reachable from the network must resist guessing: 32 characters of
# ``secrets.token_urlsafe`` carry 192 bits. Shipyard's own API tokens have 256 bits.
MIN_TOKEN_LENGTH = 32


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None, insecure: bool, *, users: bool = False) -> None:
    """Refuse to listen beyond loopback without authentication unless told ``--insecure``,
    and with a shared ``token`` (``SHIPYARD_TOKEN``) shorter than :data:`MIN_TOKEN_LENGTH`
    even then. ``users``: users with API tokens authenticate requests (no shared token needed).
    """
    if is_loopback(host):
        return
    if token and len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(
            f"refusing to listen on {host} with a SHIPYARD_TOKEN of {len(token)} characters: a token "
            f"reachable from the network needs at least {MIN_TOKEN_LENGTH} (for example "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`)",
            field="token",
        )
    if not token and not users and not insecure:
        raise ConfigError(
            f"refusing to listen on {host} without authentication: set SHIPYARD_TOKEN, "
            "or pass --insecure to accept unauthenticated requests from the network",
            field="host",
        )


class TokenAuthMiddleware:
    """Require ``Authorization: Bearer <token>`` on every request but those to ``open_paths``.

    The bearer is ``token``, or any for which ``check`` (a hook, such as the users' API
    tokens of :class:`shipyard.access.TokenCheck`) answers true. ``check`` runs off the event
    loop, unless it has an ``answer_now(token)``, which answers on the loop (True or False)
    when it can without I/O, or None when only ``check`` can tell.
    """

    def __init__(self, app: ASGIApp, token: str | None, open_paths: Iterable[str] = (),
                 check: Callable[[str], bool] | None = None) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode() if token else None
        self._open = frozenset(open_paths)
        self._check = check
        self._answer_now: Callable[[str], bool | None] | None = getattr(check, "answer_now", None)

    def _accepted_now(self, given: bytes) -> bool | None:
        """Whether the ``Authorization`` value ``given`` is accepted, when that is known on
        the loop; None when only ``check`` can tell."""
        if self._expected is not None and secrets.compare_digest(given, self._expected):
            return True
        if self._check is None or given[:7].lower() != b"bearer " or len(given) == 7:
            return False
        return self._answer_now(given[7:].decode("latin-1")) if self._answer_now is not None else None

    async def _checked(self, given: bytes) -> bool:
        """``check``'s answer for the bearer token in ``given``, asked off the loop."""
        return self._check is not None and bool(await run_in_threadpool(self._check, given[7:].decode("latin-1")))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in self._open:
            given = dict(scope["headers"]).get(b"authorization", b"")
            # The answer comes on the loop when it can: no coroutine, no thread for most requests.
            accepted = self._accepted_now(given)
            if not (await self._checked(given) if accepted is None else accepted):
                body = b'{"error":{"code":"Unauthorized","message":"missing or wrong bearer token"}}'
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", str(len(body)).encode()),
                                        (b"www-authenticate", b"Bearer")]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
