"""The skew check: online values against the offline point-in-time path as of now."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest
from rich.console import Console

from shipyard import Client, Config
from shipyard import features as sf
from shipyard.errors import InvalidInput, NotFound
from shipyard.features.online import RedisOnlineStore, SqliteOnlineStore

USERS = list(range(1, 41))
NOW = pd.Timestamp.now(tz="UTC").floor("s")


def stats_frame(aware: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = [{"user_id": u, "event_ts": NOW - pd.Timedelta(hours=6 * k + 1),
             "avg_spend": float(rng.normal(50, 10)), "orders": int(rng.integers(0, 20)),
             "segment": ["a", "b", "c"][u % 3]}
            for u in USERS for k in range(4)]
    frame = pd.DataFrame(rows)
    if not aware:
        frame["event_ts"] = frame["event_ts"].dt.tz_localize(None)
    return frame


def latest(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("event_ts").groupby("user_id").tail(1).set_index("user_id")


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sf.FeatureStore]:
    online = request.getfixturevalue("redis_url") if request.param == "redis" else None
    (tmp_path / "stats").mkdir()
    stats_frame().to_parquet(tmp_path / "stats" / "part.parquet")
    user = sf.Entity("user", join_keys=["user_id"])
    view = sf.FeatureView("user_stats", entities=[user], source=sf.ParquetSource(str(tmp_path / "stats"),
                                                                                 timestamp="event_ts"),
                          features={"avg_spend": "float64", "orders": "int64", "segment": "string"}, ttl="7d")
    with Client(Config(home=tmp_path / "home", online_store=online)) as client, client.features as s:
        s.apply([user, view])
        s.materialize(NOW - pd.Timedelta(days=7), NOW)
        yield s
        s.online.delete_view("user_stats")


def push(store: sf.FeatureStore, users: list[int], **values: list) -> None:
    frame = latest(stats_frame()).loc[users].reset_index()
    frame["event_ts"] = (NOW + pd.Timedelta(seconds=1)).tz_localize(None)
    for name, column in values.items():
        frame[name] = column
    store.push("user_stats", frame)


def test_no_skew_right_after_materializing(store: sf.FeatureStore) -> None:
    report = sf.check_skew(store, "user_stats", sample=1000)
    assert report.ok and report.mismatches == 0
    assert report.compared == len(USERS) and report.sampled_online == len(USERS) == report.sampled_offline
    assert {f.name: (f.compared, f.mismatch_rate) for f in report.features.values()} == {
        "avg_spend": (40, 0.0), "orders": (40, 0.0), "segment": (40, 0.0)}


def test_values_pushed_online_are_found_with_their_rate_and_largest_differences(store: sf.FeatureStore) -> None:
    offline = latest(stats_frame())
    changed = [2, 5, 11, 17]
    bumps = [1.0, 40.0, 3.0, 0.5]
    push(store, changed, avg_spend=[offline.avg_spend[u] + b for u, b in zip(changed, bumps, strict=True)],
         segment=["z", *offline.segment[changed[1:]].tolist()])
    report = sf.check_skew(store, "user_stats", sample=1000, top=3)
    spend = report.features["avg_spend"]
    assert (spend.compared, spend.mismatches, spend.mismatch_rate) == (40, 4, 0.1)
    assert [d.entity for d in spend.largest] == [{"user_id": 5}, {"user_id": 11}, {"user_id": 2}]
    first = spend.largest[0]
    assert first.offline == pytest.approx(offline.avg_spend[5])
    assert first.online == pytest.approx(offline.avg_spend[5] + 40)
    assert first.difference == pytest.approx(40.0)
    segment = report.features["segment"]
    assert segment.mismatches == 1 and segment.largest[0].entity == {"user_id": 2}
    assert (segment.largest[0].online, segment.largest[0].difference) == ("z", None)
    assert report.features["orders"].mismatches == 0 and not report.ok


def test_a_difference_within_tolerance_is_not_skew(store: sf.FeatureStore) -> None:
    offline = latest(stats_frame())
    push(store, [1], avg_spend=[offline.avg_spend[1] * (1 + 1e-7)])
    assert sf.check_skew(store, "user_stats", tolerance=1e-6).ok
    assert sf.check_skew(store, "user_stats").features["avg_spend"].mismatches == 1


def test_entities_on_one_side_only_are_reported_missing(tmp_path: Path) -> None:
    (tmp_path / "stats").mkdir()
    frame = stats_frame()
    frame.to_parquet(tmp_path / "stats" / "part.parquet")
    user = sf.Entity("user", join_keys=["user_id"])
    view = sf.FeatureView("user_stats", entities=[user], source=sf.ParquetSource(str(tmp_path / "stats"),
                                                                                 timestamp="event_ts"),
                          features={"avg_spend": "float64", "orders": "int64", "segment": "string"}, ttl="7d")
    with Client(Config(home=tmp_path / "home")) as client, client.features as store:
        store.apply([user, view])
        store.push("user_stats", frame[frame.user_id > 4])  # users 1-4 never reach the online store
        store.push("user_stats", pd.DataFrame({"user_id": [900], "event_ts": [NOW.tz_localize(None)],
                                               "avg_spend": [1.0], "orders": [1], "segment": ["a"]}))
        report = sf.check_skew(store, "user_stats")
        assert (report.missing_online, report.missing_offline, report.compared) == (4, 1, 36)
        assert sorted(e["user_id"] for e in report.missing_online_examples) == [1, 2, 3, 4]
        assert report.missing_offline_examples == [{"user_id": 900}] and not report.ok
        only = sf.check_skew(store, "user_stats", entities=[{"user_id": 7}, {"user_id": 900}])
        assert (only.compared, only.missing_offline, only.sampled_online) == (1, 1, 0)


def test_composite_keys_and_aware_timestamps_round_trip(tmp_path: Path) -> None:
    frame = stats_frame(aware=True).assign(shop=lambda f: "s" + (f.user_id % 2).astype(str))
    frame.to_parquet(tmp_path / "stats.parquet")
    keys = sf.Entity("user_shop", join_keys=["user_id", "shop"])
    view = sf.FeatureView("by_shop", entities=[keys], source=sf.ParquetSource(str(tmp_path / "stats.parquet"),
                                                                              timestamp="event_ts"),
                          features={"avg_spend": "float64"}, ttl="7d")
    with Client(Config(home=tmp_path / "home")) as client, client.features as store:
        store.apply([keys, view])
        store.materialize(NOW - pd.Timedelta(days=7), NOW)
        report = sf.check_skew(store, "by_shop", sample=10)
    assert report.ok and report.sampled_online == 10 and 10 <= report.compared <= 20


def test_the_report_serialises_and_prints(store: sf.FeatureStore) -> None:
    push(store, [3], avg_spend=[-1.0])
    report = sf.check_skew(store, "user_stats")
    data = orjson.loads(orjson.dumps(report.to_dict()))
    assert data["features"]["avg_spend"]["mismatches"] == 1 and data["ok"] is False
    assert data["features"]["avg_spend"]["largest"][0]["entity"] == {"user_id": 3}
    console = Console(record=True, width=140)
    report.print(console)
    text = console.export_text()
    assert "avg_spend" in text and "user_id=3" in text and "2.50%" in text


def test_bad_arguments_are_refused(store: sf.FeatureStore) -> None:
    with pytest.raises(InvalidInput, match="sample"):
        sf.check_skew(store, "user_stats", sample=0)
    with pytest.raises(InvalidInput, match="tolerance"):
        sf.check_skew(store, "user_stats", tolerance=-1)
    with pytest.raises(NotFound):
        sf.check_skew(store, "nope")
    with pytest.raises(InvalidInput, match="user_id"):
        sf.check_skew(store, "user_stats", entities=[{"uid": 1}])


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_online_stores_sample_stored_keys_at_random(tmp_path: Path, backend: str, request: pytest.FixtureRequest
                                                    ) -> None:
    import pyarrow as pa

    online = (RedisOnlineStore(request.getfixturevalue("redis_url")) if backend == "redis"
              else SqliteOnlineStore(tmp_path / "online.db"))
    keys = [str(i) for i in range(300)]
    online.write("v", pa.table({"key": keys, "event_ts": [1] * 300, "x": [1.0] * 300}))
    online.write("other", pa.table({"key": ["x"], "event_ts": [1], "x": [1.0]}))
    first, second = online.sample_keys("v", 20), online.sample_keys("v", 20)
    assert len(set(first)) == 20 and set(first) <= set(keys) and first != second
    assert sorted(online.sample_keys("v", 1000), key=int) == keys and online.sample_keys("nothing", 5) == []
    online.delete_view("v")
    online.delete_view("other")
    online.close()
