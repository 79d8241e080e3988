"""Fixtures of the automation suite: a home holding everything a policy may name.

``world`` fills a client's stores with a registered model ``churn`` (version 1), a
pipeline ``train_churn`` that has run, a dataset ``churn-holdout``, a monitor
``churn-monitor`` and an alert rule ``churn-drift``; :data:`POLICY` is a policy naming
them all.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shipyard import Client, Config
from shipyard.testing.datasets import small_frame
from shipyard.testing.registry import fake_package_run

PIPELINE = """
from shipyard.pipelines import pipeline, step

@step
def fit(n: int) -> int:
    return n * 2

@pipeline
def train_churn(n: int = 3):
    return fit(n)
"""

POLICY: dict[str, Any] = {
    "name": "churn-retrain",
    "model": "churn",
    "description": "retrain churn when it drifts, every Monday, or on new data",
    "triggers": [
        {"type": "alert", "rule": "churn-drift"},
        {"type": "monitor", "monitor": "churn-monitor", "series": "accuracy", "below": 0.85, "for_windows": 3},
        {"type": "schedule", "cron": "0 3 * * 1"},
        {"type": "dataset", "dataset": "churn-holdout"},
        {"type": "manual"},
    ],
    "retrain": {"pipeline": "train_churn", "params": {"n": 5, "grid": [0.1, 0.2]}, "training_window": "30d",
                "labelled_data": {"dataset": "churn-labelled", "since": "7d", "monitor": "churn-monitor",
                                  "min_rows": 100}},
    "evaluation": {"metrics": ["auc", "accuracy"], "data": "ds:churn-holdout@latest", "min_improvement": 0.01,
                   "test": "mcnemar"},
    "gates": {"promotion_policy": True, "max_latency_p99_ms": 50, "data_contract": True},
    "rollout": {"shadow": {"requests": 1000}, "canary": {"percent": 10, "duration": "30m", "labelled_requests": 500},
                "sequential": {"alpha": 0.05, "power": 0.8, "min_effect": 0.02}},
    "guards": {"cooldown": "6h", "max_retrains_per_day": 2, "training_budget": "2h", "require_approval": True},
}


def policy(**changes: Any) -> dict[str, Any]:
    """A copy of :data:`POLICY` with top-level ``changes``."""
    return {**copy.deepcopy(POLICY), **changes}


def make_world(client: Client, folder: Path) -> None:
    """Everything :data:`POLICY` names, in ``client``'s stores."""
    from shipyard.pipelines._loader import load_pipeline

    run_id = fake_package_run(client.tracking_store, {"auc": 0.8})
    client.registry_store.create_model_version("churn", f"runs:/{run_id}/model")
    client.register_dataset("churn-holdout", small_frame())
    client.create_monitor("churn@production", window="1h", name="churn-monitor")
    client.create_alert_rule("drift_share > 0.3 for 2 windows", name="churn-drift", monitor="churn-monitor")
    (folder / "train_churn.py").write_text(PIPELINE)
    load_pipeline(str(folder / "train_churn.py")).run({}, client=client, executor="inline")


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[Client]:
    """A client on SQLite or PostgreSQL whose stores hold everything :data:`POLICY` names."""
    with Client(Config(home=tmp_path / "home", db=db_url, flush_interval=0.2)) as client:
        make_world(client, tmp_path)
        yield client
