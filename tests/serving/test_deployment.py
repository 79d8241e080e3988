"""Deployment: warming a model before it takes traffic."""

from __future__ import annotations

import time
from pathlib import Path

import shipyard
from shipyard.serving._config import ModelConfig, Target
from shipyard.serving._deployment import Deployment


def _deployment(home: Path, uri: str) -> Deployment:
    with shipyard.Client(home=home) as client:
        model = client.load_model(uri)
    return Deployment(uri.split("/")[1], "1", model, ModelConfig(name="m", targets=(Target(uri),)))


def test_warming_a_slow_model_stops_at_its_time_budget_after_one_timed_call(home: Path) -> None:
    deployment = _deployment(home, "models:/slower/1")  # 1.5 s a call: 23 warming calls took 35 s
    started = time.perf_counter()
    deployment.warm(budget_s=0.5)
    elapsed = time.perf_counter() - started
    assert 1.5 * 2 <= elapsed < 1.5 * 2 + 2.5  # one batch call, then one timed call, and no more


def test_warming_a_fast_model_runs_every_round(home: Path) -> None:
    deployment = _deployment(home, "models:/slow/1")  # 50 ms a call
    started = time.perf_counter()
    deployment.warm(rounds=5, budget_s=30)
    assert 8 * 0.05 <= time.perf_counter() - started < 8 * 0.05 + 3  # 3 batch calls and 5 timed ones
