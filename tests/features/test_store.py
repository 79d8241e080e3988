"""The FeatureStore facade: materialization, push, online lookups, on-demand features, assembly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from shipyard import Client, Config
from shipyard import features as sf
from shipyard.errors import ConfigError, Conflict, InvalidInput, MissingExtra, NotFound
from shipyard.features import SqlFeatureRegistry
from shipyard.features.online import SqliteOnlineStore
from shipyard.store import Database
from tests.features.defs_ondemand import spend_ratio
from tests.services import running_server

M = pd.Timedelta(minutes=1)


@pytest.fixture
def now() -> pd.Timestamp:
    """The time the test starts (naive UTC): data is placed relative to it."""
    return pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sf.FeatureStore]:
    db = Database(f"sqlite:///{tmp_path / 'meta.db'}")
    db.ensure_schema()
    online: sf.OnlineStore
    if request.param == "redis":
        online = sf.RedisOnlineStore(request.getfixturevalue("redis_url"))
    else:
        online = SqliteOnlineStore(tmp_path / "online.db")
    with sf.FeatureStore(Config(home=tmp_path), registry=SqlFeatureRegistry(db), online=online) as s:
        yield s
    online.close()
    db.dispose()


def stats_frame(now: pd.Timestamp) -> pd.DataFrame:
    return pd.DataFrame({
        "user_id": [1, 1, 1, 2, 2, 3],
        "event_ts": [now - 50 * M, now - 30 * M, now - 30 * M, now - 40 * M, now + 10 * M, now - 120 * M],
        "created_ts": [now, now, now + M, now, now, now],  # user 1 at -30m: the later correction wins
        "spend": [1.0, 2.0, 2.5, 4.0, 99.0, 7.0],
        "orders": [1, 2, 3, 4, 5, 6],
    })


def stats_view(path: Path, now: pd.Timestamp, ttl: str = "1h") -> sf.FeatureView:
    stats_frame(now).to_parquet(path)
    return sf.FeatureView("user_stats", entities=[sf.Entity("user", join_keys=["user_id"])],
                          source=sf.ParquetSource(path, timestamp="event_ts", created_timestamp="created_ts"),
                          features={"spend": "float64", "orders": "int64"}, ttl=ttl)


def ratio_view() -> sf.OnDemandFeatureView:
    return sf.OnDemandFeatureView("spend_ratio", inputs=["user_stats:spend", sf.RequestField("amount", "float64")],
                                  features={"ratio": "float64", "big": "bool"}, fn=spend_ratio)


def test_materialize_writes_the_latest_value_per_entity(store: sf.FeatureStore, tmp_path: Path,
                                                        now: pd.Timestamp) -> None:
    store.apply(stats_view(tmp_path / "stats.parquet", now))
    states = store.materialize(now - 100 * M, now)
    assert [(s.view, s.rows) for s in states] == [("user_stats", 2)]  # 3 is outside, 2's future row too
    got = store.get_online_features(["user_stats:spend", "user_stats:orders"],
                                    [{"user_id": 1}, {"user_id": 2}, {"user_id": 3}, {"user_id": 1}])
    assert got.to_dict() == {"user_id": [1, 2, 3, 1], "spend": [2.5, 4.0, None, 2.5], "orders": [3, 4, None, 3]}
    assert list(got.to_df().columns) == ["user_id", "spend", "orders"]
    state = store.registry.materialization("user_stats")
    assert state is not None and state.rows == 2
    age = store.freshness("user_stats")
    assert age is not None and 30 * 60 - 5 < age < 30 * 60 + 120


def test_incremental_materialization_continues_where_the_last_one_ended(store: sf.FeatureStore,
                                                                         tmp_path: Path, now: pd.Timestamp) -> None:
    store.apply(stats_view(tmp_path / "stats.parquet", now, ttl="55m"))
    first = store.materialize_incremental(now - 35 * M)  # first time: end - ttl = [-90m, -35m)
    assert first[0].start_us is not None and first[0].rows == 2
    assert store.get_online_features(["user_stats:spend"], [{"user_id": 1}]).to_dict()["spend"] == [1.0]
    second = store.materialize_incremental(now + 20 * M)
    assert second[0].start_us == first[0].end_us and second[0].rows == 2
    assert store.get_online_features(["user_stats:spend"], [{"user_id": 1}, {"user_id": 2}]).to_dict()["spend"] == [
        2.5, 99.0]


def test_online_values_older_than_the_ttl_are_null(store: sf.FeatureStore, tmp_path: Path, now: pd.Timestamp) -> None:
    store.apply(stats_view(tmp_path / "stats.parquet", now, ttl="35m"))
    store.materialize(now - 200 * M, now)
    got = store.get_online_features(["user_stats:spend"], [{"user_id": 1}, {"user_id": 2}])
    assert got.to_dict()["spend"] == [2.5, None]  # user 2's value is 40 minutes old


def test_push_writes_only_newer_rows(store: sf.FeatureStore, tmp_path: Path, now: pd.Timestamp) -> None:
    store.apply(stats_view(tmp_path / "stats.parquet", now))
    store.materialize(now - 100 * M, now)
    fresh = pd.DataFrame({"user_id": [1, 1, 2], "event_ts": [now - 5 * M, now - M, now - 59 * M],
                          "spend": [5.0, 6.0, -1.0], "orders": [7, 8, 9]})
    assert store.push("user_stats", fresh) == 2
    got = store.get_online_features(["user_stats:spend", "user_stats:orders"], [{"user_id": 1}, {"user_id": "2"}])
    assert got.to_dict() == {"user_id": [1, "2"], "spend": [6.0, 4.0], "orders": [8, 4]}
    assert store.freshness("user_stats") < 120  # type: ignore[operator]
    with pytest.raises(InvalidInput, match="'orders'"):
        store.push("user_stats", fresh.drop(columns="orders"))
    with pytest.raises(NotFound):
        store.push("nope", fresh)


def test_on_demand_features_are_the_same_offline_and_online(store: sf.FeatureStore, tmp_path: Path,
                                                            now: pd.Timestamp) -> None:
    store.apply([stats_view(tmp_path / "stats.parquet", now), ratio_view()])
    store.materialize(now - 100 * M, now)
    refs = ["spend_ratio:ratio", "spend_ratio:big", "user_stats:orders"]
    online = store.get_online_features(refs, [{"user_id": 1, "amount": 5.0}, {"user_id": 2, "amount": 400.0}])
    assert online.to_dict() == {"user_id": [1, 2], "ratio": [0.5, 0.01], "big": [False, True], "orders": [3, 4]}
    assert list(online.to_dict()) == ["user_id", "ratio", "big", "orders"]
    ent = pd.DataFrame({"user_id": [1, 2], "event_timestamp": [now, now], "amount": [5.0, 400.0]})
    offline = store.get_historical_features(ent, refs).to_pandas()
    assert offline["ratio"].tolist() == online.to_dict()["ratio"]
    assert offline["big"].tolist() == online.to_dict()["big"]
    assert list(offline.columns) == ["user_id", "event_timestamp", "amount", "ratio", "big", "orders"]
    with pytest.raises(InvalidInput, match="'amount'"):
        store.get_online_features(refs, [{"user_id": 1}])
    with pytest.raises(InvalidInput, match="'amount'"):
        store.get_historical_features(ent.drop(columns="amount"), refs)


def test_online_lookups_refuse_bad_entity_rows(store: sf.FeatureStore, tmp_path: Path, now: pd.Timestamp) -> None:
    store.apply(stats_view(tmp_path / "stats.parquet", now))
    for rows in ([{"account": 1}], {"user_id": 1}, [5], [{"user_id": None}]):
        with pytest.raises(InvalidInput):
            store.get_online_features(["user_stats:spend"], rows)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        store.get_online_features(["nope:spend"], [{"user_id": 1}])
    assert store.get_online_features(["user_stats:spend"], []).to_dict() == {"user_id": [], "spend": []}


def test_a_forced_incompatible_change_clears_the_online_values(store: sf.FeatureStore, tmp_path: Path,
                                                               now: pd.Timestamp) -> None:
    view = stats_view(tmp_path / "stats.parquet", now)
    store.apply(view)
    store.materialize(now - 100 * M, now)
    changed = sf.FeatureView("user_stats", entities=view.entities, source=view.source,
                             features={"spend": "string", "orders": "int64"}, ttl="1h")
    with pytest.raises(Conflict, match="spend"):
        store.apply(changed)
    assert store.get_online_features(["user_stats:orders"], [{"user_id": 1}]).to_dict()["orders"] == [3]
    assert store.apply(changed, force=True)[0].status == "forced"
    assert store.get_online_features(["user_stats:orders"], [{"user_id": 1}]).to_dict()["orders"] == [None]
    assert store.online.freshness("user_stats") is None


def test_freshness_is_exported_as_a_prometheus_gauge(store: sf.FeatureStore, tmp_path: Path, now: pd.Timestamp) -> None:
    store.apply(stats_view(tmp_path / "stats.parquet", now))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(store.metrics_collector())
    assert b'shipyard_feature_freshness_seconds{view="user_stats"}' not in generate_latest(registry)
    store.materialize(now - 100 * M, now)
    text = generate_latest(registry).decode()
    line = next(x for x in text.splitlines() if x.startswith('shipyard_feature_freshness_seconds{view="user_stats"}'))
    assert 30 * 60 - 5 < float(line.split()[-1]) < 30 * 60 + 120


def test_the_issue_example_works_from_the_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        now: pd.Timestamp) -> None:
    monkeypatch.setenv("SHIPYARD_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SHIPYARD_URL", raising=False)
    monkeypatch.delenv("SHIPYARD_DB", raising=False)
    monkeypatch.delenv("SHIPYARD_ONLINE_STORE", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "stats").mkdir()
    stats_frame(now).drop(columns="created_ts").to_parquet(tmp_path / "stats" / "part-0.parquet")
    user = sf.Entity("user", join_keys=["user_id"])
    stats = sf.FeatureView("user_stats", entities=[user], source=sf.ParquetSource("stats/", timestamp="event_ts"),
                           features={"spend": "float64", "orders": "int64"}, ttl="7d")
    with Client() as client, client.features as store:
        store.apply([user, stats])
        entity_df = pd.DataFrame({"user_id": [1, 2], "event_timestamp": [now, now]})
        train = store.get_historical_features(entity_df, ["user_stats:spend", "user_stats:orders"]).to_pandas()
        assert train["orders"].tolist()[1] == 4 and train["orders"].tolist()[0] in (2, 3)  # a tie, no created ts
        store.materialize_incremental(now + 20 * M)
        assert (tmp_path / "home" / "online.db").is_file()
        assert store.get_online_features(["user_stats:spend"], [{"user_id": 2}]).to_dict()["spend"] == [99.0]
    with Client(Config(home=tmp_path / "home")) as client:
        assert [v.name for v in client.feature_store.list_views()] == ["user_stats"]


def test_a_training_set_becomes_a_dataset_with_lineage(tmp_path: Path, now: pd.Timestamp) -> None:
    with Client(Config(home=tmp_path / "home")) as client:
        store = client.feature_store
        store.apply(stats_view(tmp_path / "stats.parquet", now))
        ent = pd.DataFrame({"user_id": [1, 2], "event_timestamp": [now, now], "label": [0, 1]})
        version = store.get_historical_features(ent, ["user_stats:spend"]).to_dataset("train")
        assert version.ref == "train@1" and version.num_rows == 2
        graph = client.dataset_lineage("train@1")
        assert [(e.src.type, e.src.id, e.relation) for e in graph.upstream] == [("feature_view", "user_stats@1",
                                                                                "input")]
        # The dataset can itself be a feature source.
        ratings = pd.DataFrame({"user_id": [1], "ts": [now - M], "rating": [4.5]})
        client.register_dataset("ratings", ratings)
        view = sf.FeatureView("ratings", entities=[sf.Entity("user", join_keys=["user_id"])],
                              source=sf.DatasetSource("ratings@1", timestamp="ts"), features={"rating": "float64"})
        store.apply(view)
        got = store.get_historical_features(ent, ["ratings:rating"]).to_pandas()["rating"]
        assert got[0] == 4.5 and np.isnan(got[1])


def test_through_a_server_the_registry_and_online_store_are_the_servers(tmp_path: Path, now: pd.Timestamp) -> None:
    with running_server(Config(home=tmp_path / "server")) as server:
        remote = Config(home=tmp_path / "client", url=server.url)
        with Client(remote) as client, client.features as store:
            store.apply([stats_view(tmp_path / "stats.parquet", now), ratio_view()])
            store.materialize(now - 100 * M, now)
            assert store.get_online_features(["user_stats:spend"], [{"user_id": 1}]).to_dict()["spend"] == [2.5]
        assert not (tmp_path / "client" / "online.db").exists()
        with Client(Config(home=tmp_path / "server")) as local:
            embedded = local.feature_store
            assert [v.name for v in embedded.list_views()] == ["user_stats", "spend_ratio"]
            assert embedded.get_online_features(["user_stats:orders"], [{"user_id": 1}]).to_dict()["orders"] == [3]


def test_the_online_store_setting_picks_the_backend(tmp_path: Path, redis_url: str) -> None:
    from shipyard.config import load_config

    config = load_config(env={"SHIPYARD_HOME": str(tmp_path), "SHIPYARD_ONLINE_STORE": redis_url})
    assert config.online_store == redis_url
    store = sf.FeatureStore(config, registry=SqlFeatureRegistry(Database(f"sqlite:///{tmp_path / 'm.db'}")))
    assert isinstance(store.online, sf.RedisOnlineStore) and store.online.prefix.startswith("t")
    store.close()
    assert isinstance(sf.open_online_store(None, tmp_path), SqliteOnlineStore)
    assert sf.open_online_store(f"sqlite:///{tmp_path / 'x.db'}", tmp_path).path == tmp_path / "x.db"  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="online_store"):
        sf.open_online_store("memcached://host", tmp_path)


def test_redis_without_its_extra_names_the_pip_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(MissingExtra, match=r"pip install 'shipyard\[redis\]'"):
        sf.RedisOnlineStore("redis://127.0.0.1:6379/0")


def test_many_keys_are_read_in_chunks(tmp_path: Path) -> None:
    from shipyard.testing.features import rows

    online = SqliteOnlineStore(tmp_path / "online.db")
    keys = list(range(70_000))
    online.write("v", rows(keys, [1] * len(keys), a=keys))
    got = online.read("v", [str(k) for k in reversed(keys)], ["a"])
    assert got.columns["a"] == list(reversed(keys))
    online.close()
    assert online.read("v", ["5"], ["a"]).columns["a"] == [5]  # reopens after close
    online.close()
