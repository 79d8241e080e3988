"""Converting scikit-learn packages to ONNX: checked on the example, or nothing is written."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from shipyard.errors import InvalidInput
from shipyard.models import convert_to_onnx, load_model, save_model


class MajorityClassifier(ClassifierMixin, BaseEstimator):
    """A custom estimator skl2onnx has never heard of."""

    def fit(self, X: Any, y: Any) -> MajorityClassifier:
        self.classes_ = np.unique(y)
        self.majority_ = int(np.bincount(y).argmax())
        return self

    def predict(self, X: Any) -> np.ndarray:
        return np.full(len(X), self.majority_)


def _no_unpickling(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("an ONNX package must load without unpickling anything")


@pytest.mark.parametrize(
    "estimator",
    [
        LogisticRegression(),
        RandomForestClassifier(n_estimators=10, max_depth=5, random_state=0),
        make_pipeline(StandardScaler(), LogisticRegression()),
        Ridge(),
    ],
    ids=["logistic", "random_forest", "pipeline", "ridge"],
)
def test_converted_model_matches_the_original_and_loads_without_pickle(
    estimator: Any, tabular: Any, target: np.ndarray, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    X, y = tabular
    estimator.fit(X, target if isinstance(estimator, Ridge) else y)
    save_model(estimator, tmp_path / "skl", input_example=X[:5], source_run_id="1" * 32)

    manifest = convert_to_onnx(tmp_path / "skl", tmp_path / "onnx", trust=True)
    assert manifest.flavor == "onnx" and manifest.source_run_id == "1" * 32
    assert sorted(manifest.files) == ["input_example.parquet", "model.onnx"]
    converted = manifest.metadata["converted_from"]
    assert converted["flavor"] == "sklearn" and converted["max_abs_diff"] <= 1e-5
    assert converted["onnx_input_dtype"] == "float64"
    assert any(r.startswith("onnxruntime==") for r in manifest.requirements)

    monkeypatch.setattr(pickle, "load", _no_unpickling)
    monkeypatch.setattr(pickle, "loads", _no_unpickling)
    monkeypatch.setattr(joblib, "load", _no_unpickling)
    model = load_model(tmp_path / "onnx", trust=True)
    assert model.manifest == manifest
    if isinstance(estimator, Ridge):
        assert not model.has_predict_proba
        got = model.predict(X)
        assert got.shape == (len(X),)  # raveled like scikit-learn's own output
        np.testing.assert_allclose(got, estimator.predict(X), rtol=0, atol=1e-5)
    else:
        np.testing.assert_array_equal(model.predict(X), estimator.predict(X))
        np.testing.assert_allclose(model.predict_proba(X), estimator.predict_proba(X), rtol=0, atol=1e-5)
        np.testing.assert_array_equal(model.predict(X.to_dict("records")[:3]), estimator.predict(X[:3]))


def test_float32_inputs_give_a_float32_graph(tabular: Any, tmp_path: Path) -> None:
    X, y = tabular
    X32 = X.astype(np.float32)
    clf = LogisticRegression().fit(X32, y)
    save_model(clf, tmp_path / "skl", input_example=X32[:5])
    manifest = convert_to_onnx(tmp_path / "skl", tmp_path / "onnx", trust=True)
    assert manifest.metadata["converted_from"]["onnx_input_dtype"] == "float32"
    np.testing.assert_allclose(
        load_model(tmp_path / "onnx", trust=True).predict_proba(X32), clf.predict_proba(X32), rtol=0, atol=1e-5
    )


def test_a_model_skl2onnx_cannot_convert_fails_clearly(tabular: Any, tmp_path: Path) -> None:
    X, y = tabular
    save_model(MajorityClassifier().fit(X, y), tmp_path / "skl", input_example=X[:5])
    with pytest.raises(InvalidInput, match="skl2onnx cannot convert MajorityClassifier") as caught:
        convert_to_onnx(tmp_path / "skl", tmp_path / "onnx", trust=True)
    assert caught.value.field == "model"
    assert not (tmp_path / "onnx").exists()


def test_a_conversion_outside_the_tolerance_fails_and_writes_nothing(
    tabular: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import onnxruntime

    X, y = tabular
    save_model(LogisticRegression().fit(X, y), tmp_path / "skl", input_example=X[:5])
    run = onnxruntime.InferenceSession.run

    def drifting(self: Any, names: Any, feed: Any, *args: Any) -> Any:
        # A converter that loses precision: every float output moves by 1e-4.
        return [o + 1e-4 if o.dtype.kind == "f" else o for o in run(self, names, feed, *args)]

    monkeypatch.setattr(onnxruntime.InferenceSession, "run", drifting)
    with pytest.raises(InvalidInput, match=r"outputs differ by up to 0\.0001") as caught:
        convert_to_onnx(tmp_path / "skl", tmp_path / "onnx", trust=True)
    assert caught.value.max_abs_diff == pytest.approx(1e-4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["skl"]


def test_only_sklearn_packages_with_an_example_convert(tabular: Any, tmp_path: Path) -> None:
    import lightgbm as lgb

    X, y = tabular
    save_model(
        lgb.LGBMClassifier(n_estimators=2, verbose=-1, n_jobs=1).fit(X, y),
        tmp_path / "lgb",
        input_example=X[:5],
    )
    with pytest.raises(InvalidInput, match="only scikit-learn packages"):
        convert_to_onnx(tmp_path / "lgb", tmp_path / "out", trust=True)
    save_model(LogisticRegression().fit(X, y), tmp_path / "bare")
    with pytest.raises(InvalidInput, match="no input example"):
        convert_to_onnx(tmp_path / "bare", tmp_path / "out", trust=True)
    with pytest.raises(InvalidInput, match="already exists"):
        convert_to_onnx(tmp_path / "bare", tmp_path / "lgb", trust=True)


def test_a_converted_version_carries_its_sources_metrics_and_passes_the_same_metric_gate(
    tabular: Any, tmp_path: Path
) -> None:
    from shipyard import Client, MinMetric, PromotionPolicy
    from shipyard.client._models import CONVERSION_METRIC

    X, y = tabular
    with Client(home=tmp_path / "home") as client:
        run = client.create_run("churn", capture_env=False)
        client.log_metrics(run.id, {"accuracy": 0.91, "auc": 0.95})
        client.log_model(run.id, LogisticRegression().fit(X, y), input_example=X[:5])
        client.end_run(run.id)
        source = client.register_model(f"runs:/{run.id}/model", "churn")
        client.set_promotion_policy("churn", PromotionPolicy([MinMetric("accuracy", 0.9)]))

        converted = client.convert_model("models:/churn/1", to="onnx")

        assert converted.version == 2 and converted.flavor == "onnx"
        assert {k: converted.metrics[k] for k in source.metrics} == source.metrics == {"accuracy": 0.91, "auc": 0.95}
        assert 0 <= converted.metrics[CONVERSION_METRIC] <= 1e-5  # the equivalence check, measured on the example
        conversion_run = client.get_run(converted.run_id or "")
        assert conversion_run.tags["shipyard.converted_from"] == source.uri
        assert conversion_run.metrics[CONVERSION_METRIC].value == converted.metrics[CONVERSION_METRIC]
        promoted = client.set_alias("churn", "production", converted.version)  # no force needed
        assert promoted.version == 2 and "production" in promoted.aliases
