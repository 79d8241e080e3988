"""One serving worker: build the app over a backend, run it under uvicorn.

:func:`create_app` assembles an app in the current process (tests and embedding use
it directly). :func:`main` runs a worker process, forked by the supervisor's template
(:mod:`shipyard.serving._template`) or started as
``python -m shipyard.serving._worker <state dir> <socket fd> <worker id>``: it reads
the pickled ``(ServeConfig, backend factory, feature lookup factory)`` from the state directory, caps
OpenMP/BLAS threads, builds the backend, and serves the inherited listening socket
with uvicorn (uvloop + httptools when installed; :mod:`shipyard.serving._server`
accepts the connections). Once its models are live it touches
``ready-<pid>`` in the state directory and lists the modules it imported beside it.
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

__all__ = ["create_app", "main", "modules_file", "preload", "secured", "uvicorn_config"]

SPEC_FILE = "spec.pkl"


def modules_file(state: Path, pid: int) -> Path:
    """Where worker ``pid`` lists the modules it imported, once it is ready."""
    return state / f"modules-{pid}"


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


def preload(state: Path) -> None:
    """Import what :func:`main` needs before it serves (for the template to fork from):
    uvicorn and its fast loop and parser, and the modules of the pickled factories."""
    from shipyard.serving import _server  # noqa: F401 - uvicorn, and how workers run it

    for name in ("uvloop", "httptools", "threadpoolctl"):
        if importlib.util.find_spec(name) is not None:
            __import__(name)
    with open(state / SPEC_FILE, "rb") as handle:
        pickle.load(handle)  # unpickling imports the factories' modules (the client, its stores)


def main(argv: list[str], supervisor: int | None = None) -> int:
    """Serve as worker ``argv[2]`` until SIGTERM; ``supervisor`` (default: the parent) gets SIGUSR1 on reload."""
    from shipyard.serving._server import Server

    state, fd, worker = Path(argv[0]), int(argv[1]), argv[2]
    with open(state / SPEC_FILE, "rb") as handle:
        config, factory, features = pickle.load(handle)
    limits = _limit_threads(config.threads)
    backend = factory()
    listener = socket.socket(fileno=fd)
    supervisor = supervisor or os.getppid()

    def started() -> None:
        pid = os.getpid()
        listing = modules_file(state, pid)
        partial = listing.with_suffix(".tmp")
        partial.write_text("\n".join(sorted(sys.modules)), encoding="utf-8")
        partial.rename(listing)
        (state / f"ready-{pid}").touch()

    app = create_app(config, backend, worker=worker, metrics_dir=MetricsDirectory(state / "metrics"),
                     on_reload=lambda: os.kill(supervisor, signal.SIGUSR1), on_started=started, features=features)
    server = Server(uvicorn_config(secured(app, config), config), listener)
    try:
        server.run()
    finally:
        backend.close()
        del limits
    return 0 if server.started else 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
