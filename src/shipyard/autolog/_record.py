"""Recording one outermost fit into a run: the active one, or one started around the call.

Before the fit: parameters, class and a hash of the training data, so a fit that
fails still shows what was tried (its run ends FAILED and the error propagates).
After it: training metrics, the search's extras, and the fitted model with its
signature when the estimator predicts.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shipyard.autolog._describe import (
    FitInputs,
    class_tags,
    clipped,
    data_hash,
    example_rows,
    params_of,
    training_metrics,
)
from shipyard.autolog._search import is_search, record_search
from shipyard.client import Client
from shipyard.errors import Conflict, InvalidInput
from shipyard.fluent import ActiveRun, active_run, get_client, start_run

__all__ = ["Settings", "fit_and_record"]


@dataclass(frozen=True)
class Settings:
    """How :func:`shipyard.autolog` was switched on."""

    client: Client | None
    log_models: bool
    max_tuning_runs: int | None


def fit_and_record(settings: Settings, original: Callable[..., Any], estimator: Any,
                   args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run ``original(estimator, *args, **kwargs)``, recorded into the active run or a new one."""
    inputs = _inputs(original, estimator, args, kwargs)
    run = active_run()
    if run is not None:
        return _fit(settings, run, original, estimator, args, kwargs, inputs)
    client = settings.client or get_client()
    with start_run(run_name=f"autolog-{type(estimator).__name__}", client=client) as run:
        return _fit(settings, run, original, estimator, args, kwargs, inputs)


def _fit(settings: Settings, run: ActiveRun, original: Callable[..., Any], estimator: Any,
         args: tuple[Any, ...], kwargs: dict[str, Any], inputs: FitInputs) -> Any:
    client = run.client
    _log_params(client, run.id, params_of(estimator))
    client.set_tags(run.id, {**class_tags(estimator), "training_data_hash": data_hash(inputs.x, inputs.y)})
    result = original(estimator, *args, **kwargs)
    client.log_metrics(run.id, training_metrics(estimator, inputs))
    example = example_rows(inputs.x)
    if is_search(estimator):
        record_search(client, run.id, run.experiment_id, estimator, settings.max_tuning_runs)
        best = getattr(estimator, "best_estimator_", None)
        if settings.log_models and hasattr(best, "predict"):
            client.log_model(run.id, best, "best_estimator", input_example=example)
    # A package is served through predict: an estimator without one (a scaler) has no model to log.
    if settings.log_models and hasattr(estimator, "predict"):
        client.log_model(run.id, estimator, "model", input_example=example)
    return result


def _log_params(client: Client, run_id: str, params: dict[str, str]) -> None:
    """Log ``params``, leaving out (with a warning) those the run cannot take.

    The fit is the user's work and goes on regardless: two estimators fitted in one
    active run (a loop over ``C``) clash on shared names, where the first value stays;
    a step named with characters keys do not allow (``"a+b"``) gives keys left out.
    """
    kept, illegal = [], []
    for key, value in clipped(params, client.tracking.limits.param).items():
        try:
            client.log_param(run_id, key, value)
        except Conflict:
            kept.append(key)
        except InvalidInput:
            illegal.append(key)
    if kept:
        warnings.warn(f"autolog: run {run_id} already has other values for {sorted(kept)}; params are "
                      "immutable, so those keep their first values (start a run per fit to keep each)",
                      RuntimeWarning, stacklevel=2)
    if illegal:
        warnings.warn(f"autolog: params {sorted(illegal)} are not recorded: keys are letters, digits and _-. /:",
                      RuntimeWarning, stacklevel=2)


def _inputs(original: Callable[..., Any], estimator: Any, args: tuple[Any, ...],
            kwargs: dict[str, Any]) -> FitInputs:
    """X, y and sample_weight of a fit call, whatever the method names them (``Y``, ``K``)."""
    signature = inspect.signature(original)
    try:
        bound = signature.bind(estimator, *args, **kwargs).arguments
    except TypeError:  # the call itself is wrong: the fit will say so
        return FitInputs(args[0] if args else None, args[1] if len(args) > 1 else None, None)
    parameters = list(signature.parameters.values())
    positional = [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][1:]
    extra: dict[str, Any] = next((bound[p.name] for p in parameters if p.kind is p.VAR_KEYWORD and p.name in bound),
                                 {})
    return FitInputs(
        x=bound.get(positional[0]) if positional else None,
        y=bound.get(positional[1]) if len(positional) > 1 else None,
        sample_weight=bound.get("sample_weight", extra.get("sample_weight")),
    )
