"""LightGBM autologging: ``lightgbm.train`` and the scikit-learn wrappers' ``fit``.

The per-iteration metrics come from a callback added to the call's ``callbacks``
(both ``train`` and the wrappers' ``fit`` take them). Importance is recorded as
``split`` and ``gain``. A ``Dataset`` frees its raw data once built, so the model's
input example is taken from it before training.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import ModuleType
from typing import Any

import lightgbm

from shipyard.autolog._boosting import (
    Trained,
    bind_call,
    log_evaluations,
    patch_training,
    record_train,
    record_wrapper_fit,
)
from shipyard.autolog._describe import example_rows
from shipyard.autolog._hooks import Patch
from shipyard.autolog._record import Settings
from shipyard.fluent import ActiveRun

__all__ = ["patch"]

_WRAPPERS = ("LGBMModel", "LGBMClassifier", "LGBMRegressor", "LGBMRanker")
_IMPORTANCE = ("split", "gain")


class _Recorder:
    """A LightGBM callback: logs each evaluation result after every iteration."""

    order = 25  # before early_stopping (30), which ends training by raising: the last round is logged
    before_iteration = False

    def __init__(self, run: ActiveRun) -> None:
        self.run = run

    def __call__(self, env: Any) -> None:
        results = {(item[0], item[1]): item[2] for item in env.evaluation_result_list or []}
        log_evaluations(self.run, results, env.iteration)


def patch(settings: Settings, module: ModuleType) -> list[Patch]:
    """Wrap ``lightgbm.train`` and each wrapper's ``fit``."""
    return patch_training(settings, module, lightgbm.sklearn, _WRAPPERS, _train, _fit)


def _train(settings: Settings, original: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    bound = bind_call(original, args, kwargs)
    if bound is None:  # the call itself is wrong: train will say so
        return original(*args, **kwargs)
    arguments = bound.arguments
    params = {**dict(arguments["params"] or {}), "num_boost_round": arguments["num_boost_round"]}
    train_set = arguments["train_set"]
    example = example_rows(getattr(train_set, "data", None))  # None for a file path

    def train(run: ActiveRun) -> Any:
        arguments["callbacks"] = [*(arguments["callbacks"] or []), _Recorder(run)]
        return original(*bound.args, **bound.kwargs)

    return record_train(settings, "lightgbm", params, example, train, _trained)


def _fit(settings: Settings, original: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    def train(run: ActiveRun, estimator: Any) -> Any:
        try:
            bound = inspect.signature(original).bind(*args, **kwargs)
        except TypeError:
            return original(*args, **kwargs)
        callbacks = bound.arguments.get("callbacks")
        bound.arguments["callbacks"] = [*(callbacks or []), _Recorder(run)]
        return original(*bound.args, **bound.kwargs)

    return record_wrapper_fit(settings, original, args, kwargs, train,
                              lambda estimator: _trained(estimator.booster_, estimator))


def _trained(booster: Any, model: Any = None) -> Trained:
    names = booster.feature_name()
    importance = {kind: dict(zip(names, booster.feature_importance(importance_type=kind).tolist(), strict=True))
                  for kind in _IMPORTANCE}
    best = booster.best_iteration  # 0 unless early stopping chose one
    return Trained(model=booster if model is None else model, importance=importance,
                   best_iteration=best if best > 0 else None)
