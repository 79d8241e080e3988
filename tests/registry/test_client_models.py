"""Logging, registering, loading, converting and documenting real models through the client."""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from sklearn.linear_model import LogisticRegression

import shipyard
from shipyard import Client, IntegrityError, InvalidInput, MaxLatency, PromotionPolicy, PromotionRefused
from shipyard.models import UntrustedPackage


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 6))
    return x, (x[:, 0] + x[:, 1] > 0).astype(int)


def test_log_register_and_load_by_alias_give_identical_predictions(client: Client, data) -> None:
    x, y = data
    model = LogisticRegression().fit(x, y)
    with shipyard.start_run("churn", client=client) as run:
        shipyard.log_metric("auc", 0.91)
        info = shipyard.log_model(model, input_example=x[:5], registered_model_name="churn")
    assert info.uri == f"runs:/{run.id}/model" and info.registered_version.version == 1
    client.set_alias("churn", "production", 1)
    loaded = shipyard.load_model("models:/churn@production", client=client)
    np.testing.assert_allclose(loaded.predict_proba(x), model.predict_proba(x))
    version = client.get_model_version("churn", 1)
    assert version.flavor == "sklearn" and version.metrics == {"auc": 0.91}
    assert [c["name"] for c in version.signature["inputs"]] or version.signature["kind"] == "tensor"


def test_tampered_stored_model_is_refused_before_unpickling(tmp_path, data) -> None:
    x, y = data
    client = Client(home=tmp_path)
    run = client.create_run("e")
    client.log_model(run.id, LogisticRegression().fit(x, y), input_example=x[:2])
    version = client.register_model(f"runs:/{run.id}/model", "m")
    files = {f.path: f for f in client.registry_store.list_version_files("m", version.version)}
    store = client.registry_store.artifacts  # type: ignore[attr-defined]
    pickled = next(f for p, f in files.items() if p != "model.yaml" and "example" not in p)
    path = store.object_path(pickled.digest)
    with open(path, "r+b") as fh:
        fh.write(b"tampered")
    with pytest.raises(IntegrityError):
        client.load_model("models:/m/1")
    client.close()


