"""Bearer-token authentication and the rule that guards non-loopback binds."""

from __future__ import annotations

import ipaddress
import secrets

from starlette.types import ASGIApp, Receive, Scope, Send

from shipyard.errors import ConfigError

__all__ = ["TokenAuthMiddleware", "check_bind"]

_OPEN_PATHS = frozenset({"/api/v1/health"})


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
    """Require ``Authorization: Bearer <token>`` on every request but the health check."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in _OPEN_PATHS:
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not secrets.compare_digest(given, self._expected):
                body = b'{"error":{"type":"Unauthorized","message":"missing or wrong bearer token"}}'
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"www-authenticate", b"Bearer")]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
