"""MLflow's REST API on ``shipyard server``: point ``MLFLOW_TRACKING_URI`` at Shipyard.

The official ``mlflow`` client (3.x) logs runs, models and artifacts, and uses the
registry, through the endpoints here; they read and write the same stores as
Shipyard's own ``/api/v1``, so a run logged by ``mlflow`` is a Shipyard run and the
reverse. One module per part of MLflow's API:

======================= ===================================================================
``experiments``         ``/api/2.0/mlflow/experiments/*``
``runs``                ``/api/2.0/mlflow/runs/*``, ``/api/2.0/mlflow/metrics/get-history``
``logged_model_routes`` ``/api/2.0/mlflow/logged-models*`` (the mapping: ``logged_models``)
``registry``            ``/api/2.0/mlflow/registered-models/*``, ``/api/2.0/mlflow/model-versions/*``
``artifacts``           ``/api/2.0/mlflow-artifacts/artifacts*``, ``/api/3.0/mlflow/server-info``
======================= ===================================================================

``routing`` reads MLflow's request messages and holds the dispatch table, ``wire``
writes MLflow's JSON, ``errors`` its error bodies, ``filters`` its small search
language. :class:`MlflowApi` serves all of it in front of the FastAPI app: any other
path or method under these prefixes answers 404 ``ENDPOINT_NOT_FOUND``, never a
redirect, and everything else passes through untouched.

>>> app.add_middleware(MlflowApi)  # doctest: +SKIP
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from shipyard.server.mlflow import _artifacts as artifacts
from shipyard.server.mlflow import _experiments as experiments
from shipyard.server.mlflow import _logged_model_routes as logged_model_routes
from shipyard.server.mlflow import _registry as registry
from shipyard.server.mlflow import _runs as runs
from shipyard.server.mlflow._errors import endpoint_not_found, response_for
from shipyard.server.mlflow._routing import Routes

__all__ = [
    "MlflowApi",
    "PREFIXES",
    "ROUTES",
]

PREFIXES = ("/api/2.0/mlflow/", "/api/2.0/mlflow-artifacts/", "/api/3.0/mlflow/")

ROUTES = Routes()
for _table in (experiments.routes, runs.routes, logged_model_routes.routes, registry.routes,
               artifacts.routes, artifacts.server_routes):
    ROUTES.extend(_table)


def route_path(scope: Scope) -> str:
    """The request path below the app's mount point (``root_path``), as routing sees it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return path[len(root):] or "/"
    return path


class MlflowApi:
    """ASGI middleware serving MLflow's API under :data:`PREFIXES`; other requests pass on.

    Works under a path prefix: a mount (``root_path``) is stripped before matching, so a
    tracking URI such as ``http://host/mlflow`` reaches the same endpoints.
    """

    def __init__(self, app: ASGIApp, routes: Routes = ROUTES) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        if not path.startswith(PREFIXES) and path != "/api/2.0/mlflow-artifacts/artifacts":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        found = self.routes.match(method, path)
        try:
            if found is None:
                response = endpoint_not_found(method, path)
            else:
                endpoint, params = found
                response = await endpoint(Request({**scope, "path_params": params}, receive))
        except Exception as exc:  # every failure leaves as an MLflow error body
            response = response_for(exc, method, path)
        await response(scope, receive, send)