class _Touch:
    """Unpickling this creates ``path``: the proof that a payload ran."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.mkdir, (str(self.path),))


def _rewrite_with_payload(folder: Path, marker: Path) -> None:
    """Swap the package's pickle for a payload and make its model.yaml record the payload."""
    raw = yaml.safe_load((folder / "model.yaml").read_text())
    pickled = next(name for name in raw["files"] if name.endswith((".joblib", ".pkl")))
    payload = pickle.dumps(_Touch(marker))
    (folder / pickled).write_bytes(payload)
    raw["files"][pickled] = hashlib.sha256(payload).hexdigest()
    (folder / "model.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))


def test_a_local_folder_loads_only_with_trust(tmp_path: Path, data) -> None:
    x, y = data
    model = LogisticRegression().fit(x, y)
    shipyard.save_model(model, tmp_path / "pkg", input_example=x[:3])
    with Client(home=tmp_path / "home") as client:
        with pytest.raises(UntrustedPackage, match="trust=True"):
            shipyard.load_model(str(tmp_path / "pkg"), client=client)
        loaded = shipyard.load_model(str(tmp_path / "pkg"), trust=True, client=client)
    np.testing.assert_array_equal(loaded.predict(x[:5]), model.predict(x[:5]))


def test_a_rewritten_local_copy_is_refused_through_a_registry_or_run_uri_even_with_trust(
        client: Client, tmp_path: Path, data) -> None:
    x, y = data
    run = client.create_run("e")
    client.log_model(run.id, LogisticRegression().fit(x, y), input_example=x[:2], registered_model_name="m")
    marker = tmp_path / "payload-ran"
    for uri in ("models:/m/1", f"runs:/{run.id}/model"):
        _rewrite_with_payload(client.model_path(uri), marker)  # the verified local copy, rewritten
        for trust in (False, True):
            with pytest.raises(IntegrityError, match="model.yaml"):
                client.load_model(uri, trust=trust)
    assert not marker.exists()


def test_registering_a_local_folder_without_a_model_is_invalid(client: Client, tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInput):
        client.register_model(str(tmp_path / "empty"), "m")


def test_registering_a_local_package_folder_works(client: Client, tmp_path, data) -> None:
    x, y = data
    shipyard.save_model(LogisticRegression().fit(x, y), tmp_path / "pkg", input_example=x[:3])
    version = client.register_model(str(tmp_path / "pkg"), "local")
    assert version.version == 1
    assert client.load_model("models:/local/1").predict(x[:4]).shape == (4,)


def test_latency_gate_measures_the_candidate(client: Client, data) -> None:
    x, y = data
    run = client.create_run("e")
    client.log_model(run.id, LogisticRegression().fit(x, y), input_example=x[:5])
    client.register_model(f"runs:/{run.id}/model", "fast")
    client.set_promotion_policy("fast", PromotionPolicy([MaxLatency(p99_ms=0.000001)]))
    with pytest.raises(PromotionRefused, match="latency p99"):
        client.set_alias("fast", "production", 1)
    client.set_promotion_policy("fast", PromotionPolicy([MaxLatency(p99_ms=500)]))
    assert client.set_alias("fast", "production", 1).aliases == ["production"]


def test_convert_to_onnx_registers_a_new_version_that_predicts_the_same(client: Client, data) -> None:
    x, y = data
    model = LogisticRegression().fit(x, y)
    run = client.create_run("e")
    client.log_model(run.id, model, input_example=x[:5])
    client.register_model(f"runs:/{run.id}/model", "churn")
    converted = client.convert_model("models:/churn/1", to="onnx")
    assert converted.version == 2 and converted.flavor == "onnx"
    onnx_model = client.load_model("models:/churn/2")
    np.testing.assert_allclose(onnx_model.predict_proba(x), model.predict_proba(x), atol=1e-5)


def test_model_card_shows_metrics_params_lineage_and_user_fields(client: Client, data) -> None:
    x, y = data
    with shipyard.start_run("churn", client=client) as run:
        shipyard.log_params({"C": 1.0})
        shipyard.log_metric("auc", 0.88)
        shipyard.log_model(LogisticRegression().fit(x, y), input_example=x[:5], registered_model_name="churn")
    client.set_registered_model_tag("churn", "intended_use", "Rank accounts by churn risk.")
    client.set_model_version_tag("churn", 1, "validated_by", "qa")
    assert client.get_model_version("churn", 1).tags["validated_by"] == "qa"
    client.set_alias("churn", "production", 1)
    card = client.model_card("models:/churn@production")
    assert "Rank accounts by churn risk." in card and "| auc | 0.88 |" in card
    assert f"run:{run.id}" in card and "| C | 1.0 |" in card
    assert "Not filled in yet" in card  # limitations left empty
    html = client.model_card("models:/churn@production", format="html")
    assert html.startswith("<!doctype html>") and "<td>auc</td>" in html


def test_lineage_of_a_model_reaches_its_run_and_back(client: Client, data) -> None:
    x, y = data
    with shipyard.start_run("e", client=client) as run:
        shipyard.log_model(LogisticRegression().fit(x, y), input_example=x[:5], registered_model_name="m")
    graph = client.lineage("models:/m/1")
    assert {str(n) for n in graph.nodes} == {f"run:{run.id}", "model_version:m/1"}
    assert [str(e.dst) for e in client.lineage(run.id).downstream] == ["model_version:m/1"]


def test_lineage_of_a_model_reaches_the_parent_pipeline_run(client: Client, data) -> None:
    x, y = data
    with shipyard.start_run("e", client=client) as parent, shipyard.start_run(nested=True, client=client) as child:
        shipyard.log_model(LogisticRegression().fit(x, y), input_example=x[:5], registered_model_name="m")
    graph = client.lineage("models:/m/1")
    assert {(str(e.src), e.relation, str(e.dst)) for e in graph.upstream} == {
        (f"run:{child.id}", "produced", "model_version:m/1"),
        (f"run:{parent.id}", "parent", f"run:{child.id}"),
    }
