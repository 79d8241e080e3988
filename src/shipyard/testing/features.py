"""Conformance suites for the feature registry and for online stores.

* :class:`FeatureRegistryConformance` needs a ``registry`` fixture (a fresh
  :class:`~shipyard.features.FeatureRegistry`): SQL on SQLite and PostgreSQL, and
  remote through a server, all pass it.
* :class:`OnlineStoreConformance` needs an ``online`` fixture (a fresh, empty
  :class:`~shipyard.features.OnlineStore`): SQLite, Redis and the server's, over HTTP.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from shipyard.errors import Conflict, InvalidInput, NotFound
from shipyard.features import Entity, FeatureRegistry, FeatureView, OnDemandFeatureView, ParquetSource, RequestField
from shipyard.features.online import OnlineStore, encode_key

__all__ = ["FeatureRegistryConformance", "OnlineStoreConformance", "double_spend", "rows", "user_view"]


def user_view(features: dict[str, str] | None = None, *, name: str = "user_stats", keys: list[str] | None = None,
              timestamp: str = "event_ts", ttl: Any = "7d") -> FeatureView:
    """A feature view over a Parquet folder (never read by the registry)."""
    user = Entity("user", join_keys=keys or ["user_id"])
    return FeatureView(name, entities=[user], source=ParquetSource("stats/", timestamp=timestamp),
                       features=features or {"spend": "float64", "orders": "int64"}, ttl=ttl)


def double_spend(df: Any) -> Any:
    """An on-demand function: twice the spend plus the request's amount."""
    import pandas as pd

    return pd.DataFrame({"double_spend": df["spend"] * 2 + df["amount"]})


def rows(keys: list[Any], ts: list[int], **features: list[Any]) -> pa.Table:
    """A write table: encoded keys, event times (µs) and feature columns."""
    return pa.table({"key": [encode_key(k if isinstance(k, tuple) else (k,)) for k in keys],
                     "event_ts": pa.array(ts, pa.int64()), **features})


