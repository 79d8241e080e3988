"""A package may declare the feature-store features it reads and the entity keys a request carries."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

import shipyard
from shipyard.errors import InvalidInput
from shipyard.models import ModelManifest
from shipyard.models._package import feature_columns
from tests.serving.feature_models import Weighted

REFS = ["user_stats:avg_spend", "user_stats:orders"]
EXAMPLE = pd.DataFrame({"avg_spend": [1.0, 2.0], "orders": [3.0, 4.0], "amount": [5.0, 6.0]})


def test_the_declaration_is_written_to_model_yaml_and_read_back(tmp_path: Path) -> None:
    manifest = shipyard.models.save_model(Weighted([1.0, 1.0, 1.0]), tmp_path / "m", input_example=EXAMPLE,
                                          features=REFS, entity_keys=["user_id"])
    raw = yaml.safe_load((tmp_path / "m" / "model.yaml").read_text())
    assert raw["features"] == REFS and raw["entity_keys"] == ["user_id"]
    assert ModelManifest.read(tmp_path / "m") == manifest
    assert feature_columns(manifest.signature, manifest.features) == {"avg_spend": REFS[0], "orders": REFS[1]}


def test_packages_without_features_write_and_read_as_before(tmp_path: Path) -> None:
    manifest = shipyard.models.save_model(Weighted([1.0]), tmp_path / "m", input_example=pd.DataFrame({"a": [1.0]}))
    raw = yaml.safe_load((tmp_path / "m" / "model.yaml").read_text())
    assert "features" not in raw and "entity_keys" not in raw
    assert manifest.features == [] and manifest.entity_keys == [] and ModelManifest.from_dict(raw) == manifest


@pytest.mark.parametrize(("options", "field", "message"), [
    ({"features": REFS[:1]}, "entity_keys", "entity_keys=[...]"),
    ({"features": ["avg_spend"], "entity_keys": ["user_id"]}, "features", "view:feature"),
    ({"features": "user_stats:avg_spend", "entity_keys": ["user_id"]}, "features", "list"),
    ({"features": ["user_stats:nope"], "entity_keys": ["user_id"]}, "features", "'nope' or 'user_stats__nope'"),
    ({"features": REFS, "entity_keys": ["user_id", "user_id"]}, "entity_keys", "repeat"),
    ({"entity_keys": ["user_id"]}, "entity_keys", "declares features"),
])
def test_a_bad_declaration_is_refused_when_saving(tmp_path: Path, options: dict, field: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        shipyard.models.save_model(Weighted([1.0, 1.0, 1.0]), tmp_path / "m", input_example=EXAMPLE, **options)
    assert caught.value.field == field and message in caught.value.message
    assert not (tmp_path / "m").exists()


def test_a_feature_model_needs_a_column_signature(tmp_path: Path) -> None:
    import numpy as np

    with pytest.raises(InvalidInput, match="column signature"):
        shipyard.models.save_model(Weighted([1.0]), tmp_path / "m", input_example=np.ones((2, 1)),
                                   features=REFS[:1], entity_keys=["user_id"])


def test_full_feature_names_fill_view_prefixed_columns(tmp_path: Path) -> None:
    manifest = shipyard.models.save_model(
        Weighted([1.0, 1.0]), tmp_path / "m", input_example=pd.DataFrame({"a__x": [1.0], "b__x": [2.0]}),
        features=["a:x", "b:x"], entity_keys=["k"])
    assert feature_columns(manifest.signature, manifest.features) == {"a__x": "a:x", "b__x": "b:x"}


def test_a_malformed_declaration_in_model_yaml_is_refused() -> None:
    base = {"flavor": "python", "framework": "shipyard", "framework_version": "0"}
    with pytest.raises(InvalidInput, match="view:feature"):
        ModelManifest.from_dict({**base, "features": ["nocolon"]})
    with pytest.raises(InvalidInput) as caught:
        ModelManifest.from_dict({**base, "features": ["a:b"], "entity_keys": "user_id"})
    assert caught.value.field == "entity_keys"
