"""What an autologged fit records: params, training metrics, data hash, model, search candidates."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import shipyard
from shipyard import Client


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


_RNG = np.random.default_rng(7)
_X = _RNG.normal(size=(60, 3))
_Y = (_X[:, 0] + 0.3 * _RNG.normal(size=60) > 0).astype(int)


def test_pipeline_params_are_flattened_as_get_params_gives_them(autologged_without_models: Client) -> None:
    pipeline = Pipeline([("scale", StandardScaler(with_mean=False)), ("lr", LogisticRegression(C=0.25))])
    pipeline.fit(_X, _Y)
    (run,) = autologged_without_models.search_runs("Default").items
    assert set(run.params) == set(pipeline.get_params(deep=True))
    assert run.params["lr__C"] == "0.25" and run.params["scale__with_mean"] == "False"
    assert run.params["lr"] == "LogisticRegression"


def test_grid_search_records_a_parent_with_best_params_and_a_child_per_candidate(autologged: Client) -> None:
    search = GridSearchCV(LogisticRegression(max_iter=50), {"C": [0.01, 0.1, 1.0]}, cv=3).fit(_X, _Y)
    runs = autologged.search_runs("Default").items
    (parent,) = [run for run in runs if run.parent_run_id is None]
    children = [run for run in runs if run.parent_run_id == parent.id]
    assert len(runs) == 1 + len(children) == 4

    assert parent.params["best_C"] == str(search.best_params_["C"])
    assert parent.params["estimator__max_iter"] == "50"
    assert parent.metrics["best_cv_score"].value == pytest.approx(search.best_score_)
    artifacts = {info.path for info in autologged.list_artifacts(parent.id)}
    assert "cv_results.csv" in artifacts
    assert any(path.startswith("best_estimator/") for path in artifacts)
    assert autologged.load_model(f"runs:/{parent.id}/model").predict(_X[:2]).shape == (2,)

    by_c = {run.params["C"]: run for run in children}
    assert set(by_c) == {"0.01", "0.1", "1.0"}
    for index, c in enumerate(search.cv_results_["param_C"]):
        child = by_c[str(c)]
        assert child.params["max_iter"] == "50"  # the seed's other params, not only the varied one
        assert child.metrics["mean_test_score"].value == pytest.approx(search.cv_results_["mean_test_score"][index])
        assert child.metrics["std_test_score"].value == pytest.approx(search.cv_results_["std_test_score"][index])
        assert child.metrics["rank_test_score"].value == search.cv_results_["rank_test_score"][index]
        assert not any(key.startswith("split") for key in child.metrics)
    best = min(children, key=lambda run: run.metrics["rank_test_score"].value)
    assert best.params["C"] == parent.params["best_C"]


def test_search_keeps_only_the_best_ranked_candidates_as_children(tmp_path) -> None:
    with Client(home=tmp_path) as client:
        shipyard.autolog(client=client, log_models=False, max_tuning_runs=2)
        try:
            search = RandomizedSearchCV(LogisticRegression(), {"C": [0.001, 0.01, 0.1, 1.0]}, n_iter=4, cv=3,
                                        random_state=0).fit(_X, _Y)
        finally:
            shipyard.autolog(disable=True)
        children = [run for run in client.search_runs("Default").items if run.parent_run_id is not None]
    ranks = sorted(search.cv_results_["rank_test_score"])
    assert sorted(run.metrics["rank_test_score"].value for run in children) == ranks[:2]


def test_search_inside_an_active_run_hangs_its_candidates_under_that_run(autologged_without_models: Client) -> None:
    with shipyard.start_run("tuning", client=autologged_without_models) as run:
        GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=2).fit(_X, _Y)
    runs = autologged_without_models.search_runs("tuning").items
    assert sorted(r.parent_run_id or "" for r in runs) == ["", run.id, run.id]


def test_training_metrics_honour_sample_weight(autologged_without_models: Client) -> None:
    weights = np.where(_Y == 1, 5.0, 1.0)
    model = LogisticRegression(C=0.01).fit(_X, _Y, sample_weight=weights)
    (run,) = autologged_without_models.search_runs("Default").items
    expected = accuracy_score(_Y, model.predict(_X), sample_weight=weights)
    assert run.metrics["training_accuracy"].value == pytest.approx(expected)


def test_estimator_that_does_not_predict_records_params_but_no_model(autologged: Client) -> None:
    StandardScaler(with_std=False).fit(_X)
    (run,) = autologged.search_runs("Default").items
    assert run.params["with_std"] == "False" and run.status.value == "FINISHED"
    assert autologged.list_artifacts(run.id) == []


def test_failed_fit_leaves_a_failed_run_with_its_params_and_raises(autologged_without_models: Client) -> None:
    with pytest.raises(ValueError, match="solver"):
        LogisticRegression(solver="no-such-solver").fit(_X, _Y)
    (run,) = autologged_without_models.search_runs("Default").items
    assert run.status.value == "FAILED" and run.params["solver"] == "no-such-solver"


class _NoProbabilities(LogisticRegression):
    def predict_proba(self, X):  # noqa: N803 (scikit-learn's name)
        raise RuntimeError("probabilities are unavailable")


def test_a_metric_that_cannot_be_computed_is_skipped_with_a_warning(autologged_without_models: Client) -> None:
    with pytest.warns(RuntimeWarning, match="probabilities are unavailable"):
        _NoProbabilities().fit(_X, _Y)
    (run,) = autologged_without_models.search_runs("Default").items
    assert run.status.value == "FINISHED"
    assert "training_accuracy" in run.metrics and "training_log_loss" not in run.metrics


def test_two_fits_in_one_active_run_keep_the_first_params_with_a_warning(autologged_without_models: Client) -> None:
    with shipyard.start_run("loop", client=autologged_without_models) as run:
        LogisticRegression(C=0.1).fit(_X, _Y)
        with pytest.warns(RuntimeWarning, match=r"\['C'\]"):
            second = LogisticRegression(C=10.0).fit(_X, _Y)
    assert second.coef_.shape == (1, 3)  # the second fit ran to the end
    assert autologged_without_models.get_run(run.id).params["C"] == "0.1"


def test_params_whose_keys_a_run_cannot_take_are_left_out_with_a_warning(autologged_without_models: Client) -> None:
    pipeline = Pipeline([("scale+centre", StandardScaler()), ("lr", LogisticRegression())])
    with pytest.warns(RuntimeWarning, match="scale\\+centre__with_mean"):
        pipeline.fit(_X, _Y)
    (run,) = autologged_without_models.search_runs("Default").items
    assert run.status.value == "FINISHED" and run.params["lr__C"] == "1.0"
    assert not any(key.startswith("scale+centre") for key in run.params)


@pytest.mark.parametrize("limit", [40, 9000])
def test_params_are_cut_to_the_clients_param_limit_not_refused(tmp_path, limit: int) -> None:
    from shipyard import Config

    long_weights = {i: 1.0 for i in range(1500)}  # its repr is about 15,400 characters: over either limit
    client = Client(Config(home=tmp_path, max_param_length=limit))
    shipyard.autolog(client=client, log_models=False)
    try:
        GridSearchCV(LogisticRegression(), {"C": [1.0]}, cv=2).fit(_X, _Y)
        LogisticRegression(C=0.5, class_weight=long_weights).fit(_X, _Y)
    finally:
        shipyard.autolog(disable=True)
    runs = client.search_runs("Default").items
    fitted = next(r for r in runs if r.params.get("C") == "0.5")
    assert len(fitted.params["class_weight"]) == limit  # cut at the limit, whichever way it was moved
    assert all(len(v) <= limit for r in runs for v in r.params.values())
    client.close()