class FeatureRegistryConformance:
    """Cases every feature registry passes. Needs a ``registry`` fixture."""

    def test_apply_stores_a_version_only_when_the_definition_changes(self, registry: FeatureRegistry) -> None:
        view = user_view()
        first = registry.apply([view.entities[0].to_spec(), view.to_spec()])
        assert [(a.kind, a.name, a.version, a.status) for a in first] == [
            ("entity", "user", 1, "created"), ("feature_view", "user_stats", 1, "created")]
        again = registry.apply([view.to_spec()])
        assert [(a.version, a.status) for a in again] == [(1, "unchanged")]
        grown = user_view({"spend": "float64", "orders": "int64", "visits": "int32"}, ttl="1d")
        assert [(a.version, a.status) for a in registry.apply([grown.to_spec()])] == [(2, "updated")]
        stored = registry.get("feature_view", "user_stats")
        assert stored.version == 2 and stored.spec["features"]["visits"] == "int32"
        assert stored.spec == grown.to_spec() and len(stored.fingerprint) == 64
        assert registry.get("feature_view", "user_stats", 1).spec == view.to_spec()
        assert [o.version for o in registry.versions("feature_view", "user_stats")] == [2, 1]
        listed = [(o.kind, o.name) for o in registry.list_objects()]
        assert listed == [("entity", "user"), ("feature_view", "user_stats")]
        assert [o.name for o in registry.list_objects("entity")] == ["user"]

    @pytest.mark.parametrize(("change", "words"), [
        ({"features": {"spend": "string", "orders": "int64"}}, "feature 'spend' changed type from float64 to string"),
        ({"features": {"spend": "float64"}}, "feature 'orders' removed"),
        ({"keys": ["account_id"]}, "join key 'user_id' removed"),
        ({"timestamp": "ts"}, "timestamp column changed from 'event_ts' to 'ts'"),
    ])
    def test_an_incompatible_change_is_refused_unless_forced(self, registry: FeatureRegistry,
                                                             change: dict[str, Any], words: str) -> None:
        registry.apply([user_view().to_spec()])
        changed = user_view(change.get("features"), keys=change.get("keys"),
                            timestamp=change.get("timestamp", "event_ts"))
        other = Entity("merchant", join_keys=["merchant_id"])
        with pytest.raises(Conflict, match=words) as caught:
            registry.apply([other.to_spec(), changed.to_spec()])
        assert any(words in c for c in caught.value.changes)  # type: ignore[attr-defined]
        assert registry.get("feature_view", "user_stats").version == 1
        with pytest.raises(NotFound):  # the batch is all or nothing
            registry.get("entity", "merchant")
        forced = registry.apply([changed.to_spec()], force=True)
        assert (forced[0].version, forced[0].status) == (2, "forced") and words in forced[0].changes[0]
        assert registry.get("feature_view", "user_stats").forced

    def test_lookups_of_unknown_objects_name_them(self, registry: FeatureRegistry) -> None:
        with pytest.raises(NotFound, match="'nope'"):
            registry.get("feature_view", "nope")
        registry.apply([user_view().to_spec()])
        with pytest.raises(NotFound, match="version 9"):
            registry.get("feature_view", "user_stats", 9)
        with pytest.raises(NotFound):
            registry.versions("entity", "nope")
        with pytest.raises(InvalidInput, match="kind"):
            registry.get("table", "user_stats")

    def test_malformed_specs_are_refused_and_nothing_is_stored(self, registry: FeatureRegistry) -> None:
        good = user_view().to_spec()
        for bad in ({**good, "features": {"spend": "decimal"}}, {**good, "kind": "table"},
                    {"kind": "feature_view", "name": "x"}, {**good, "name": "bad name"},
                    {**good, "ttl_us": -5}):
            with pytest.raises(InvalidInput):
                registry.apply([good, bad])
        assert registry.list_objects() == []
        with pytest.raises(InvalidInput):
            registry.apply([good, good])

    def test_on_demand_inputs_must_name_existing_features(self, registry: FeatureRegistry) -> None:
        demand = OnDemandFeatureView("spend_plus", inputs=["user_stats:spend", RequestField("amount")],
                                     features={"double_spend": "float64"}, fn=double_spend)
        with pytest.raises(NotFound, match="user_stats"):
            registry.apply([demand.to_spec()])
        missing = OnDemandFeatureView("spend_plus", inputs=["user_stats:nope", RequestField("amount")],
                                      features={"double_spend": "float64"}, fn=double_spend)
        with pytest.raises(NotFound, match="nope"):
            registry.apply([user_view().to_spec(), missing.to_spec()])
        applied = registry.apply([user_view().to_spec(), demand.to_spec()])
        assert [a.status for a in applied] == ["created", "created"]
        spec = registry.get("on_demand_view", "spend_plus").spec
        assert spec["function"]["qualname"] == "double_spend" and len(spec["function"]["sha256"]) == 64
        clash = OnDemandFeatureView("user_stats", inputs=["user_stats:spend"], features={"x": "float64"},
                                    fn=double_spend)
        with pytest.raises(InvalidInput, match="name of a feature view"):
            registry.apply([clash.to_spec()])

    def test_materialization_state_is_kept_per_view(self, registry: FeatureRegistry) -> None:
        with pytest.raises(NotFound):
            registry.record_materialization("user_stats", 0, 10, 1)
        registry.apply([user_view().to_spec()])
        assert registry.materialization("user_stats") is None
        registry.record_materialization("user_stats", None, 1_000, 5)
        state = registry.record_materialization("user_stats", 1_000, 2_000, 7)
        got = registry.materialization("user_stats")
        assert got is not None and (got.start_us, got.end_us, got.rows) == (1_000, 2_000, 7)
        assert got.materialized_at == state.materialized_at > 0

    def test_lineage_needs_existing_view_versions(self, registry: FeatureRegistry) -> None:
        registry.apply([user_view().to_spec()])
        registry.record_lineage("train@1", [("user_stats", 1)])
        with pytest.raises(NotFound):
            registry.record_lineage("train@1", [("user_stats", 2)])
        with pytest.raises(InvalidInput):
            registry.record_lineage("train", [("user_stats", 1)])


