"""The OpenAPI document of ``shipyard server``: one contract for every route it serves.

FastAPI writes the part of ``/api/v1`` and ``/metrics`` from the routes' declarations
(:mod:`shipyard.server._schemas`); the MLflow-compatible API, served by a middleware in
front of FastAPI, brings its own paths (:mod:`shipyard.server.mlflow._openapi`). The
document also says how to authenticate: a bearer token or basic auth on every route but
the open ones of the permission table. It is built once, on the first request for it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from shipyard.server._permissions import OPEN, match
from shipyard.server.mlflow._openapi import openapi_components, openapi_paths

__all__ = ["URL", "install_openapi"]

#: Where the document is served (``/openapi.json`` answers the same, for older links).
URL = "/api/v1/openapi.json"

_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "A user's API token, or the server's own"},
    "basic": {"type": "http", "scheme": "basic", "description": "A user's name and password"},
}


_DESCRIPTION = """Shipyard's REST API (`/api/v1`), its Prometheus metrics (`/metrics`) and the MLflow-compatible
API (`/api/2.0/mlflow…`, for `MLFLOW_TRACKING_URI`).

Errors of `/api/v1` are `{"error": {"code", "message", "field"?}}`: `code` names the error's class
(NotFound, InvalidInput…), `field` the part of the request at fault. A 429 or 503 says when to retry
in `Retry-After`. Lists come in pages: pass `max_results`, then each answer's `next_page_token` back
as `page_token` until an answer has none. The MLflow-compatible API answers errors as MLflow does,
`{"error_code", "message"}`.
"""


def _merge(document: dict[str, Any]) -> None:
    document["info"]["description"] = _DESCRIPTION
    document["paths"].update(openapi_paths())
    components = document.setdefault("components", {})
    components.setdefault("schemas", {}).update(openapi_components())
    components["securitySchemes"] = _SCHEMES
    document["security"] = [{"bearer": []}, {"basic": []}]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            found = match(method.upper(), path)
            if found is not None and found[1].action == OPEN:
                operation["security"] = []  # no credential needed


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` (and so :data:`URL`) answer the whole document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            _merge(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
