"""XGBoost autologging: ``xgboost.train`` and the scikit-learn wrappers' ``fit``.

The per-iteration metrics come from a ``TrainingCallback`` added to the call (a
wrapper takes callbacks as a constructor parameter, so it is set for the duration of
``fit`` and put back after). Random-forest wrappers refuse callbacks: their one round
of evaluation results is read from ``evals_result()`` after the fit. Importance is
recorded as ``weight`` and ``gain``. A ``DMatrix`` keeps its data only in XGBoost's
sparse form: the model's input example is rebuilt from its first rows (missing
values as NaN, columns named by its feature names).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import xgboost
from xgboost.callback import TrainingCallback

from shipyard.autolog._boosting import (
    Trained,
    bind_call,
    log_evaluations,
    patch_training,
    record_train,
    record_wrapper_fit,
)
from shipyard.autolog._hooks import Patch
from shipyard.autolog._record import Settings
from shipyard.fluent import ActiveRun

__all__ = ["patch"]

_WRAPPERS = ("XGBModel", "XGBClassifier", "XGBRegressor", "XGBRanker", "XGBRFClassifier", "XGBRFRegressor")
_IMPORTANCE = ("weight", "gain")
_EXAMPLE_ROWS = 5


class _Recorder(TrainingCallback):
    """Logs the newest value of each evaluation set's metrics after every boosting round."""

    def __init__(self, run: ActiveRun) -> None:
        super().__init__()
        self.run = run

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        log_evaluations(self.run, _latest(evals_log), epoch)
        return False  # never the reason training stops


def patch(settings: Settings, module: ModuleType) -> list[Patch]:
    """Wrap ``xgboost.train`` and each wrapper's ``fit``."""
    return patch_training(settings, module, xgboost.sklearn, _WRAPPERS, _train, _fit)


def _train(settings: Settings, original: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    bound = bind_call(original, args, kwargs)
    if bound is None:  # the call itself is wrong: train will say so
        return original(*args, **kwargs)
    arguments = bound.arguments
    params = {**dict(arguments["params"] or {}), "num_boost_round": arguments["num_boost_round"],
              "early_stopping_rounds": arguments["early_stopping_rounds"], "maximize": arguments["maximize"]}

    def train(run: ActiveRun) -> Any:
        arguments["callbacks"] = [*(arguments["callbacks"] or []), _Recorder(run)]
        return original(*bound.args, **bound.kwargs)

    return record_train(settings, "xgboost", params, _example(arguments["dtrain"]), train, _trained)


def _fit(settings: Settings, original: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    def train(run: ActiveRun, estimator: Any) -> Any:
        if type(estimator).__name__.startswith("XGBRF"):
            result = original(*args, **kwargs)
            for step, results in enumerate(_rounds(estimator.evals_result())):
                log_evaluations(run, results, step)
            return result
        previous = estimator.callbacks
        estimator.callbacks = [*(previous or []), _Recorder(run)]
        try:
            return original(*args, **kwargs)
        finally:
            estimator.callbacks = previous  # get_params must show what the user set

    return record_wrapper_fit(settings, original, args, kwargs, train,
                              lambda estimator: _trained(estimator.get_booster(), estimator))


def _trained(booster: Any, model: Any = None) -> Trained:
    importance = {}
    for kind in _IMPORTANCE:
        try:
            importance[kind] = booster.get_score(importance_type=kind)
        except Exception as error:  # a linear booster has no split-based importance
            warnings.warn(f"autolog: xgboost {kind} importance not recorded: {error}", RuntimeWarning, stacklevel=2)
    best = booster.attr("best_iteration")  # set by early stopping only
    return Trained(model=booster if model is None else model, importance=importance,
                   best_iteration=None if best is None else int(best))


def _latest(evals_log: Any) -> dict[tuple[str, str], Any]:
    out = {}
    for data, metrics in evals_log.items():
        for metric, values in metrics.items():
            value = values[-1]
            out[(data, metric)] = value[0] if isinstance(value, tuple) else value  # cv: (mean, std)
    return out


def _rounds(evals_result: Any) -> list[dict[tuple[str, str], Any]]:
    rounds: list[dict[tuple[str, str], Any]] = []
    for data, metrics in evals_result.items():
        for metric, values in metrics.items():
            for step, value in enumerate(values):
                if step == len(rounds):
                    rounds.append({})
                rounds[step][(data, metric)] = value
    return rounds


def _example(dtrain: Any) -> Any:
    """The first rows of a DMatrix as a DataFrame (an ndarray when it has no feature names)."""
    try:
        rows = dtrain.get_data()[:_EXAMPLE_ROWS].tocoo()
    except Exception:  # an external-memory or quantile DMatrix keeps no rows to read back
        return None
    dense = np.full(rows.shape, np.nan)
    dense[rows.row, rows.col] = rows.data
    names = dtrain.feature_names
    return pd.DataFrame(dense, columns=names) if names else dense
