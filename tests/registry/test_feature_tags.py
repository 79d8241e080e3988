"""A registered version shows the features its package declares (embedded and through the server)."""

from __future__ import annotations

import pandas as pd

from shipyard import Client
from shipyard.registry._entities import ENTITY_KEYS_TAG, FEATURES_TAG
from tests.serving.feature_models import Weighted

EXAMPLE = pd.DataFrame({"avg_spend": [1.0, 2.0], "orders": [3.0, 4.0]})


def test_a_version_lists_its_features_and_entity_keys(client: Client) -> None:
    run = client.create_run("features")
    client.log_model(run.id, Weighted([1.0, 1.0]), "keys", input_example=EXAMPLE,
                     features=["user_stats:avg_spend", "user_stats:orders"], entity_keys=["user_id"])
    client.log_model(run.id, Weighted([1.0, 1.0]), "plain", input_example=EXAMPLE)
    version = client.register_model(f"runs:/{run.id}/keys", "spend", tags={"team": "risk"})
    assert version.features == ["user_stats:avg_spend", "user_stats:orders"] and version.entity_keys == ["user_id"]
    assert version.tags == {FEATURES_TAG: "user_stats:avg_spend,user_stats:orders", ENTITY_KEYS_TAG: "user_id",
                            "team": "risk"}
    assert client.get_model_version("spend", 1).features == version.features
    plain = client.register_model(f"runs:/{run.id}/plain", "spend")
    assert plain.features == [] and plain.entity_keys == [] and plain.tags == {}
