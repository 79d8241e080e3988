"""LightGBM autologging: ``lgb.train`` and the scikit-learn wrappers record one run each.

A run holds the params, one metric per validation set and metric name at step =
iteration, split and gain importance as JSON artifacts and the model package with a
signature from the training data.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

import shipyard
from shipyard import Client, Run

_RNG = np.random.default_rng(5)
_X = pd.DataFrame(_RNG.normal(size=(60, 3)), columns=["age", "income", "tenure"])
_Y = (_X["age"] + 0.3 * _RNG.normal(size=60) > 0).astype(int).to_numpy()
_PARAMS = {"objective": "binary", "num_leaves": 4, "min_data_in_leaf": 5, "verbose": -1, "num_threads": 1}


@pytest.fixture
def autologged(tmp_path: Path) -> Iterator[Client]:
    client = Client(home=tmp_path)
    shipyard.autolog(client=client, frameworks=["lightgbm"])
    yield client
    shipyard.autolog(disable=True)
    client.close()


def _only_run(client: Client) -> Run:
    (run,) = client.search_runs("Default").items
    return run


def _history(client: Client, run: Run, key: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in client.get_metric_history(run.id, key)]


def test_train_records_params_metrics_per_iteration_importance_and_the_model(
    autologged: Client, tmp_path: Path
) -> None:
    train = lgb.Dataset(_X[:40], _Y[:40])
    valid = lgb.Dataset(_X[40:], _Y[40:], reference=train)
    recorded: dict[str, dict[str, list[float]]] = {}
    booster = lgb.train(_PARAMS, train, 3, valid_sets=[train, valid], valid_names=["train", "valid"],
                        callbacks=[lgb.record_evaluation(recorded)])
    run = _only_run(autologged)
    assert run.status.value == "FINISHED" and run.name == "autolog-lightgbm"
    assert run.params["num_leaves"] == "4" and run.params["num_boost_round"] == "3"
    for data in ("train", "valid"):
        history = _history(autologged, run, f"{data}-binary_logloss")
        assert [step for step, _ in history] == [0, 1, 2]
        assert [value for _, value in history] == pytest.approx(recorded[data]["binary_logloss"])
    split = json.loads(autologged.download_artifacts(run.id, "feature_importance_split.json",
                                                      tmp_path / "downloads").read_text())
    assert set(split) == {"age", "income", "tenure"} and split["age"] > 0
    model = autologged.load_model(f"runs:/{run.id}/model")
    assert model.flavor == "lightgbm" and model.signature is not None
    assert model.signature.names == ["age", "income", "tenure"]
    np.testing.assert_allclose(model.predict(_X), booster.predict(_X), rtol=1e-9)


def test_classifier_fit_records_each_eval_set_and_packages_the_wrapper(autologged: Client) -> None:
    clf = lgb.LGBMClassifier(n_estimators=3, num_leaves=4, min_child_samples=5, verbose=-1, n_jobs=1)
    clf.fit(_X[:40], _Y[:40], eval_X=(_X[:40], _X[40:]), eval_y=(_Y[:40], _Y[40:]))
    run = _only_run(autologged)
    assert run.params["n_estimators"] == "3" and run.tags["estimator_name"] == "LGBMClassifier"
    assert run.metrics["training_accuracy"].value > 0.5
    for name in ("valid_0", "valid_1"):
        assert [step for step, _ in _history(autologged, run, f"{name}-binary_logloss")] == [0, 1, 2]
    model = autologged.load_model(f"runs:/{run.id}/model")
    np.testing.assert_array_equal(model.predict(_X), clf.predict(_X))
    np.testing.assert_allclose(model.predict_proba(_X), clf.predict_proba(_X), rtol=1e-9)


def test_early_stopping_records_the_best_iteration(autologged: Client) -> None:
    train = lgb.Dataset(_X[:40], _Y[:40])
    valid = lgb.Dataset(_X[40:], _Y[40:], reference=train)
    booster = lgb.train({**_PARAMS, "learning_rate": 1.0}, train, 30, valid_sets=[valid],
                        callbacks=[lgb.early_stopping(2, verbose=False)])
    run = _only_run(autologged)
    assert 0 < booster.best_iteration < 30
    assert run.metrics["best_iteration"].value == booster.best_iteration
    # Every round run is logged, the one that stopped training (best + patience) included.
    assert len(_history(autologged, run, "valid_0-binary_logloss")) == booster.best_iteration + 2


def test_a_regressor_fit_inside_an_active_run_records_into_it(autologged: Client) -> None:
    with shipyard.start_run("boosting", client=autologged) as active:
        lgb.LGBMRegressor(n_estimators=2, num_leaves=4, verbose=-1, n_jobs=1).fit(_X, _X["income"])
    (run,) = autologged.search_runs("boosting").items
    assert run.id == active.id and run.tags["estimator_name"] == "LGBMRegressor"
    assert len(autologged.search_runs("Default").items) == 0  # LGBMModel.fit inside it made no run


def test_without_models_nothing_is_packaged(tmp_path: Path) -> None:
    client = Client(home=tmp_path)
    shipyard.autolog(client=client, frameworks=["lightgbm"], log_models=False)
    try:
        lgb.train(_PARAMS, lgb.Dataset(_X, _Y), 2)
        run = _only_run(client)
        paths = [a.path for a in client.list_artifacts(run.id)]
        assert {"feature_importance_gain.json", "feature_importance_split.json"} <= set(paths)
        assert not any(path.startswith("model/") for path in paths)
    finally:
        shipyard.autolog(disable=True)
        client.close()


def test_disable_puts_back_train_and_fit(autologged: Client) -> None:
    shipyard.autolog(disable=True)
    assert not hasattr(lgb.train, "_shipyard_original_fit")
    assert not hasattr(lgb.LGBMClassifier.fit, "_shipyard_original_fit")
    lgb.train(_PARAMS, lgb.Dataset(_X, _Y), 1)
    assert autologged.search_runs("Default").items == []
