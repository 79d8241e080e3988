"""One serving worker: build the app over a backend, run it under uvicorn.

:func:`create_app` assembles an app in the current process (tests and embedding use
it directly). :func:`main` is a worker process started by the supervisor as
``python -m shipyard.serving._worker <state dir> <socket fd> <worker id>``: it reads
the pickled ``(ServeConfig, backend factory, feature lookup factory)`` from the state directory, caps
OpenMP/BLAS threads, builds the backend, and serves the inherited listening socket
with uvicorn (uvloop + httptools when installed).
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shipyard.serving._app import ServingApp
from shipyard.serving._config import ServeConfig
from shipyard.serving._features import FeatureLookupFactory
from shipyard.serving._inference_log import InferenceLog, RunSink
from shipyard.serving._metrics import Metrics, MetricsDirectory
from shipyard.serving._service import Backend, ServingService

__all__ = ["create_app", "main", "secured", "uvicorn_config"]

SPEC_FILE = "spec.pkl"


def create_app(config: ServeConfig, backend: Backend, *, worker: str = "0",
               metrics_dir: MetricsDirectory | None = None, on_reload: Callable[[], None] | None = None,
               on_started: Callable[[], None] | None = None,
               features: FeatureLookupFactory | None = None) -> ServingApp:
    """The ASGI app serving ``config`` over ``backend`` (a :class:`shipyard.Client`).

    ``features`` builds the feature lookup for models that declare features (see
    :mod:`shipyard.serving._features`). Nothing is loaded until the ASGI lifespan
    starts (uvicorn does that).
    """
    metrics = Metrics()
    log = None
    if config.inference_log.enabled:
        host = socket.gethostname()
        sink = RunSink(backend, run_name=f"{host}-{os.getpid()}-w{worker}",
                       tags={"shipyard.serving.host": host, "shipyard.serving.pid": str(os.getpid()),
                             "shipyard.serving._worker": worker})
        log = InferenceLog(config.inference_log, sink, worker=f"w{worker}-{os.getpid()}", metrics=metrics)
    service = ServingService(config, backend, metrics=metrics, log=log, features=features)
    return ServingApp(service, config, worker=worker, metrics_dir=metrics_dir, on_reload=on_reload,
                      on_started=on_started)


HEALTH_PATHS = ("/v2/health/live", "/v2/health/ready", "/ping", "/health")


def secured(app: ServingApp, config: ServeConfig) -> Any:
    """``app`` behind bearer-token auth when ``config.token`` or ``config.token_check`` is set
    (health checks stay open)."""
    if not config.token and config.token_check is None:
        return app
    from shipyard.auth import TokenAuthMiddleware

    return TokenAuthMiddleware(app, config.token, open_paths=HEALTH_PATHS,  # type: ignore[arg-type]
                               check=config.token_check)


def uvicorn_config(app: Any, config: ServeConfig, **options: Any) -> Any:
    import uvicorn

    fast = importlib.util.find_spec("uvloop") is not None and importlib.util.find_spec("httptools") is not None
    return uvicorn.Config(
        app, loop="uvloop" if fast else "asyncio", http="httptools" if fast else "h11", lifespan="on",
        access_log=False, log_level="warning", timeout_graceful_shutdown=int(config.drain_timeout_s),
        backlog=4096, timeout_keep_alive=30, **options,
    )


def _limit_threads(threads: int) -> object:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # scikit-learn brings it; without it, leave the defaults
        return None
    return threadpool_limits(limits=threads)


def main(argv: list[str]) -> int:
    import uvicorn

    state, fd, worker = Path(argv[0]), int(argv[1]), argv[2]
    with open(state / SPEC_FILE, "rb") as handle:
        config, factory, features = pickle.load(handle)
    limits = _limit_threads(config.threads)
    backend = factory()
    listener = socket.socket(fileno=fd)
    supervisor = os.getppid()

    def started() -> None:
        (state / f"ready-{os.getpid()}").touch()

    app = create_app(config, backend, worker=worker, metrics_dir=MetricsDirectory(state / "metrics"),
                     on_reload=lambda: os.kill(supervisor, signal.SIGUSR1), on_started=started, features=features)
    server = uvicorn.Server(uvicorn_config(secured(app, config), config))
    try:
        server.run(sockets=[listener])
    finally:
        backend.close()
        del limits
    return 0 if server.started else 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
