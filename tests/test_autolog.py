"""scikit-learn autologging records params, training metrics, data hash and the model."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import shipyard
from shipyard import Client


@pytest.fixture
def autologged(tmp_path) -> Iterator[Client]:
    client = Client(home=tmp_path)
    shipyard.autolog(client=client)
    yield client
    shipyard.autolog(disable=True)
    client.close()


def test_fit_outside_a_run_creates_one_with_params_metrics_hash_and_model(autologged: Client) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    y = (x[:, 0] > 0).astype(int)
    LogisticRegression(C=0.5).fit(x, y)
    (run,) = autologged.search_runs("Default").items
    assert run.params["C"] == "0.5" and run.status.value == "FINISHED"
    assert 0.9 < run.metrics["training_accuracy"].value <= 1.0
    assert "training_roc_auc" in run.metrics and len(run.tags["training_data_hash"]) == 64
    model = autologged.load_model(f"runs:/{run.id}/model")
    assert model.predict(x[:3]).shape == (3,)
    assert model.signature is not None


def test_pipeline_fit_is_recorded_once_inside_the_active_run(autologged: Client) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(100, 3))
    y = x @ np.array([1.0, 2.0, 3.0])
    with shipyard.start_run("e", client=autologged) as run:
        Pipeline([("scale", StandardScaler()), ("lr", LinearRegression())]).fit(x, y)
    assert len(autologged.search_runs("e").items) == 1
    stored = autologged.get_run(run.id)
    assert stored.metrics["training_r2"].value > 0.99
    assert stored.tags["estimator_class"].endswith("Pipeline")


def test_same_data_gives_same_hash_and_disable_restores_fit(autologged: Client) -> None:
    x = np.arange(40.0).reshape(20, 2)
    y = np.arange(20) % 2
    LogisticRegression().fit(x, y)
    LogisticRegression().fit(x.copy(), y.copy())
    hashes = {r.tags["training_data_hash"] for r in autologged.search_runs("Default").items}
    assert len(hashes) == 1
    shipyard.autolog(disable=True)
    LogisticRegression().fit(x, y)
    assert len(autologged.search_runs("Default").items) == 2
    assert not hasattr(LogisticRegression.fit, "_shipyard_original_fit")
