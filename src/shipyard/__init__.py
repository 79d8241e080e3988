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
    "monitoring",
    "pipeline",
    "register_model",
    "save_model",
    "serve",
    "set_client",
    "set_tag",
    "set_tags",
    "start_run",
    "step",
]
