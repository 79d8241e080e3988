"""Loading packages written by ``mlflow.sklearn``: every serialisation, verified first."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from shipyard.errors import IntegrityError, InvalidInput
from shipyard.models import UntrustedPackage
from shipyard.models._integrity import hash_files
from shipyard.models._mlflow_format import is_mlflow_package, load_mlflow_model, signature_from_mlflow
from tests.models.test_package import _Touch

mlflow_sklearn = pytest.importorskip("mlflow.sklearn", reason="the dev extra installs mlflow-skinny")

# mlflow's save_model checks its own input example and warns about its own internals.
pytestmark = [
    pytest.mark.filterwarnings("ignore:.*type hint is inferred as AnyType.*:UserWarning"),
    pytest.mark.filterwarnings("ignore:Operation with range is deprecated"),
]


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(50, 3))
    return x, (x[:, 0] - x[:, 2] > 0).astype(int)


def _save(model: object, path: Path, **kwargs: object) -> Path:
    mlflow_sklearn.save_model(model, str(path), pip_requirements=["scikit-learn"], **kwargs)
    return path


@pytest.mark.parametrize("serialization", ["skops", "cloudpickle", "pickle"])
def test_each_mlflow_serialisation_loads_and_predicts_like_the_estimator(
    tmp_path: Path, data: tuple[np.ndarray, np.ndarray], serialization: str
) -> None:
    x, y = data
    estimator = LogisticRegression().fit(x, y)
    path = _save(estimator, tmp_path / "m", serialization_format=serialization, input_example=x[:2])
    assert is_mlflow_package(path)
    model = load_mlflow_model(path, files=hash_files(path))
    assert model.flavor == "sklearn" and model.manifest.metadata["format"] == "mlflow"
    assert (model.predict(x) == estimator.predict(x)).all()
    assert np.allclose(model.predict_proba(x[:4]), estimator.predict_proba(x[:4]))
    assert model.signature is not None and model.signature.kind == "tensor"


def test_a_column_signature_from_a_dataframe_is_kept(tmp_path: Path, data: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = data
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    estimator = LogisticRegression().fit(frame, y)
    path = _save(estimator, tmp_path / "m", input_example=frame.head(2))
    model = load_mlflow_model(path, files=None, trust=True)
    assert model.signature is not None and [c.name for c in model.signature.inputs] == ["a", "b", "c"]
    assert (model.predict(frame.head(5).to_dict("records")) == estimator.predict(frame.head(5))).all()


def test_a_modified_file_is_refused_before_it_is_deserialised(
    tmp_path: Path, data: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = data
    path = _save(LogisticRegression().fit(x, y), tmp_path / "m", serialization_format="pickle")
    recorded = hash_files(path)
    (path / "model.pkl").write_bytes(b"not the pickle that was registered")
    with pytest.raises(IntegrityError, match="model.pkl"):
        load_mlflow_model(path, files=recorded)
    (path / "extra.py").write_text("print('x')")
    with pytest.raises(IntegrityError):
        load_mlflow_model(path, files=recorded)


def test_a_folder_without_recorded_digests_is_refused_before_unpickling_without_trust(
    tmp_path: Path, data: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = data
    path = _save(LogisticRegression().fit(x, y), tmp_path / "m", serialization_format="pickle")
    marker = tmp_path / "payload-ran"
    (path / "model.pkl").write_bytes(pickle.dumps(_Touch(marker)))  # nothing records the original
    with pytest.raises(UntrustedPackage, match=r"only its own MLmodel.*trust=True"):
        load_mlflow_model(path, files=None)
    assert not marker.exists()


def test_a_package_without_the_sklearn_flavor_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "MLmodel").write_text("flavors:\n  python_function: {loader_module: x}\n  keras: {}\n")
    with pytest.raises(InvalidInput, match="keras"):
        load_mlflow_model(tmp_path, files=None)


def test_signatures_shipyard_cannot_check_are_left_out() -> None:
    assert signature_from_mlflow(None) is None
    assert signature_from_mlflow({"inputs": '[{"type": "double"}]'}) is None  # unnamed column
    cols = signature_from_mlflow({"inputs": '[{"type": "double", "name": "n", "required": false}]', "outputs": None})
    assert cols is not None and cols.inputs[0].dtype == "float64" and cols.inputs[0].optional
