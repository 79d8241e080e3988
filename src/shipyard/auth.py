"""Bearer-token authentication and the loopback bind rule, shared by the HTTP faces.

``shipyard server`` (the REST API) and ``shipyard serve`` (model serving) both listen
on 127.0.0.1 unless told otherwise; any other address needs a token or an explicit
``--insecure`` (:func:`check_bind`). :class:`TokenAuthMiddleware` then requires
``Authorization: Bearer <token>`` on every path but the face's health checks.

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

__all__ = ["TokenAuthMiddleware", "check_bind", "is_loopback"]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None, insecure: bool) -> None:
    """Refuse to listen beyond loopback without a token unless told ``--insecure``."""
    if not is_loopback(host) and not token and not insecure:
        raise ConfigError(
            f"refusing to listen on {host} without authentication: set SHIPYARD_TOKEN, "
            "or pass --insecure to accept unauthenticated requests from the network",
            field="host",
        )


class TokenAuthMiddleware:
    """Require ``Authorization: Bearer <token>`` on every request but those to ``open_paths``.

    The bearer is ``token``, or any for which ``check`` (a hook, such as the users' API
    tokens of :class:`shipyard.access.TokenCheck`) answers true.
    """

    def __init__(self, app: ASGIApp, token: str | None, open_paths: Iterable[str] = (),
                 check: Callable[[str], bool] | None = None) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode() if token else None
        self._open = frozenset(open_paths)
        self._check = check

    async def _accepted(self, given: bytes) -> bool:
        if self._expected is not None and secrets.compare_digest(given, self._expected):
            return True
        scheme, _, credential = given.partition(b" ")
        if self._check is None or scheme.lower() != b"bearer" or not credential:
            return False
        return bool(await run_in_threadpool(self._check, credential.decode("latin-1")))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in self._open:
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not await self._accepted(given):
                body = b'{"error":{"type":"Unauthorized","message":"missing or wrong bearer token"}}'
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", str(len(body)).encode()),
                                        (b"www-authenticate", b"Bearer")]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
