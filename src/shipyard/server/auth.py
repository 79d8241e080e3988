"""Bearer-token authentication of the REST API; the shared implementation is :mod:`shipyard.auth`."""

from __future__ import annotations

from starlette.types import ASGIApp

from shipyard.auth import TokenAuthMiddleware as _TokenAuthMiddleware
from shipyard.auth import check_bind, is_loopback

__all__ = ["TokenAuthMiddleware", "check_bind", "is_loopback"]

_OPEN_PATHS = frozenset({"/api/v1/health"})


class TokenAuthMiddleware(_TokenAuthMiddleware):
    """Require ``Authorization: Bearer <token>`` on every request but the health check."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        super().__init__(app, token, open_paths=_OPEN_PATHS)
