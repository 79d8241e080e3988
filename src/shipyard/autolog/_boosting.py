"""What XGBoost and LightGBM autologging share: the record of one training call.

Both frameworks train through a ``train`` function and through scikit-learn
wrappers whose ``fit`` calls it; both report evaluation results per iteration to
callbacks. A training call is recorded as:

* params before training (``train``'s params and rounds, or the wrapper's
  ``get_params``), with the class tags and a hash of the training data;
* one metric per evaluation set and metric name, ``<set>-<metric>``, at step =
  iteration, logged by the framework's callback as training goes;
* after training: ``best_iteration`` (and the wrapper's training metrics, as
  scikit-learn autologging computes them), feature importance artifacts and the
  model package, whose signature is taken from the first rows of the training data.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from shipyard.autolog._describe import class_tags, data_hash, example_rows, training_metrics
from shipyard.autolog._hooks import Patch, replace
from shipyard.autolog._importance import log_importance
from shipyard.autolog._record import Settings, _inputs
from shipyard.autolog._run import log_metrics, log_params, recording
from shipyard.fluent import ActiveRun

__all__ = ["Trained", "bind_call", "log_evaluations", "patch_training", "record_train", "record_wrapper_fit"]


def patch_training(settings: Settings, module: ModuleType, wrappers_module: ModuleType, wrappers: Iterable[str],
                   train: Callable[..., Any], fit: Callable[..., Any]) -> list[Patch]:
    """Wrap ``module.train`` with ``train`` and each scikit-learn wrapper's ``fit`` with ``fit``."""
    patches = [replace(module, "train", functools.partial(train, settings))]
    for name in wrappers:
        patches.append(replace(getattr(wrappers_module, name), "fit", functools.partial(fit, settings)))
    return patches


def bind_call(original: Callable[..., Any], args: tuple[Any, ...],
              kwargs: dict[str, Any]) -> inspect.BoundArguments | None:
    """The call's arguments by name, defaults filled in; None when the call itself is wrong (the
    framework then says so when it is called as given)."""
    try:
        bound = inspect.signature(original).bind(*args, **kwargs)
    except TypeError:
        return None
    bound.apply_defaults()
    return bound


@dataclass(frozen=True)
class Trained:
    """What one training call produced, as the framework module reads it off the result."""

    model: Any  # what is packaged: the Booster, or the fitted wrapper
    importance: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # kind → feature → value
    best_iteration: int | None = None


Train = Callable[[ActiveRun], Any]
"""Runs the framework's call with the recording callback of ``run`` added; returns its result."""


def record_train(settings: Settings, framework: str, params: Mapping[str, Any], example: Any,
                 train: Train, read: Callable[[Any], Trained]) -> Any:
    """Record a ``train(params, data, ...)`` call: ``read`` turns its result into :class:`Trained`."""
    with recording(settings, framework) as run:
        log_params(run.client, run.id, params)
        run.client.set_tags(run.id, {"estimator_name": "Booster", "estimator_class": f"{framework}.Booster"})
        booster = train(run)
        _finish(settings, run, read(booster), example)
        return booster


def record_wrapper_fit(settings: Settings, original: Callable[..., Any], args: tuple[Any, ...],
                       kwargs: dict[str, Any], train: Callable[[ActiveRun, Any], Any],
                       read: Callable[[Any], Trained]) -> Any:
    """Record a wrapper's ``fit(X, y, ...)``: ``train(run, estimator)`` runs it with the callback added."""
    estimator = args[0]
    inputs = _inputs(original, estimator, args[1:], kwargs)
    with recording(settings, type(estimator).__name__) as run:
        client = run.client
        log_params(client, run.id, estimator.get_params())
        client.set_tags(run.id, {**class_tags(estimator), "training_data_hash": data_hash(inputs.x, inputs.y)})
        result = train(run, estimator)
        client.log_metrics(run.id, training_metrics(estimator, inputs))
        _finish(settings, run, read(estimator), example_rows(inputs.x))
        return result


def log_evaluations(run: ActiveRun, results: Mapping[tuple[str, str], Any], step: int) -> None:
    """Log each ``(set, metric) → value`` as ``<set>-<metric>`` at ``step``."""
    log_metrics(run.client, run.id, {f"{data}-{metric}": value for (data, metric), value in results.items()}, step)


def _finish(settings: Settings, run: ActiveRun, trained: Trained, example: Any) -> None:
    if trained.best_iteration is not None:
        run.client.log_metric(run.id, "best_iteration", float(trained.best_iteration))
    for kind, values in trained.importance.items():
        log_importance(run.client, run.id, kind, values)
    if settings.log_models:
        run.client.log_model(run.id, trained.model, "model", input_example=example)
