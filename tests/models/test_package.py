"""Packages on disk: the manifest, atomic saves, and verification before any unpickling."""

from __future__ import annotations

import hashlib
import os
import pickle
import platform
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn
import yaml
from sklearn.linear_model import LogisticRegression, Ridge

import shipyard.models
from shipyard.errors import IntegrityError, InvalidInput
from shipyard.models import ColumnSpec, ModelManifest, Signature, UntrustedPackage, load_model, save_model


class _Touch:
    """Unpickling this creates ``path``: the proof that a payload ran."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.mkdir, (str(self.path),))


@pytest.fixture
def classifier(tabular: Any) -> LogisticRegression:
    X, y = tabular
    return LogisticRegression().fit(X, y)


@pytest.fixture
def package(classifier: LogisticRegression, tabular: Any, tmp_path: Path) -> Path:
    X, _ = tabular
    save_model(
        classifier,
        tmp_path / "pkg",
        input_example=X[:5],
        source_run_id="0" * 32,
        metadata={"owner": "risk-team"},
        requirements=["pandas>=2.2"],
    )
    return tmp_path / "pkg"


def test_public_names_are_pinned() -> None:
    assert shipyard.models.__all__ == sorted(shipyard.models.__all__)
    assert set(shipyard.models.__all__) == {
        "ColumnSpec",
        "Flavor",
        "Model",
        "ModelManifest",
        "Predictor",
        "PythonModelContext",
        "Signature",
        "UntrustedPackage",
        "convert_to_onnx",
        "flavor_for_model",
        "get_flavor",
        "infer_signature",
        "load_model",
        "save_model",
    }


# -- the manifest ------------------------------------------------------------------


def test_manifest_records_versions_requirements_signature_and_provenance(package: Path) -> None:
    raw = yaml.safe_load((package / "model.yaml").read_text())
    manifest = ModelManifest.from_dict(raw)
    assert manifest.flavor == "sklearn"
    assert (manifest.framework, manifest.framework_version) == ("scikit-learn", sklearn.__version__)
    assert manifest.python_version == platform.python_version()
    assert f"scikit-learn=={sklearn.__version__}" in manifest.requirements
    assert f"joblib=={joblib.__version__}" in manifest.requirements
    assert "pandas>=2.2" in manifest.requirements  # the caller's own, added to the pins
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+(==|>=)\S+", r) for r in manifest.requirements)
    assert manifest.signature == Signature(
        inputs=[ColumnSpec(f"f{i}", "float64") for i in range(5)],
        outputs=[ColumnSpec("output", "int64", shape=(-1,))],
        kind="columns",
    )
    assert manifest.source_run_id == "0" * 32
    assert manifest.metadata == {"owner": "risk-team"}
    assert (
        manifest.shipyard_version
        == shipyard.models.ModelManifest(flavor="x", framework="x", framework_version="x").shipyard_version
    )
    created = datetime.fromisoformat(manifest.created_at)
    assert created.utcoffset() == timedelta(0)


def test_manifest_hashes_every_file_but_itself(package: Path) -> None:
    manifest = load_model(package, trust=True).manifest
    on_disk = sorted(p.name for p in package.iterdir() if p.name != "model.yaml")
    assert sorted(manifest.files) == on_disk == ["input_example.parquet", "model.joblib"]
    for name, digest in manifest.files.items():
        assert hashlib.sha256((package / name).read_bytes()).hexdigest() == digest


def test_input_example_round_trips_without_pickle(package: Path, tabular: Any) -> None:
    X, _ = tabular
    model = load_model(package, trust=True)
    assert model.manifest.input_example == "input_example.parquet"
    pd.testing.assert_frame_equal(model.input_example, X[:5].reset_index(drop=True))


@pytest.mark.parametrize(
    ("example", "file"),
    [
        (np.arange(10.0).reshape(5, 2), "input_example.npy"),
        ({"a": np.arange(5.0), "b": np.ones(5)}, "input_example.npz"),
    ],
)
def test_array_examples_are_stored_as_numpy_files(example: Any, file: str, tmp_path: Path) -> None:
    features = example if isinstance(example, np.ndarray) else np.column_stack(list(example.values()))
    reg = Ridge().fit(features, features.sum(axis=1))
    manifest = save_model(reg, tmp_path / "pkg", input_example=example, signature=None)
    assert manifest.input_example == file
    stored = load_model(tmp_path / "pkg", trust=True).input_example
    if isinstance(example, dict):
        assert set(stored) == set(example) and all(np.array_equal(stored[k], example[k]) for k in example)
    else:
        np.testing.assert_array_equal(stored, example)


def test_object_array_examples_are_refused_rather_than_pickled(tmp_path: Path, classifier: Any) -> None:
    with pytest.raises(InvalidInput, match="pickling") as caught:
        save_model(classifier, tmp_path / "pkg", input_example=np.array([[1, "a"]], dtype=object))
    assert caught.value.field == "input_example"
    assert not (tmp_path / "pkg").exists()


def test_model_without_example_has_no_signature_and_takes_input_as_given(
    classifier: Any, tabular: Any, tmp_path: Path
) -> None:
    X, _ = tabular
    save_model(classifier, tmp_path / "pkg")
    model = load_model(tmp_path / "pkg", trust=True)
    assert model.signature is None and model.input_example is None
    np.testing.assert_array_equal(model.predict(X.to_dict("records")), classifier.predict(X))


def test_explicit_signature_is_checked_against_the_example(
    classifier: Any, tabular: Any, tmp_path: Path
) -> None:
    X, _ = tabular
    wrong = Signature(inputs=[ColumnSpec("age", "float64")])
    with pytest.raises(InvalidInput, match="column 'age' is missing"):
        save_model(classifier, tmp_path / "pkg", input_example=X[:5], signature=wrong)


# -- saving ------------------------------------------------------------------------


def test_saving_to_an_existing_path_is_refused(package: Path, classifier: Any) -> None:
    with pytest.raises(InvalidInput, match="already exists") as caught:
        save_model(classifier, package)
    assert caught.value.field == "path"


def test_a_failed_save_leaves_nothing_behind(tmp_path: Path, tabular: Any) -> None:
    class Broken:
        def load(self, context: Any) -> None:
            pass

        def predict(self, inputs: Any) -> Any:
            raise RuntimeError("boom")

    X, _ = tabular
    with pytest.raises(RuntimeError, match="boom"):
        save_model(Broken(), tmp_path / "pkg", input_example=X[:5])  # signature inference runs it
    assert list(tmp_path.iterdir()) == []


# -- loading -----------------------------------------------------------------------


@pytest.mark.parametrize("content", [None, "flavor: [unclosed", "just a string", "framework: sklearn"])
def test_folder_without_a_valid_manifest_is_not_a_model(tmp_path: Path, content: str | None) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    if content is not None:
        (folder / "model.yaml").write_text(content)
    with pytest.raises(InvalidInput) as caught:
        load_model(folder)
    if content is None:
        assert str(caught.value) == f"no model at {folder}: model.yaml not found"


def test_missing_folder_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no model at"):
        load_model(tmp_path / "nowhere")


def test_tampered_model_file_is_refused_before_it_is_unpickled(package: Path, tmp_path: Path) -> None:
    marker = tmp_path / "payload-ran"
    # Prove the payload is live: unpickling a twin of it does create its marker.
    pickle.loads(pickle.dumps(_Touch(tmp_path / "twin-ran")))
    assert (tmp_path / "twin-ran").exists()

    (package / "model.joblib").write_bytes(pickle.dumps(_Touch(marker)))
    with pytest.raises(IntegrityError, match="'model.joblib'.*modified") as caught:
        load_model(package)
    assert caught.value.file == "model.joblib"
    assert not marker.exists()


def test_tampered_input_example_is_refused(package: Path) -> None:
    with open(package / "input_example.parquet", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(IntegrityError) as caught:
        load_model(package)
    assert caught.value.file == "input_example.parquet"


def test_unlisted_file_is_refused(package: Path) -> None:
    (package / "sitecustomize.py").write_text("print('hello')")
    with pytest.raises(IntegrityError, match="not listed") as caught:
        load_model(package)
    assert caught.value.file == "sitecustomize.py"


def test_missing_file_is_refused(package: Path) -> None:
    (package / "input_example.parquet").unlink()
    with pytest.raises(IntegrityError, match="missing") as caught:
        load_model(package)
    assert caught.value.file == "input_example.parquet"


def test_symlinked_file_is_refused(package: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.joblib"
    (package / "model.joblib").rename(outside)
    (package / "model.joblib").symlink_to(outside)
    with pytest.raises(IntegrityError, match="not a plain file"):
        load_model(package)


def test_pinned_manifest_digest_catches_a_rewritten_manifest(package: Path, tmp_path: Path) -> None:
    digest = load_model(package, trust=True).manifest.digest()
    assert digest == hashlib.sha256((package / "model.yaml").read_bytes()).hexdigest()
    load_model(package, manifest_sha256=digest)

    # An attacker who can write model.yaml can re-hash a tampered file; the pin catches it.
    marker = tmp_path / "payload-ran"
    payload = pickle.dumps(_Touch(marker))
    (package / "model.joblib").write_bytes(payload)
    raw = yaml.safe_load((package / "model.yaml").read_text())
    raw["files"]["model.joblib"] = hashlib.sha256(payload).hexdigest()
    (package / "model.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(IntegrityError, match="model.yaml"):
        load_model(package, manifest_sha256=digest)
    assert not marker.exists()


def rewrite_with_payload(package: Path, marker: Path) -> None:
    """Swap the package's pickle for a payload and rewrite model.yaml to record its sha256,
    as anyone who can write the folder can."""
    payload = pickle.dumps(_Touch(marker))
    (package / "model.joblib").write_bytes(payload)
    raw = yaml.safe_load((package / "model.yaml").read_text())
    raw["files"]["model.joblib"] = hashlib.sha256(payload).hexdigest()
    (package / "model.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))


def test_a_folder_rewritten_with_matching_digests_is_refused_without_trust(package: Path, tmp_path: Path) -> None:
    marker = tmp_path / "payload-ran"
    rewrite_with_payload(package, marker)
    with pytest.raises(UntrustedPackage) as caught:
        load_model(package)
    assert not marker.exists()
    assert isinstance(caught.value, InvalidInput) and caught.value.field == "trust"
    assert caught.value.path == str(package)


def test_an_untrusted_folder_error_names_the_fix_and_why(package: Path) -> None:
    with pytest.raises(UntrustedPackage) as caught:
        load_model(package)
    message = str(caught.value)
    assert "trust=True" in message and "--trust" in message  # the fix, in Python and on the command line
    assert "model.yaml" in message and "malicious pickle" in message  # why
    assert "models:/" in message and "manifest_sha256=" in message  # the ways that need no trust


def test_an_untampered_folder_loads_with_trust(package: Path, classifier: Any, tabular: Any) -> None:
    X, _ = tabular
    model = load_model(package, trust=True)
    np.testing.assert_array_equal(model.predict(X[:10]), classifier.predict(X[:10]))


def test_manifest_from_a_newer_shipyard_is_refused(package: Path) -> None:
    raw = yaml.safe_load((package / "model.yaml").read_text())
    raw["manifest_version"] = 99
    (package / "model.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(InvalidInput, match="upgrade shipyard"):
        load_model(package)


def test_unknown_flavor_in_a_manifest_is_refused(package: Path) -> None:
    raw = yaml.safe_load((package / "model.yaml").read_text())
    raw["flavor"] = "h2o"
    (package / "model.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(InvalidInput, match="unknown model flavor 'h2o'"):
        load_model(package)


# -- the Model ---------------------------------------------------------------------


def test_model_checks_input_and_exposes_its_parts(package: Path, classifier: Any, tabular: Any) -> None:
    X, _ = tabular
    model = load_model(package, trust=True)
    assert model.unwrap().coef_.tolist() == classifier.coef_.tolist()
    assert model.has_predict_proba and "sklearn" in repr(model)
    with pytest.raises(InvalidInput, match="column 'f3' is missing") as caught:
        model.predict(X.drop(columns=["f3"]))
    assert caught.value.field == "f3"
    bad = X[:2].astype({"f1": object})
    bad.loc[0, "f1"] = "abc"
    with pytest.raises(InvalidInput, match="'f1'") as caught:
        model.predict(bad)
    assert caught.value.field == "f1"
    as_ints = X[:3].round().astype(np.int64)  # int columns into a float64 signature: cast silently
    np.testing.assert_array_equal(model.predict(as_ints), classifier.predict(as_ints.astype(np.float64)))


def test_metadata_that_yaml_cannot_hold_is_refused(classifier: Any, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="plain values") as caught:
        save_model(classifier, tmp_path / "pkg", metadata={"auc": np.float32(0.9)})
    assert caught.value.field == "metadata"
    assert list(tmp_path.iterdir()) == []
