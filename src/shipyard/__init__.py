"""Shipyard: the whole ML loop in one package.

Track → version data → run pipelines → register → serve → monitor → alert →
retrain → gate → roll out. This namespace is the user's API; everything here is a
thin layer over :class:`shipyard.Client`.

>>> import shipyard
>>> with shipyard.start_run(experiment="churn") as run:   # doctest: +SKIP
...     shipyard.log_params({"lr": 0.1, "depth": 6})
...     shipyard.log_metric("loss", 0.3, step=1)
"""

from shipyard import data, datasets, features, monitoring
from shipyard._lazy import lazy_exports
from shipyard.autolog import autolog
from shipyard.client import Client
from shipyard.config import Config, load_config
from shipyard.data import log_input, log_output
from shipyard.errors import (
    AlreadyExists,
    ConfigError,
    Conflict,
    IntegrityError,
    InvalidInput,
    MissingExtra,
    NotFound,
    PermissionDenied,
    PromotionRefused,
    ShipyardError,
    StorageError,
    Unavailable,
)
from shipyard.fluent import (
    ActiveRun,
    active_run,
    end_run,
    get_client,
    load_model,
    log_artifact,
    log_artifacts,
    log_labels,
    log_metric,
    log_metrics,
    log_model,
    log_param,
    log_params,
    pipeline,
    register_model,
    save_model,
    serve,
    set_client,
    set_tag,
    set_tags,
    start_run,
    step,
)
from shipyard.registry import (
    BeatsHolder,
    CompatibleSignature,
    MaxLatency,
    MinMetric,
    ModelVersion,
    PromotionPolicy,
    RegisteredModel,
)
from shipyard.tracking import Experiment, Metric, Run, RunStatus

__version__ = "0.1.0"

__all__ = [
    "ActiveRun",
    "AlreadyExists",
    "BeatsHolder",
    "Client",
    "CompatibleSignature",
    "Config",
    "ConfigError",
    "Conflict",
    "Experiment",
    "IntegrityError",
    "InvalidInput",
    "MaxLatency",
    "Metric",
    "MinMetric",
    "MissingExtra",
    "ModelVersion",
    "NotFound",
    "PermissionDenied",
    "PromotionPolicy",
    "PromotionRefused",
    "RegisteredModel",
    "Run",
    "RunStatus",
    "ShipyardError",
    "StorageError",
    "Unavailable",
    "active_run",
    "autolog",
    "batch_predict",
    "choice",
    "data",
    "datasets",
    "end_run",
    "features",
    "get_client",
    "load_config",
    "load_model",
    "log_artifact",
    "log_artifacts",
    "log_input",
    "log_labels",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_output",
    "log_param",
    "log_params",
    "loguniform",
    "monitoring",
    "pipeline",
    "randint",
    "register_model",
    "save_model",
    "serve",
    "set_client",
    "set_tag",
    "set_tags",
    "start_run",
    "step",
    "tune",
    "uniform",
]

# Loaded on first use: the search needs Optuna (the ``tune`` extra), and scoring Arrow and the
# client's stores, which ``import shipyard`` must not.
_LAZY = {"batch_predict": "scoring", "choice": "tuning", "loguniform": "tuning", "randint": "tuning",
         "tune": "tuning", "uniform": "tuning"}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__, globals())
