"""The ``shipyard server`` application: assembles the routers over one Client's stores."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from shipyard.access import LoginLimiter, SqlAccessStore
from shipyard.client import Client
from shipyard.config import Config
from shipyard.errors import ConfigError
from shipyard.pipelines._records import PipelineRuns
from shipyard.server import _alerts as alerts
from shipyard.server import _audit as audit
from shipyard.server import _automation as automation
from shipyard.server import _datasets as datasets
from shipyard.server import _deployments as deployments
from shipyard.server import _docs as docs
from shipyard.server import _features as features
from shipyard.server import _metrics as metrics
from shipyard.server import _monitoring as monitoring
from shipyard.server import _oidc as oidc
from shipyard.server import _openapi as openapi
from shipyard.server import _password_login as password_login
from shipyard.server import _pipelines as pipelines
from shipyard.server import _registry as registry
from shipyard.server import _tracking as tracking
from shipyard.server import _users as users
from shipyard.server import mlflow
from shipyard.server._access import AccessMiddleware
from shipyard.server._errors import install_error_handlers
from shipyard.server._limits import BodyLimit
from shipyard.ui import router as ui_router

__all__ = ["create_app"]


def create_app(config: Config | None = None, *, client: Client | None = None, insecure: bool = False) -> FastAPI:
    """Build the REST API. The server always works on the stores directly.

    A ``config`` with ``url`` set is refused: a server that forwarded to another
    server would hide where the data lives. ``/`` is the web UI (:mod:`shipyard.ui`) and
    ``/docs`` the API documentation (Swagger UI). Once ``config.token`` is set or a user exists,
    every request but ``/api/v1/health`` and those pages needs a credential (a bearer
    token or basic auth) whose user may do what the route needs (``server/_permissions.py``).
    ``insecure`` (``shipyard server --insecure``) marks every ``/api/v1/health`` answer of a
    server running open, and logs a warning for each.
    """
    client = client or Client(config)
    if client.config.url:
        raise ConfigError("the server needs direct store access: unset SHIPYARD_URL", field="url")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        app.state.tracking = client.tracking_store  # opens and migrates the database once
        app.state.registry = client.registry_store
        app.state.artifacts = client.registry_store.artifacts  # type: ignore[attr-defined]
        app.state.datasets = client.dataset_store
        app.state.features = client.feature_store
        app.state.monitoring = client.monitor_store
        app.state.alerts = client.alert_store
        app.state.deployments = client.deployments.store  # registrations of shipyard serve processes
        app.state.automation = client.backend.automation  # checks what applied policies name
        app.state.pipelines = PipelineRuns(client.tracking_store)  # runs are tracking data
        app.state.alert_engine = client.alert_engine()  # notifiers from the server's config
        app.state.metrics = metrics.create_registry(client)
        app.state.access = SqlAccessStore(client.backend.db)  # type: ignore[attr-defined]
        yield
        client.close()

    # The documentation page is served from vendored assets (server/docs.py), not a CDN.
    app = FastAPI(title="Shipyard", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=openapi.URL)
    openapi.install_openapi(app)  # adds the MLflow-compatible API's paths to FastAPI's document
    install_error_handlers(app)
    app.include_router(ui_router)  # the web UI at /, its files under /ui/assets/
    app.include_router(docs.router)
    app.include_router(tracking.router)
    app.include_router(registry.router)
    app.include_router(datasets.router)
    app.include_router(features.router)
    app.include_router(monitoring.router)
    app.include_router(alerts.router)
    app.include_router(deployments.router)
    app.include_router(automation.router)
    app.include_router(pipelines.router)
    app.include_router(audit.router)
    app.include_router(metrics.router)
    app.include_router(oidc.router)  # /login, /auth/callback: 404 without [auth.oidc]; /logout
    app.state.sessions, app.state.oidc = oidc.from_config(client.config.oidc)
    app.state.sessions = app.state.sessions or password_login.local_sessions()
    app.include_router(password_login.router)  # POST /login/password: the UI's sign-in
    # One throttle for every door a password comes through: basic auth and the sign-in form.
    app.state.login_limiter = limiter = LoginLimiter()
    app.include_router(users.router)
    app.add_middleware(mlflow.MlflowApi)  # MLflow's REST API, served before FastAPI routing
    # Every request, the MLflow API's included, is authenticated and authorized.
    app.add_middleware(AccessMiddleware, shared_token=client.config.token, insecure=insecure, limiter=limiter)
    # Outermost, so no layer (authorization reads some JSON bodies) ever holds more than the limit.
    app.add_middleware(BodyLimit, client.config.max_request_bytes, client.config.max_upload_bytes)  # 413s
    return app
