"""Point-in-time joins: checked against a brute-force reference, and every kind of bad input."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shipyard import Config
from shipyard import features as sf
from shipyard.errors import InvalidInput, NotFound
from shipyard.features import SqlFeatureRegistry
from shipyard.features.online import SqliteOnlineStore
from shipyard.store import Database

H = pd.Timedelta(hours=1)
T0 = pd.Timestamp("2024-03-01")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[sf.FeatureStore]:
    db = Database(f"sqlite:///{tmp_path / 'meta.db'}")
    db.ensure_schema()
    with sf.FeatureStore(Config(home=tmp_path), registry=SqlFeatureRegistry(db),
                         online=SqliteOnlineStore(tmp_path / "online.db")) as s:
        yield s
    db.dispose()


def history(seed: int, created: bool) -> pd.DataFrame:
    """Rows on an hourly grid (so event times tie and TTL edges are hit exactly); entities
    0..39, some with no rows at all; with ``created``, later corrections of the same event."""
    rng = np.random.default_rng(seed)
    out = []
    for user in range(40):
        if user % 7 == 3:
            continue  # no history
        hours = rng.integers(0, 48, rng.integers(1, 12))
        if not created:
            hours = np.unique(hours)
        for i, hour in enumerate(hours):
            out.append({"user_id": user, "event_ts": T0 + int(hour) * H, "spend": float(rng.normal()),
                        "orders": int(rng.integers(0, 100)), "created_ts": T0 + int(hour) * H + (i + 1) * pd.Timedelta(
                            seconds=int(rng.integers(1, 10_000)))})
    frame = pd.DataFrame(out)
    frame["spend"] = frame["spend"].where(frame.index % 11 != 5)  # some null values, which must come back null
    return frame


def entities(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed + 1000)
    n = 400
    frame = pd.DataFrame({"user_id": rng.integers(0, 45, n),  # 40..44 never seen
                          "event_timestamp": [T0 + int(h) * H for h in rng.integers(-2, 56, n)],
                          "label": rng.integers(0, 2, n)})
    dupes = frame.sample(40, random_state=seed)
    return pd.concat([frame, dupes], ignore_index=True).sample(frac=1.0, random_state=seed + 1)


def reference(rows: pd.DataFrame, ent: pd.DataFrame, ttl: pd.Timedelta, created: bool) -> pd.DataFrame:
    """Loop over every entity row: the latest (event, created) at or before its time, within TTL."""
    spend, orders = [], []
    for user, when in zip(ent["user_id"], ent["event_timestamp"], strict=True):
        seen = rows[(rows["user_id"] == user) & (rows["event_ts"] <= when)]
        if seen.empty:
            spend.append(np.nan)
            orders.append(pd.NA)
            continue
        order = ["event_ts", "created_ts"] if created else ["event_ts"]
        best = seen.sort_values(order).iloc[-1]
        if best["event_ts"] < when - ttl:
            spend.append(np.nan)
            orders.append(pd.NA)
        else:
            spend.append(best["spend"])
            orders.append(best["orders"])
    return pd.DataFrame({"spend": spend, "orders": pd.array(orders, dtype="Int64")}, index=ent.index)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("created", [True, False], ids=["late-corrections", "no-created-column"])
def test_join_matches_a_brute_force_reference(store: sf.FeatureStore, tmp_path: Path, seed: int,
                                              created: bool) -> None:
    rows = history(seed, created)
    folder = tmp_path / "stats"
    folder.mkdir()
    half = len(rows) // 2  # a folder of two files, each in no particular order
    rows.iloc[:half].sample(frac=1.0, random_state=seed).to_parquet(folder / "a.parquet")
    rows.iloc[half:].sample(frac=1.0, random_state=seed).to_parquet(folder / "b.parquet")
    ttl = pd.Timedelta(hours=6)
    user = sf.Entity("user", join_keys=["user_id"])
    view = sf.FeatureView("user_stats", entities=[user],
                          source=sf.ParquetSource(folder, timestamp="event_ts",
                                                  created_timestamp="created_ts" if created else None),
                          features={"spend": "float64", "orders": "int64"}, ttl=ttl.to_pytimedelta())
    store.apply([user, view])
    ent = entities(seed)
    got = store.get_historical_features(ent, ["user_stats:spend", "user_stats:orders"]).to_pandas()
    want = reference(rows, ent, ttl, created)
    assert len(got) == len(ent) == 440
    pd.testing.assert_index_equal(got.index, ent.index)  # the caller's order and index
    pd.testing.assert_frame_equal(got[list(ent.columns)], ent)  # entity columns untouched
    pd.testing.assert_series_equal(got["spend"], want["spend"])
    pd.testing.assert_series_equal(got["orders"], want["orders"])
    assert got["orders"].isna().sum() > 0 and got["spend"].notna().sum() > 100


def _view(source: sf.sources.Source, features: dict[str, str] | None = None, ttl: Any = None) -> sf.FeatureView:
    return sf.FeatureView("user_stats", entities=[sf.Entity("user", join_keys=["user_id"])], source=source,
                          features=features or {"spend": "float64"}, ttl=ttl)


def _frame(**extra: Any) -> pd.DataFrame:
    return pd.DataFrame({"user_id": [1, 1, 2], "event_ts": [T0, T0 + H, T0], "spend": [1.0, 2.0, 3.0], **extra})


def test_ttl_edge_is_inclusive_and_no_future_value_leaks(store: sf.FeatureStore) -> None:
    store.apply(_view(sf.DataFrameSource(_frame(), timestamp="event_ts"), ttl="1h"))
    ent = pd.DataFrame({"user_id": [1, 1, 1, 1, 2, 2],
                        "event_timestamp": [T0 - H, T0, T0 + H - pd.Timedelta(microseconds=1), T0 + 2 * H,
                                            T0 + H, T0 + H + pd.Timedelta(microseconds=1)]})
    got = store.get_historical_features(ent, ["user_stats:spend"]).to_pandas()["spend"].tolist()
    assert np.isnan(got[0]) and got[1:4] == [1.0, 1.0, 2.0]  # nothing before T0: null, never a later value
    assert got[4] == 3.0 and np.isnan(got[5])  # exactly ttl old: kept; a microsecond more: null


def test_duplicates_and_unknown_entities_are_all_returned(store: sf.FeatureStore) -> None:
    store.apply(_view(sf.DataFrameSource(_frame(), timestamp="event_ts")))
    ent = pd.DataFrame({"user_id": [9, 1, 1, 9], "event_timestamp": [T0, T0 + H, T0 + H, T0]}, index=[7, 3, 5, 1])
    got = store.get_historical_features(ent, ["user_stats:spend"]).to_pandas()
    assert list(got.index) == [7, 3, 5, 1]
    assert got["spend"].tolist()[1:3] == [2.0, 2.0] and got["spend"].isna().tolist() == [True, False, False, True]


def test_outputs_as_arrow_polars_and_full_names(store: sf.FeatureStore) -> None:
    store.apply(_view(sf.DataFrameSource(_frame(), timestamp="event_ts")))
    ent = pa.table({"user_id": [2], "event_timestamp": pa.array([T0.to_pydatetime()], pa.timestamp("us"))})
    result = store.get_historical_features(ent, ["user_stats:spend"], full_feature_names=True)
    assert result.to_arrow().column_names == ["user_id", "event_timestamp", "user_stats__spend"]
    assert result.to_polars()["user_stats__spend"].to_list() == [3.0]
    assert result.to_pandas()["user_stats__spend"].tolist() == [3.0]
    clash = pd.DataFrame({"user_id": [2], "event_timestamp": [T0], "spend": [0.0]})
    with pytest.raises(InvalidInput, match="full_feature_names"):
        store.get_historical_features(clash, ["user_stats:spend"])


@pytest.mark.parametrize(("ent", "field"), [
    (pd.DataFrame({"event_timestamp": [T0]}), "user_id"),
    (pd.DataFrame({"user_id": [1]}), "event_timestamp"),
    (pd.DataFrame({"user_id": [1], "event_timestamp": ["2024-03-01"]}), "event_timestamp"),
    (pd.DataFrame({"user_id": ["1"], "event_timestamp": [T0]}), "user_id"),
])
def test_a_bad_entity_frame_names_the_column(store: sf.FeatureStore, ent: pd.DataFrame, field: str) -> None:
    store.apply(_view(sf.DataFrameSource(_frame(), timestamp="event_ts")))
    with pytest.raises(InvalidInput) as caught:
        store.get_historical_features(ent, ["user_stats:spend"])
    assert caught.value.field == field  # type: ignore[attr-defined]
    assert field in str(caught.value)


def test_unknown_views_and_features_are_named(store: sf.FeatureStore) -> None:
    store.apply(_view(sf.DataFrameSource(_frame(), timestamp="event_ts")))
    ent = pd.DataFrame({"user_id": [1], "event_timestamp": [T0]})
    with pytest.raises(NotFound, match="'nope'"):
        store.get_historical_features(ent, ["nope:spend"])
    with pytest.raises(NotFound, match="no feature 'height'"):
        store.get_historical_features(ent, ["user_stats:height"])
    for bad in (["user_stats"], ["a:b:c"], [], "user_stats:spend", ["user_stats:spend", "user_stats:spend"]):
        with pytest.raises(InvalidInput):
            store.get_historical_features(ent, bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(("frame", "features", "words"), [
    (_frame(), {"spend": "float64", "visits": "int64"}, "no feature (int64) column 'visits'"),
    (_frame(spend=["a", "b", "c"]), {"spend": "float64"}, "'spend' of view 'user_stats' is VARCHAR"),
    (_frame().drop(columns="event_ts").assign(ts=T0), {"spend": "float64"}, "no timestamp column 'event_ts'"),
    (_frame().assign(spend=[1.5, 2.5, 3.5]), {"spend": "int64"}, "is DOUBLE in the source"),
])
def test_a_source_that_does_not_match_its_definition_is_refused(store: sf.FeatureStore, frame: pd.DataFrame,
                                                                features: dict[str, str], words: str) -> None:
    store.apply(_view(sf.DataFrameSource(frame, timestamp="event_ts"), features))
    ent = pd.DataFrame({"user_id": [1], "event_timestamp": [T0]})
    with pytest.raises(InvalidInput, match=re.escape(words)):
        store.get_historical_features(ent, ["user_stats:spend"])


def test_mixing_naive_and_aware_timestamps_is_refused(store: sf.FeatureStore) -> None:
    store.apply(_view(sf.DataFrameSource(_frame(), timestamp="event_ts")))
    aware = pd.DataFrame({"user_id": [1], "event_timestamp": [T0.tz_localize("UTC")]})
    with pytest.raises(InvalidInput, match="aware.*naive"):
        store.get_historical_features(aware, ["user_stats:spend"])


def test_aware_timestamps_compare_as_instants(store: sf.FeatureStore) -> None:
    utc = _frame()
    utc["event_ts"] = utc["event_ts"].dt.tz_localize("UTC")
    store.apply(_view(sf.DataFrameSource(utc, timestamp="event_ts")))
    # 01:30 in UTC+2 is 23:30 UTC the day before: before every row.
    paris = pd.DataFrame({"user_id": [1, 1], "event_timestamp": [
        pd.Timestamp("2024-03-01 01:30", tz="Etc/GMT-2"), pd.Timestamp("2024-03-01 03:30", tz="Etc/GMT-2")]})
    got = store.get_historical_features(paris, ["user_stats:spend"]).to_pandas()["spend"]
    assert np.isnan(got[0]) and got[1] == 2.0
    assert str(got.index.dtype) == "int64"


def test_two_views_with_different_keys_join_together(store: sf.FeatureStore, tmp_path: Path) -> None:
    merchant = sf.Entity("merchant", join_keys=["merchant_id", "region"])
    sales = pd.DataFrame({"merchant_id": [7, 7], "region": ["eu", "us"], "ts": [T0, T0], "sales": [10, 20]})
    sales.to_csv(tmp_path / "sales.csv", index=False)
    m_view = sf.FeatureView("merchant_sales", entities=[merchant], features={"sales": "int64"},
                            source=sf.CsvSource(tmp_path / "sales.csv", timestamp="ts"))
    store.apply([_view(sf.DataFrameSource(_frame(), timestamp="event_ts")), m_view])
    ent = pd.DataFrame({"user_id": [1, 2], "merchant_id": [7, 7], "region": ["us", "xx"],
                        "event_timestamp": [T0 + H, T0 + H]})
    got = store.get_historical_features(ent, ["merchant_sales:sales", "user_stats:spend"]).to_pandas()
    assert got["sales"].tolist()[0] == 20 and pd.isna(got["sales"].tolist()[1])
    assert got["spend"].tolist() == [2.0, 3.0]
    assert list(got.columns) == ["user_id", "merchant_id", "region", "event_timestamp", "sales", "spend"]


def test_sql_sources_read_duckdb_files_and_postgres(store: sf.FeatureStore, tmp_path: Path, pg_url: str) -> None:
    import duckdb
    import sqlalchemy as sa

    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.register("src", _frame())
        con.execute("CREATE TABLE stats AS SELECT * FROM src")
    engine = sa.create_engine(pg_url)
    _frame().to_sql("stats_src", engine, index=False)
    engine.dispose()
    ent = pd.DataFrame({"user_id": [1, 2], "event_timestamp": [T0 + H, T0 + H]})
    for source in (sf.SqlSource("stats", url=f"duckdb:///{path}", timestamp="event_ts"),
                   sf.SqlSource("SELECT user_id, event_ts, spend * 10 AS spend FROM stats", url=str(path),
                                timestamp="event_ts"),
                   sf.SqlSource("stats_src", url=pg_url, timestamp="event_ts"),
                   sf.SqlSource("SELECT user_id, event_ts, spend FROM stats_src WHERE user_id = 1", url=pg_url,
                                timestamp="event_ts")):
        store.apply(_view(source), force=True)
        got = store.get_historical_features(ent, ["user_stats:spend"]).to_pandas()["spend"].tolist()
        scale = 10 if "* 10" in source.table_or_query else 1
        assert got[0] == 2.0 * scale
        assert (np.isnan(got[1]) if "WHERE" in source.table_or_query else got[1] == 3.0 * scale)


def test_parquet_source_reads_through_fsspec_urls(store: sf.FeatureStore) -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    with fs.open("memory://feat/stats/part-0.parquet", "wb") as fh:
        pq.write_table(pa.Table.from_pandas(_frame(), preserve_index=False), fh)
    store.apply(_view(sf.ParquetSource("memory://feat/stats/", timestamp="event_ts")))
    ent = pd.DataFrame({"user_id": [2], "event_timestamp": [T0]})
    assert store.get_historical_features(ent, ["user_stats:spend"]).to_pandas()["spend"].tolist() == [3.0]


def test_missing_files_are_reported(store: sf.FeatureStore, tmp_path: Path) -> None:
    store.apply(_view(sf.ParquetSource(tmp_path / "nope.parquet", timestamp="event_ts")))
    with pytest.raises(NotFound, match="nope.parquet"):
        store.get_historical_features(pd.DataFrame({"user_id": [1], "event_timestamp": [T0]}), ["user_stats:spend"])


def test_dates_work_as_entity_timestamps(store: sf.FeatureStore) -> None:
    store.apply(_view(sf.DataFrameSource(_frame(), timestamp="event_ts")))
    ent = pa.table({"user_id": [1], "event_timestamp": pa.array([dt.date(2024, 3, 2)], pa.date32())})
    assert store.get_historical_features(ent, ["user_stats:spend"]).to_arrow().column("spend").to_pylist() == [2.0]
