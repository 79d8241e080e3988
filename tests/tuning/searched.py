"""Pipelines the tuning tests search, or that search inside a step (module level, so workers import them)."""

from __future__ import annotations

from typing import Any

import shipyard
from shipyard.pipelines import StepContext, pipeline, step
from tests.tuning import objectives


@step
def fit(alpha: float, depth: int, ctx: StepContext) -> float:
    score = -((alpha - 0.3) ** 2) - (depth - 4) ** 2 * 0.01
    ctx.log_metric("score", score)
    return score


@pipeline
def train(alpha: float = 1.0, depth: int = 2) -> Any:
    return fit(alpha, depth)  # type: ignore[call-arg]  # the runner passes ctx


@step
def search(n_trials: int) -> dict:
    result = shipyard.tune(objectives.parabola, {"x": shipyard.uniform(-5.0, 5.0)}, n_trials=n_trials,
                           sampler="random", seed=0, experiment="inner-search")
    return {"x": result.best_params["x"], "run_id": result.run_id}


@step
def use(best: dict) -> float:
    return round(best["x"], 6)


@pipeline
def search_then_use(n_trials: int = 6) -> Any:
    return use(search(n_trials))
