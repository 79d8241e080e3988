"""Model serving: the Open Inference Protocol and MLflow's scoring protocol over registered models.

``shipyard serve models:/churn@production`` (or :func:`shipyard.serve`) starts a
supervisor and worker processes; each worker loads the models, follows their
aliases, batches concurrent requests into single model calls, checks inputs at the
door, splits traffic between canary targets, mirrors some to a shadow, counts
everything for Prometheus and writes an inference log. The business logic lives in
plain modules (``batcher``, ``router``, ``validation``, ``service``,
``inference_log``, ``metrics``); ``app`` is the HTTP face and ``supervisor`` /
``worker`` the processes.

Serving reaches the stores only through a :class:`Backend` (a :class:`shipyard.Client`
is one), so the package sits at the domain layer and never imports the client. Models
that declare features get them through a :class:`FeatureLookup` built by a factory the
faces hand in (:class:`shipyard.features.OnlineLookup`), never by importing the feature store.

>>> cfg = ServeConfig.for_uri("models:/churn@production", port=8080, workers=2)
>>> run(cfg, functools.partial(shipyard.Client, config))   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shipyard._lazy import lazy_exports

if TYPE_CHECKING:
    from shipyard.serving._batcher import AdaptiveBatcher
    from shipyard.serving._config import (
        BatchingConfig,
        InferenceLogConfig,
        ModelConfig,
        ServeConfig,
        Shadow,
        Target,
        load_serve_config,
        make_serve_config,
    )
    from shipyard.serving._errors import (
        InferenceTimeout,
        MalformedRequest,
        ModelFailed,
        Overloaded,
        PayloadTooLarge,
    )
    from shipyard.serving._features import FeatureLookup, FeatureLookupFactory
    from shipyard.serving._service import Backend, Prediction, ServingService

__all__ = [
    "AdaptiveBatcher",
    "Backend",
    "BatchingConfig",
    "FeatureLookup",
    "FeatureLookupFactory",
    "InferenceLogConfig",
    "InferenceTimeout",
    "MalformedRequest",
    "ModelConfig",
    "ModelFailed",
    "Overloaded",
    "PayloadTooLarge",
    "Prediction",
    "ServeConfig",
    "ServingService",
    "Shadow",
    "Target",
    "bind_listener",
    "create_app",
    "load_serve_config",
    "make_serve_config",
    "run",
]

# Names load on first use: ``import shipyard`` (and every CLI command) does not pay for
# the batcher's numpy and pandas until something is served.
_WHERE = {
    "AdaptiveBatcher": "_batcher",
    **{name: "_config" for name in ("BatchingConfig", "InferenceLogConfig", "ModelConfig", "ServeConfig", "Shadow",
                                    "Target", "load_serve_config", "make_serve_config")},
    **{name: "_errors" for name in ("InferenceTimeout", "MalformedRequest", "ModelFailed", "Overloaded",
                                    "PayloadTooLarge")},
    "FeatureLookup": "_features",
    "FeatureLookupFactory": "_features",
    "Backend": "_service",
    "Prediction": "_service",
    "ServingService": "_service",
}
__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__, globals())


def bind_listener(host: str, port: int) -> Any:
    """A listening socket on ``host:port`` (see :func:`shipyard.serving._supervisor.bind_listener`):
    a taken port or an unknown host is one ConfigError before anything starts."""
    from shipyard.serving._supervisor import bind_listener as _bind_listener

    return _bind_listener(host, port)


def create_app(config: ServeConfig, backend: Backend, **options: Any) -> Any:
    """The ASGI app for ``config`` in this process (see :func:`shipyard.serving._worker.create_app`)."""
    from shipyard.serving._worker import create_app as _create_app
    from shipyard.serving._worker import secured

    return secured(_create_app(config, backend, **options), config)


def run(config: ServeConfig, backend_factory: Callable[[], Backend], *,
        on_ready: Callable[[Any], None] | None = None, features: FeatureLookupFactory | None = None) -> int:
    """Serve ``config`` with ``config.workers`` worker processes until SIGTERM/SIGINT.

    ``backend_factory`` is called in each worker to open its stores; it must be
    picklable (``functools.partial(shipyard.Client, config)``), and so must
    ``features``, called in a worker that serves a model declaring features
    (``shipyard.client._process.ProcessClient(config).feature_lookup``, which shares
    the worker's client when ``backend_factory`` is the same object's ``client``).
    Returns the exit status.
    """
    from shipyard.serving._supervisor import Supervisor

    return Supervisor(config, backend_factory, features).run(on_ready)