class OnlineStoreConformance:
    """Cases every online store passes. Needs an ``online`` fixture (empty)."""

    def test_reads_come_back_in_key_order_with_nulls_for_missing(self, online: OnlineStore) -> None:
        assert online.write("v", rows([1, 2, "x|y"], [10, 20, 30], a=[1.5, None, 3.5], b=["p", "q", "r"])) == 3
        got = online.read("v", ["2", "9", "1", "x|y", "1"], ["b", "a"])
        assert got.event_ts == [20, None, 10, 30, 10]
        assert got.columns == {"b": ["q", None, "p", "r", "p"], "a": [None, None, 1.5, 3.5, 1.5]}
        assert online.read("v", [], ["a"]).columns == {"a": []}
        assert online.read("other", ["1"], ["a"]).columns == {"a": [None]}

    def test_an_older_row_never_replaces_a_newer_one(self, online: OnlineStore) -> None:
        online.write("v", rows([1, 2], [100, 100], a=[1.0, 2.0]))
        online.write("v", rows([1, 2], [50, 100], a=[9.0, 3.0]))  # 1 is older; 2 is as new
        online.write("v", rows([3], [10], a=[7.0]))
        got = online.read("v", ["1", "2", "3"], ["a"])
        assert got.columns["a"] == [1.0, 3.0, 7.0] and got.event_ts == [100, 100, 10]
        assert online.freshness("v") == 100
        assert online.freshness("never") is None

    def test_views_are_separate_and_delete_clears_one(self, online: OnlineStore) -> None:
        online.write("a", rows([1], [5], x=[1]))
        online.write("a.b", rows([1], [6], x=[2]))
        online.delete_view("a")
        assert online.read("a", ["1"], ["x"]).columns == {"x": [None]}
        assert online.read("a.b", ["1"], ["x"]).columns == {"x": [2]}
        assert online.freshness("a") is None and online.freshness("a.b") == 6
        online.delete_view("a")  # deleting twice is harmless

    def test_values_keep_their_types_and_composite_keys_work(self, online: OnlineStore) -> None:
        table = rows([(1, "eu"), (1, "us")], [1, 2], i=pa.array([2**40, -1], pa.int64()), f=[float("nan"), 0.1],
                     s=["é", ""], b=[True, False])
        online.write("v", table)
        got = online.read("v", [encode_key((1, "us")), encode_key((1, "eu")), encode_key((1, "eux"))],
                          ["i", "f", "s", "b"])
        assert got.columns == {"i": [-1, 2**40, None], "f": [0.1, None, None], "s": ["", "é", None],
                               "b": [False, True, None]}

    def test_pre_encoded_payloads_are_stored_as_given(self, online: OnlineStore) -> None:
        table = pa.table({"key": ["7"], "event_ts": pa.array([3], pa.int64()), "__payload": ['{"a":1,"b":"z"}']})
        online.write("v", table)
        assert online.read("v", ["7"], ["b", "a"]).columns == {"b": ["z"], "a": [1]}

    def test_rows_without_a_key_or_time_are_refused(self, online: OnlineStore) -> None:
        with pytest.raises(InvalidInput):
            online.write("v", pa.table({"key": ["1", None], "event_ts": pa.array([1, 2], pa.int64()), "a": [1, 2]}))
        with pytest.raises(InvalidInput):
            online.write("v", pa.table({"id": ["1"], "a": [1]}))
        assert online.read("v", ["1"], ["a"]).columns == {"a": [None]}
