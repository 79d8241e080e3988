"""A registered model's traffic split: checked, kept with the model, audited, on every backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shipyard import Client, Config
from shipyard.errors import Conflict, InvalidInput, NotFound
from shipyard.registry import TRAFFIC_TAG, TrafficSplit
from shipyard.testing.registry import fake_package_run


@pytest.mark.parametrize(("data", "field"), [
    ({"routes": {"production": 101}}, "routes.production"),
    ({"routes": {"production": -1, "challenger": 101}}, "routes.production"),
    ({"routes": {"production": 90, "challenger": 5}}, "routes"),
    ({"routes": {}}, "routes"),
    ({"routes": {"production": True}}, "routes.production"),
    ({"routes": {"latest": 100}}, "routes.latest"),
    ({"routes": {"production": 100}, "shadow": {"alias": "challenger", "fraction": 1.5}}, "shadow.fraction"),
    ({"routes": {"production": 100}, "shadow": {"fraction": 0.5}}, "shadow.alias"),
    ({"routes": {"production": 100}, "shadow": {"alias": "challenger", "share": 0.5}}, "shadow.share"),
    ({"routes": {"production": 100}, "weights": {}}, "weights"),
    ({}, "routes"),
    ("production", "traffic"),
])
def test_a_malformed_split_is_refused_naming_the_field(data: object, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        TrafficSplit.from_json(data)
    assert caught.value.context["field"] == field


def test_the_json_form_reads_back_equal_and_the_tag_is_canonical() -> None:
    split = TrafficSplit.from_json({"routes": {"production": 90.0, "challenger": 10},
                                    "shadow": {"alias": "candidate", "fraction": 0.25}})
    assert TrafficSplit.from_json(split.to_json()) == split
    assert split.to_tag() == ('{"routes":{"challenger":10,"production":90},'
                              '"shadow":{"alias":"candidate","fraction":0.25}}')
    assert split.aliases == ["challenger", "production", "candidate"]
    assert TrafficSplit.canary("production", "challenger", 0).routes == {"production": 100.0}


@pytest.fixture
def churn(client_config: Config) -> Iterator[Client]:
    client = Client(client_config)
    run_id = fake_package_run(client.tracking_store)
    for _ in range(2):
        client.register_model(f"runs:/{run_id}/model", "churn")
    client.set_alias("churn", "production", 1)
    client.set_alias("churn", "challenger", 2)
    yield client
    client.close()


def test_setting_a_split_keeps_it_with_the_model_audits_it_and_bumps_the_generation(churn: Client) -> None:
    registry = churn.registry
    assert registry.get_traffic("churn") is None
    generation = churn.registry_store.generation()
    split = registry.set_traffic("churn", {"routes": {"production": 90, "challenger": 10},
                                           "shadow": {"alias": "challenger", "fraction": 1}}, reason="canary")
    assert split == TrafficSplit({"production": 90, "challenger": 10}, "challenger", 1.0)
    assert registry.get_traffic("churn") == split
    assert churn.registry_store.generation() > generation
    event = registry.model_history("churn")[-1]
    assert (event.action, event.before, event.reason) == ("set_traffic", None, "canary")
    assert event.after == split.to_json()
    registry.set_traffic("churn", TrafficSplit.canary("production", "challenger", 50))
    assert registry.get_traffic("churn") == TrafficSplit({"production": 50, "challenger": 50})
    assert registry.set_traffic("churn", None) is None
    assert registry.get_traffic("churn") is None
    cleared = registry.model_history("churn")[-1]
    assert cleared.action == "set_traffic" and cleared.after is None
    assert cleared.before == {"routes": {"production": 50, "challenger": 50}}


def test_setting_the_same_split_again_changes_nothing(churn: Client) -> None:
    registry = churn.registry
    registry.set_traffic("churn", {"routes": {"production": 90, "challenger": 10}})
    events = len(registry.model_history("churn"))
    registry.set_traffic("churn", {"routes": {"challenger": 10, "production": 90.0}})
    registry.set_traffic("churn", TrafficSplit.canary("production", "challenger", 10))
    assert len(registry.model_history("churn")) == events
    registry.set_traffic("churn", None)
    registry.set_traffic("churn", None)
    assert len(registry.model_history("churn")) == events + 1


def test_a_split_naming_a_missing_alias_is_refused_and_nothing_is_stored(churn: Client) -> None:
    registry = churn.registry
    with pytest.raises(InvalidInput) as caught:
        registry.set_traffic("churn", {"routes": {"production": 90, "canary": 10}})
    assert caught.value.context["field"] == "routes.canary"
    with pytest.raises(InvalidInput) as caught:
        registry.set_traffic("churn", {"routes": {"production": 100}, "shadow": {"alias": "candidate"}})
    assert caught.value.context["field"] == "shadow.alias"
    with pytest.raises(InvalidInput) as caught:
        registry.set_traffic("churn", {"routes": {"production": 100.5}})
    assert caught.value.context["field"] == "routes.production"
    with pytest.raises(NotFound):
        registry.set_traffic("fraud", {"routes": {"production": 100}})
    assert registry.get_traffic("churn") is None
    assert [e.action for e in registry.model_history("churn")].count("set_traffic") == 0


def test_the_reserved_tag_cannot_be_written_as_a_plain_tag(churn: Client) -> None:
    with pytest.raises(InvalidInput) as caught:
        churn.registry_store.set_registered_model_tag("churn", TRAFFIC_TAG, '{"routes":{"production":100}}')
    assert caught.value.context["field"] == "key"
    assert churn.registry.get_traffic("churn") is None


def test_an_alias_carrying_traffic_cannot_be_deleted_until_the_split_lets_it_go(churn: Client) -> None:
    registry = churn.registry
    registry.set_traffic("churn", {"routes": {"production": 100}, "shadow": {"alias": "challenger"}})
    with pytest.raises(Conflict):
        registry.delete_alias("churn", "challenger")
    assert churn.get_registered_model("churn").aliases == {"production": 1, "challenger": 2}
    registry.set_traffic("churn", None)
    registry.delete_alias("churn", "challenger")
    assert churn.get_registered_model("churn").aliases == {"production": 1}
