"""XGBoost autologging: ``xgb.train`` and the scikit-learn wrappers record one run each.

A run holds the params, one metric per evaluation set and metric name at step =
iteration, feature importance as JSON artifacts and the model package with a
signature from the training data.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import shipyard
from shipyard import Client, Run

_RNG = np.random.default_rng(3)
_X = pd.DataFrame(_RNG.normal(size=(48, 3)), columns=["age", "income", "tenure"])
_Y = (_X["age"] + 0.3 * _RNG.normal(size=48) > 0).astype(int).to_numpy()
_PARAMS = {"objective": "binary:logistic", "max_depth": 2, "nthread": 1, "eval_metric": "logloss"}


@pytest.fixture
def autologged(tmp_path: Path) -> Iterator[Client]:
    client = Client(home=tmp_path)
    shipyard.autolog(client=client, frameworks=["xgboost"])
    yield client
    shipyard.autolog(disable=True)
    client.close()


def _only_run(client: Client) -> Run:
    (run,) = client.search_runs("Default").items
    return run


def _history(client: Client, run: Run, key: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in client.get_metric_history(run.id, key)]


def _artifact_json(client: Client, run: Run, name: str, tmp_path: Path) -> dict[str, float]:
    return json.loads(client.download_artifacts(run.id, name, tmp_path / "downloads").read_text())


def test_train_records_params_metrics_per_iteration_importance_and_the_model(
    autologged: Client, tmp_path: Path
) -> None:
    train, valid = xgb.DMatrix(_X[:32], _Y[:32]), xgb.DMatrix(_X[32:], _Y[32:])
    evals_result: dict[str, dict[str, list[float]]] = {}
    booster = xgb.train(_PARAMS, train, 3, evals=[(train, "train"), (valid, "valid")],
                        evals_result=evals_result, verbose_eval=False)
    run = _only_run(autologged)
    assert run.status.value == "FINISHED" and run.name == "autolog-xgboost"
    assert run.params["max_depth"] == "2" and run.params["num_boost_round"] == "3"
    for data in ("train", "valid"):
        history = _history(autologged, run, f"{data}-logloss")
        assert [step for step, _ in history] == [0, 1, 2]
        assert [value for _, value in history] == pytest.approx(evals_result[data]["logloss"])
    gain = _artifact_json(autologged, run, "feature_importance_gain.json", tmp_path)
    assert set(gain) <= {"age", "income", "tenure"} and gain["age"] > 0
    model = autologged.load_model(f"runs:/{run.id}/model")
    assert model.flavor == "xgboost" and model.signature is not None
    assert model.signature.names == ["age", "income", "tenure"]
    np.testing.assert_allclose(model.predict(_X), booster.predict(xgb.DMatrix(_X)), rtol=1e-6)


def test_classifier_fit_records_each_eval_set_and_packages_the_wrapper(autologged: Client) -> None:
    clf = xgb.XGBClassifier(n_estimators=3, max_depth=2, n_jobs=1)
    clf.fit(_X[:32], _Y[:32], eval_set=[(_X[:32], _Y[:32]), (_X[32:], _Y[32:])], verbose=False)
    run = _only_run(autologged)
    assert run.params["n_estimators"] == "3" and run.tags["estimator_name"] == "XGBClassifier"
    assert run.metrics["training_accuracy"].value > 0.5
    for index in (0, 1):
        steps = [step for step, _ in _history(autologged, run, f"validation_{index}-logloss")]
        assert steps == [0, 1, 2]
    assert clf.callbacks is None  # the recording callback was only lent to the fit
    model = autologged.load_model(f"runs:/{run.id}/model")
    assert model.manifest.flavor_options["class"] == "XGBClassifier"
    np.testing.assert_array_equal(model.predict(_X), clf.predict(_X))
    np.testing.assert_allclose(model.predict_proba(_X), clf.predict_proba(_X), rtol=1e-6)


def test_importance_is_also_drawn_when_matplotlib_is_installed(autologged: Client) -> None:
    pytest.importorskip("matplotlib")
    xgb.train(_PARAMS, xgb.DMatrix(_X, _Y), 2)
    paths = {a.path for a in autologged.list_artifacts(_only_run(autologged).id)}
    assert {"feature_importance_gain.png", "feature_importance_weight.png"} <= paths


def test_early_stopping_records_the_best_iteration(autologged: Client) -> None:
    train, valid = xgb.DMatrix(_X[:32], _Y[:32]), xgb.DMatrix(_X[32:], _Y[32:])
    booster = xgb.train({**_PARAMS, "eta": 1.0, "max_depth": 6}, train, 20, evals=[(valid, "valid")],
                        early_stopping_rounds=2, verbose_eval=False)
    run = _only_run(autologged)
    assert run.metrics["best_iteration"].value == booster.best_iteration
    assert run.params["early_stopping_rounds"] == "2"


def test_training_inside_an_active_run_records_into_it(autologged: Client) -> None:
    with shipyard.start_run("boosting", client=autologged) as active:
        xgb.XGBRegressor(n_estimators=2, max_depth=2, n_jobs=1).fit(_X, _X["income"])
    (run,) = autologged.search_runs("boosting").items
    assert run.id == active.id and run.tags["estimator_name"] == "XGBRegressor"


def test_a_wrapper_fitted_by_a_recorded_pipeline_belongs_to_the_pipeline_run(tmp_path: Path) -> None:
    client = Client(home=tmp_path)
    shipyard.autolog(client=client, frameworks=["sklearn", "xgboost"], log_models=False)
    try:
        make_pipeline(StandardScaler(), xgb.XGBClassifier(n_estimators=2, n_jobs=1)).fit(_X, _Y)
        (run,) = client.search_runs("Default").items
        assert run.tags["estimator_name"] == "Pipeline"
    finally:
        shipyard.autolog(disable=True)
        client.close()


def test_user_callbacks_still_run_and_are_given_back(autologged: Client) -> None:
    class Counter(xgb.callback.TrainingCallback):
        rounds = 0

        def after_iteration(self, model: object, epoch: int, evals_log: object) -> bool:
            Counter.rounds += 1
            return False

    mine = [Counter()]
    clf = xgb.XGBClassifier(n_estimators=3, max_depth=2, n_jobs=1, callbacks=mine).fit(_X, _Y)
    assert Counter.rounds == 3 and clf.callbacks is mine


def test_disable_puts_back_train_and_fit(autologged: Client) -> None:
    shipyard.autolog(disable=True)
    assert not hasattr(xgb.train, "_shipyard_original_fit")
    assert "fit" not in xgb.XGBRegressor.__dict__ or not hasattr(xgb.XGBRegressor.fit, "_shipyard_original_fit")
    xgb.train(_PARAMS, xgb.DMatrix(_X, _Y), 1)
    assert autologged.search_runs("Default").items == []
