"""Every flavor: save → load → the same predictions, on every input shape predict takes."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from shipyard.errors import InvalidInput, MissingExtra
from shipyard.models import flavor_for_model, get_flavor, load_model, save_model
from shipyard.models.flavors import PythonModelContext


class Thresholded:
    """A custom model around a nested Shipyard package: 1 when P(class 1) >= threshold."""

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold

    def load(self, context: PythonModelContext) -> None:
        self.inner_ = load_model(context.artifacts["inner"], trust=True)
        self.notes_ = Path(context.artifacts["notes"]).read_text()

    def predict(self, inputs: pd.DataFrame) -> np.ndarray:
        assert isinstance(inputs, pd.DataFrame)  # a columns signature hands over a DataFrame
        return (self.predict_proba(inputs)[:, 1] >= self.threshold).astype(np.int64)

    def predict_proba(self, inputs: pd.DataFrame) -> np.ndarray:
        return self.inner_.predict_proba(inputs)


@dataclass
class Case:
    model: Any
    example: Any
    evaluate: pd.DataFrame  # rows to predict, as a DataFrame
    predict: np.ndarray  # what the original model predicts on them
    proba: np.ndarray | None = None
    atol: float = 1e-12  # memory layout alone moves BLAS results by an ulp


def _sklearn(model: Any, X: pd.DataFrame, y: np.ndarray) -> Case:
    model.fit(X, y)
    proba = model.predict_proba(X) if hasattr(model, "predict_proba") else None
    return Case(model, X[:5], X, model.predict(X), proba)


def _torch_net(X: pd.DataFrame) -> tuple[Any, pd.DataFrame, np.ndarray]:
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2), torch.nn.Softmax(dim=1)
    ).eval()
    X32 = X.astype(np.float32)
    with torch.no_grad():
        expected = net(torch.from_numpy(X32.to_numpy(copy=True))).numpy()
    return net, X32, expected


def case_sklearn_logistic(X: pd.DataFrame, y: np.ndarray, target: np.ndarray, tmp: Path) -> Case:
    return _sklearn(LogisticRegression(), X, y)


def case_sklearn_pipeline(X: pd.DataFrame, y: np.ndarray, target: np.ndarray, tmp: Path) -> Case:
    return _sklearn(make_pipeline(StandardScaler(), LogisticRegression()), X, y)


def case_sklearn_ridge(X: pd.DataFrame, y: np.ndarray, target: np.ndarray, tmp: Path) -> Case:
    return _sklearn(Ridge(), X, target)


def case_xgboost_classifier(X: pd.DataFrame, y: np.ndarray, target: np.ndarray, tmp: Path) -> Case:
    import xgboost as xgb

    return _sklearn(xgb.XGBClassifier(n_estimators=8, max_depth=3, n_jobs=1), X, y)


def case_xgboost_booster(X: pd.DataFrame, y: np.ndarray, target: np.ndarray, tmp: Path) -> Case:
    import xgboost as xgb

    booster = xgb.train(
        {"objective": "reg:squarederror", "max_depth": 3, "nthread": 1}, xgb.DMatrix(X, target), 8
    )
    return Case(booster, X[:5], X, booster.predict(xgb.DMatrix(X)))


def case_lightgbm_classifier(X: pd.DataFrame, y: np.ndarray, target: np.ndarray, tmp: Path) -> Case:
    import lightgbm as lgb

    return _sklearn(lgb.LGBMClassifier(n_estimators=8, verbose=-1, n_jobs=1), X, y)


def case_lightgbm_multiclass(X: pd.DataFrame, y: np.ndarray, target: np.ndarray, tmp: Path) -> Case:
    import lightgbm as lgb

    labels = np.array(["low", "mid", "high"])[np.digitize(target, np.quantile(target, [1 / 3, 2 / 3]))]
    return _sklearn(lgb.LGBMClassifier(n_estimators=8, verbose=-1, n_jobs=1), X, labels)


def case_lightgbm_regressor(X: pd.DataFrame, y: np.ndarray, target: np.ndarray, tmp: Path) -> Case:
    import lightgbm as lgb

    return _sklearn(lgb.LGBMRegressor(n_estimators=8, verbose=-1, n_jobs=1), X, target)


def case_torch_export(X: pd.DataFrame, y: np.ndarray, target: np.ndarray, tmp: Path) -> Case:
    net, X32, expected = _torch_net(X)
    return Case(net, X32[:1], X32, expected, atol=1e-6)  # one row: the batch dim must stay dynamic


def case_torch_script(X: pd.DataFrame, y: np.ndarray, target: np.ndarray, tmp: Path) -> Case:
    import torch

    net, X32, expected = _torch_net(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is deprecated upstream
        scripted = torch.jit.script(net)
    return Case(scripted, X32[:5], X32, expected, atol=1e-6)


def case_keras_sequential(X: pd.DataFrame, y: np.ndarray, target: np.ndarray, tmp: Path) -> Case:
    os.environ.setdefault("KERAS_BACKEND", "torch")  # Keras picks its backend when first imported
    import keras

    keras.utils.set_random_seed(0)
    net = keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2, activation="softmax")]
    )
    X32 = X.astype(np.float32)
    expected = net(X32.to_numpy(), training=False).detach().numpy()  # a torch tensor on this backend
    return Case(net, X32[:5], X32, expected, atol=1e-6)


def case_onnx(X: pd.DataFrame, y: np.ndarray, target: np.ndarray, tmp: Path) -> Case:
    from skl2onnx import to_onnx

    clf = LogisticRegression().fit(X, y)
    graph = to_onnx(clf, X.to_numpy()[:1], options={"zipmap": False})
    return Case(graph, X[:5], X, clf.predict(X), clf.predict_proba(X), atol=1e-9)


def case_python_import_path(X: pd.DataFrame, y: np.ndarray, target: np.ndarray, tmp: Path) -> Case:
    inner = LogisticRegression().fit(X, y)
    save_model(inner, tmp / "inner", input_example=X[:5])
    (tmp / "notes.txt").write_text("calibrated on 200 rows")
    proba = inner.predict_proba(X)
    return Case(Thresholded(0.7), X[:5], X, (proba[:, 1] >= 0.7).astype(np.int64), proba)


def case_python_cloudpickle(X: pd.DataFrame, y: np.ndarray, target: np.ndarray, tmp: Path) -> Case:
    scale = np.arange(1.0, 6.0)

    class Weighted:  # defined in a function: not importable, so cloudpickled
        def load(self, context: PythonModelContext) -> None:
            self.weights_ = scale

        def predict(self, inputs: pd.DataFrame) -> np.ndarray:
            return inputs.to_numpy() @ self.weights_

    return Case(Weighted(), X[:5], X, X.to_numpy() @ scale)


CASES: dict[str, Callable[..., Case]] = {
    name.removeprefix("case_"): func for name, func in list(globals().items()) if name.startswith("case_")
}
FLAVOR_OF = {name: name.split("_")[0] for name in CASES}


def _save(case_name: str, case: Case, path: Path, tmp: Path) -> None:
    artifacts = None
    if case_name == "python_import_path":
        artifacts = {"inner": tmp / "inner", "notes": tmp / "notes.txt"}
    save_model(case.model, path, input_example=case.example, artifacts=artifacts)


@pytest.mark.parametrize("case_name", sorted(CASES))
def test_saved_model_predicts_like_the_original_on_every_input_shape(
    case_name: str, tabular: Any, target: np.ndarray, forms: Any, tmp_path: Path
) -> None:
    X, y = tabular
    case = CASES[case_name](X, y, target, tmp_path)
    _save(case_name, case, tmp_path / "pkg", tmp_path)
    model = load_model(tmp_path / "pkg", trust=True)
    assert model.flavor == FLAVOR_OF[case_name]
    assert model.has_predict_proba is (case.proba is not None)
    for form, data in forms(case.evaluate).items():
        got = model.predict(data)
        if case.predict.dtype.kind in "iuUO":
            np.testing.assert_array_equal(got, case.predict, err_msg=form)
        else:
            np.testing.assert_allclose(got, case.predict, rtol=0, atol=case.atol, err_msg=form)
        if case.proba is not None:
            np.testing.assert_allclose(
                model.predict_proba(data), case.proba, rtol=0, atol=case.atol, err_msg=form
            )
    if case.proba is None:
        with pytest.raises(InvalidInput, match="has no predict_proba"):
            model.predict_proba(case.evaluate)


def test_python_flavor_prefers_the_import_path_and_pickles_nothing(
    tabular: Any, target: Any, tmp_path: Path
) -> None:
    X, y = tabular
    case = case_python_import_path(X, y, target, tmp_path)
    _save("python_import_path", case, tmp_path / "pkg", tmp_path)
    manifest = load_model(tmp_path / "pkg", trust=True).manifest
    options = manifest.flavor_options
    assert options["loader"] == "import"
    assert options["class"] == f"{Thresholded.__module__}:Thresholded"
    assert options["params"] == {"threshold": 0.7}
    assert not any(name.endswith(".pkl") for name in manifest.files if not name.startswith("artifacts/inner"))
    assert options["artifacts"] == {"inner": "artifacts/inner", "notes": "artifacts/notes/notes.txt"}
    assert "artifacts/inner/model.yaml" in manifest.files  # nested packages are hashed like any file
    assert load_model(tmp_path / "pkg", trust=True).unwrap().notes_ == "calibrated on 200 rows"


def test_python_flavor_falls_back_to_cloudpickle_for_a_local_class(
    tabular: Any, target: Any, tmp_path: Path
) -> None:
    X, y = tabular
    save_model(case_python_cloudpickle(X, y, target, tmp_path).model, tmp_path / "pkg", input_example=X[:5])
    manifest = load_model(tmp_path / "pkg", trust=True).manifest
    assert manifest.flavor_options["loader"] == "cloudpickle"
    assert "python_model.pkl" in manifest.files
    assert any(r.startswith("cloudpickle==") for r in manifest.requirements)


def test_python_flavor_pickles_instances_with_state_beyond_their_constructor(
    tabular: Any, tmp_path: Path
) -> None:
    X, _ = tabular
    model = Thresholded(0.4)
    model.extra = "set after construction"  # the import path could not rebuild this
    save_model(model, tmp_path / "pkg", flavor="python")
    assert (tmp_path / "pkg" / "python_model.pkl").exists()


def test_sklearn_single_row_ndarray_predict_builds_no_dataframe(
    tabular: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    X, y = tabular
    arrays = X.to_numpy()
    clf = LogisticRegression().fit(arrays, y)
    save_model(clf, tmp_path / "pkg", input_example=arrays[:5])
    model = load_model(tmp_path / "pkg", trust=True)
    row = np.ascontiguousarray(arrays[:1])
    expected, expected_proba = clf.predict(row), clf.predict_proba(row)
    assert model.signature.validate(row) is row  # the fast path: no copy, no cast

    built: list[int] = []
    original_init = pd.DataFrame.__init__

    def counting_init(self: pd.DataFrame, *args: Any, **kwargs: Any) -> None:
        built.append(1)
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "__init__", counting_init)
    for _ in range(3):
        np.testing.assert_array_equal(model.predict(row), expected)
        np.testing.assert_array_equal(model.predict_proba(row), expected_proba)
    assert built == []


def test_models_are_matched_to_flavors_by_class() -> None:
    import lightgbm as lgb
    import torch
    import xgboost as xgb

    assert flavor_for_model(Ridge()).name == "sklearn"
    assert flavor_for_model(make_pipeline(StandardScaler(), Ridge())).name == "sklearn"
    assert flavor_for_model(xgb.XGBRegressor()).name == "xgboost"  # before sklearn: it derives from it
    assert flavor_for_model(lgb.LGBMRegressor()).name == "lightgbm"
    assert flavor_for_model(torch.nn.Linear(2, 1)).name == "torch"
    assert flavor_for_model("graph.onnx").name == "onnx"
    assert flavor_for_model(Thresholded()).name == "python"
    with pytest.raises(InvalidInput, match="no model flavor saves") as caught:
        flavor_for_model(object())
    assert caught.value.field == "model"


def test_matching_a_sklearn_model_imports_no_other_framework() -> None:
    code = (
        "import sys\n"
        "from sklearn.linear_model import Ridge\n"
        "from shipyard.models import flavor_for_model\n"
        "assert flavor_for_model(Ridge()).name == 'sklearn'\n"
        "heavy = ('xgboost', 'lightgbm', 'torch', 'keras', 'onnx', 'onnxruntime', 'skl2onnx')\n"
        "loaded = [m for m in heavy if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_unknown_flavor_name_is_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown model flavor 'mlflow-nope'"):
        get_flavor("mlflow-nope")


@pytest.mark.parametrize(
    ("case_name", "module", "extra"),
    [
        ("xgboost_classifier", "xgboost", "xgboost"),
        ("lightgbm_regressor", "lightgbm", "lightgbm"),
        ("keras_sequential", "keras", "keras"),
        ("onnx", "onnxruntime", "onnx"),
        ("python_cloudpickle", "cloudpickle", "python"),
    ],
)
def test_loading_without_the_flavors_library_names_the_pip_install(
    case_name: str,
    module: str,
    extra: str,
    tabular: Any,
    target: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    X, y = tabular
    save_model(CASES[case_name](X, y, target, tmp_path).model, tmp_path / "pkg", input_example=X[:5])
    monkeypatch.setitem(sys.modules, module, None)  # what an uninstalled package looks like to import
    with pytest.raises(MissingExtra, match=rf"pip install 'shipyard\[{extra}\]'") as caught:
        load_model(tmp_path / "pkg", trust=True)
    assert caught.value.module == module and caught.value.extra == extra


def test_torch_module_without_an_example_cannot_be_exported(tmp_path: Path) -> None:
    import torch

    with pytest.raises(InvalidInput, match="needs input_example"):
        save_model(torch.nn.Linear(2, 1), tmp_path / "pkg")
    assert not (tmp_path / "pkg").exists()


def test_torch_tensor_signature_refuses_the_wrong_width(tabular: Any, tmp_path: Path) -> None:
    X, _ = tabular
    net, X32, _ = _torch_net(X)
    save_model(net, tmp_path / "pkg", input_example=X32.to_numpy()[:4])
    model = load_model(tmp_path / "pkg", trust=True)
    assert model.predict(X32.to_numpy()[:3]).shape == (3, 2)
    assert model.predict(X32.to_numpy()[:1]).shape == (1, 2)  # the batch dimension stayed dynamic
    with pytest.raises(InvalidInput, match="tensor 'input' has shape") as caught:
        model.predict(np.zeros((2, 4), dtype=np.float32))
    assert caught.value.field == "input"


def test_xgboost_can_be_stored_as_json(tabular: Any, tmp_path: Path) -> None:
    import xgboost as xgb

    X, y = tabular
    clf = xgb.XGBClassifier(n_estimators=4, max_depth=2, n_jobs=1).fit(X, y)
    manifest = save_model(clf, tmp_path / "pkg", input_example=X[:5], options={"format": "json"})
    assert "model.json" in manifest.files
    np.testing.assert_array_equal(load_model(tmp_path / "pkg", trust=True).predict(X), clf.predict(X))


def test_unknown_flavor_option_is_refused(tabular: Any, tmp_path: Path) -> None:
    X, y = tabular
    with pytest.raises(InvalidInput, match="no option 'fromat'") as caught:
        save_model(LogisticRegression().fit(X, y), tmp_path / "pkg", options={"fromat": "json"})
    assert caught.value.field == "fromat"
    with pytest.raises(InvalidInput, match="no option 'artifacts'"):
        save_model(LogisticRegression().fit(X, y), tmp_path / "pkg", artifacts={"a": tmp_path})


def test_sklearn_requirements_pin_the_libraries_a_pipeline_holds(tabular: Any, tmp_path: Path) -> None:
    import xgboost as xgb

    X, y = tabular
    pipeline = make_pipeline(StandardScaler(), xgb.XGBClassifier(n_estimators=2, max_depth=2, n_jobs=1)).fit(
        X, y
    )
    manifest = save_model(pipeline, tmp_path / "pkg", input_example=X[:5])
    assert manifest.flavor == "sklearn"
    assert f"xgboost=={xgb.__version__}" in manifest.requirements
    np.testing.assert_array_equal(load_model(tmp_path / "pkg", trust=True).predict(X), pipeline.predict(X))
