"""Bearer-token authentication of the REST API; the shared implementation is :mod:`shipyard.auth`."""

from __future__ import annotations

from starlette.types import ASGIApp

from shipyard.auth import TokenAuthMiddleware as _TokenAuthMiddleware
from shipyard.auth import check_bind, is_loopback
from shipyard.server._docs import ASSETS

__all__ = ["TokenAuthMiddleware", "check_bind", "is_loopback"]

# The health check, and the pages a browser opens before it could send a token: the
# landing page and the API documentation (static, holding no data; every call made
# from it still needs the token).
_OPEN_PATHS = frozenset({"/api/v1/health", "/", "/docs", "/openapi.json",
                         *(f"/docs/assets/{name}" for name in ASSETS)})


class TokenAuthMiddleware(_TokenAuthMiddleware):
    """Require ``Authorization: Bearer <token>`` on every request but the health check
    and the documentation pages."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        super().__init__(app, token, open_paths=_OPEN_PATHS)
