"""Which fit records: every estimator class is wrapped, and only the outermost fit records."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.ensemble import GradientBoostingClassifier, IsolationForest, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import all_estimators, parallel

import shipyard
from shipyard import Client

_RNG = np.random.default_rng(3)
_X = _RNG.normal(size=(60, 4))
_Y = (_X[:, 0] > 0).astype(int)


def _classes(client: Client, experiment: str = "Default") -> list[str]:
    return sorted(run.tags["estimator_name"] for run in client.search_runs(experiment).items)


def test_forest_inheriting_fit_from_a_private_base_records_one_run(autologged_without_models: Client) -> None:
    RandomForestClassifier(n_estimators=5, random_state=0).fit(_X, _Y)
    assert _classes(autologged_without_models) == ["RandomForestClassifier"]


def test_boosting_records_itself_not_the_trees_it_fits(autologged_without_models: Client) -> None:
    GradientBoostingClassifier(n_estimators=5).fit(_X, _Y)
    (run,) = autologged_without_models.search_runs("Default").items
    assert run.tags["estimator_name"] == "GradientBoostingClassifier"
    assert run.params["n_estimators"] == "5" and "training_accuracy" in run.metrics


def test_trees_grown_on_worker_threads_belong_to_the_forest(autologged_without_models: Client) -> None:
    IsolationForest(n_estimators=4, n_jobs=2, random_state=0).fit(_X)
    assert _classes(autologged_without_models) == ["IsolationForest"]


def test_search_on_a_thread_pool_records_one_parent_and_its_candidates(autologged_without_models: Client) -> None:
    search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0, 10.0]}, cv=3, n_jobs=2)
    with joblib.parallel_backend("threading"):
        search.fit(_X, _Y)
    runs = autologged_without_models.search_runs("Default").items
    (parent,) = [run for run in runs if run.parent_run_id is None]
    assert parent.tags["estimator_name"] == "GridSearchCV"
    assert sorted(run.params["C"] for run in runs if run.parent_run_id == parent.id) == ["0.1", "1.0", "10.0"]


@pytest.mark.slow  # starts worker processes
def test_search_on_a_process_pool_still_fits_and_records(autologged_without_models: Client) -> None:
    # Tasks sent to worker processes are pickled; the context they carry here must not be.
    GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=2, n_jobs=2).fit(_X, _Y)
    assert _classes(autologged_without_models) == ["GridSearchCV", "LogisticRegression", "LogisticRegression"]


class _MeetingLogisticRegression(LogisticRegression):
    """Waits in predict (called while its fit is being recorded) until the other thread does too."""

    meeting = threading.Barrier(2)

    def predict(self, X: Any) -> Any:
        self.meeting.wait(timeout=20)
        return super().predict(X)


def test_fits_running_at_once_in_two_threads_record_a_run_each(autologged_without_models: Client) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        fitted = list(pool.map(lambda c: _MeetingLogisticRegression(C=c).fit(_X, _Y), [0.5, 2.0]))
    runs = autologged_without_models.search_runs("Default").items
    assert len(fitted) == 2
    assert sorted(run.params["C"] for run in runs) == ["0.5", "2.0"]


def test_fit_transform_that_bypasses_fit_records_one_run(autologged_without_models: Client) -> None:
    PCA(n_components=2).fit_transform(_X)
    StandardScaler().fit_transform(_X)  # through TransformerMixin, which calls fit
    assert _classes(autologged_without_models) == ["PCA", "StandardScaler"]


def test_pipeline_fit_predict_records_once_and_stays_hidden_where_unsupported(
    autologged_without_models: Client,
) -> None:
    Pipeline([("scale", StandardScaler()), ("km", KMeans(n_clusters=2, n_init=1))]).fit_predict(_X)
    assert _classes(autologged_without_models) == ["Pipeline"]
    assert not hasattr(Pipeline([("scale", StandardScaler()), ("lr", LogisticRegression())]), "fit_predict")


def test_enabling_twice_replaces_the_settings_rather_than_wrapping_twice(tmp_path) -> None:
    first, second = Client(home=tmp_path / "a"), Client(home=tmp_path / "b")
    try:
        shipyard.autolog(client=first, log_models=False)
        shipyard.autolog(client=second, log_models=False)
        LogisticRegression().fit(_X, _Y)
        assert first.search_runs("Default").items == []
        assert _classes(second) == ["LogisticRegression"]
    finally:
        shipyard.autolog(disable=True)
        first.close()
        second.close()


def _fit_methods() -> dict[tuple[str, str], Any]:
    """Every fit method as its class holds it (descriptors by the function they guard)."""
    held: dict[tuple[str, str], Any] = {("Parallel", "__call__"): parallel.Parallel.__dict__["__call__"]}
    for name, cls in all_estimators():
        for method in ("fit", "fit_transform", "fit_predict"):
            raw = cls.__dict__.get(method)
            held[name, method] = getattr(raw, "fn", raw)
    return held


def test_disable_puts_back_exactly_what_each_class_held(tmp_path) -> None:
    before = _fit_methods()
    client = Client(home=tmp_path)
    try:
        shipyard.autolog(client=client)
        assert "fit" in RandomForestClassifier.__dict__  # wrapped on the class, though inherited
        assert _fit_methods() != before
    finally:
        shipyard.autolog(disable=True)
        client.close()
    assert _fit_methods() == before
    assert "fit" not in RandomForestClassifier.__dict__


def test_max_tuning_runs_must_be_a_count(tmp_path) -> None:
    with Client(home=tmp_path) as client, pytest.raises(shipyard.InvalidInput) as caught:
        shipyard.autolog(client=client, max_tuning_runs=-1)
    assert caught.value.field == "max_tuning_runs"
