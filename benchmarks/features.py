"""Feature-store benchmark: Shipyard against Feast 0.67, side by side in one run.

Data (tmpfs, made once per run): a feature view of 10 float features over 10,000
users x 100 hourly timestamps (1,000,000 rows, with a created timestamp, the last
hour before now) and 100,000 entity rows at random times in that span (random
users, so some rows repeat and some come before a user's first value).

* point-in-time join of the 100,000 entity rows (TTL 2 days), result as pandas; each
  side in its own process, so its peak memory (ru_maxrss) is the join's. Results
  are checked equal on the rows Feast returns; Shipyard must return all 100,000.
  Also timed: a bare DuckDB ASOF join over the Parquet file (the ceiling).
  Targets: >= 20x faster than Feast, peak memory under half of Feast's.
* materialization of the whole view into the SQLite online store. Target: >= 10x.
* online lookups of 1 and of 100 entities (10 features), 1,000 calls each, median
  and p99: Shipyard on SQLite and on Redis (127.0.0.1:6379), Feast on SQLite.
  Targets: p99 for 100 entities under 2 ms on Redis, and >= 5x below Feast's on SQLite.

    .venv/bin/python benchmarks/features.py [--skip-peer] [--entities N] [--users N] [--calls N]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import BENCH_DIR, PeerError, Row, fmt_seconds, peer_venv, print_table, run_in_venv, scratch_dir, step  # noqa: E402

FEAST_VENV, FEAST_REQUIREMENTS = "feast", ["feast==0.67.0"]
FEATURES = 10
TIMESTAMPS = 100
REDIS_URL = "redis://127.0.0.1:6379/0"


def make_data(folder: Path, users: int, entity_rows: int) -> dict[str, str]:
    rng = np.random.default_rng(7)
    end = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("h")
    start = end - pd.Timedelta(hours=TIMESTAMPS)
    hour = np.timedelta64(3_600_000_000, "us")
    ids = np.repeat(np.arange(users, dtype=np.int64), TIMESTAMPS)
    ts = (np.datetime64(start.to_datetime64(), "us") + np.tile(np.arange(TIMESTAMPS), users) * hour
          + rng.integers(0, 3_600_000_000, users * TIMESTAMPS).astype("timedelta64[us]"))
    columns: dict[str, Any] = {"user_id": ids, "event_ts": ts, "created_ts": ts + np.timedelta64(1, "s")}
    for i in range(FEATURES):
        columns[f"f{i}"] = rng.random(users * TIMESTAMPS)
    pq.write_table(pa.table(columns), folder / "fv.parquet")
    entities = pd.DataFrame({
        "user_id": rng.integers(0, users, entity_rows),
        "event_timestamp": np.datetime64(start.to_datetime64(), "us")
        + rng.integers(0, TIMESTAMPS * 3_600_000_000, entity_rows).astype("timedelta64[us]"),
    })
    entities.to_parquet(folder / "entities.parquet")
    meta = {"start": start.isoformat(), "end": (end + pd.Timedelta(hours=1)).isoformat()}
    (folder / "meta.json").write_text(json.dumps(meta))
    return meta


# -- Shipyard's side --------------------------------------------------------------------


def ours(data: Path, home: Path, online: Any = None) -> Any:
    from shipyard import Config
    from shipyard import features as sf
    from shipyard.features import SqlFeatureRegistry
    from shipyard.store import Database

    home.mkdir(parents=True, exist_ok=True)
    db = Database(f"sqlite:///{home / 'meta.db'}")
    db.ensure_schema()
    store = sf.FeatureStore(Config(home=home), registry=SqlFeatureRegistry(db),
                            online=online or sf.SqliteOnlineStore(home / "online.db"), refresh_s=3600)
    user = sf.Entity("user", join_keys=["user_id"])
    view = sf.FeatureView("fv", entities=[user], ttl="2d", features={f"f{i}": "float64" for i in range(FEATURES)},
                          source=sf.ParquetSource(data / "fv.parquet", timestamp="event_ts",
                                                  created_timestamp="created_ts"))
    store.apply([user, view])
    return store


def child(mode: str, data: Path, out: Path) -> None:
    """One measured step in a fresh process (peak memory is this step's)."""
    refs = [f"fv:f{i}" for i in range(FEATURES)]
    result: dict[str, Any] = {}
    if mode == "join":
        store = ours(data, out)
        entities = pd.read_parquet(data / "entities.parquet")
        started = time.perf_counter()
        frame = store.get_historical_features(entities, refs).to_pandas()
        result["seconds"] = time.perf_counter() - started
        result["rows"] = len(frame)
        frame.to_parquet(out / "ours_join.parquet")
    elif mode == "ceiling":
        import duckdb

        entities = pq.read_table(data / "entities.parquet")
        started = time.perf_counter()
        con = duckdb.connect()
        con.register("e", entities)
        feats = ", ".join(f"v.f{i}" for i in range(FEATURES))
        rel = con.sql(f"SELECT e.*, {feats} FROM e ASOF LEFT JOIN read_parquet('{data / 'fv.parquet'}') v "
                      "ON e.user_id = v.user_id AND e.event_timestamp >= v.event_ts")
        frame = (rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.arrow()).to_pandas()
        result["seconds"] = time.perf_counter() - started
        result["rows"] = len(frame)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def run_child(mode: str, data: Path, out: Path) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, "--child", mode, str(data), str(out)], capture_output=True,
                          text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"child {mode} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def latency(fn: Any, calls: int) -> dict[str, float]:
    fn()
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return {"median": float(np.median(times)), "p99": float(np.percentile(times, 99))}


def check_equal(ours_path: Path, feast_path: Path) -> str:
    """Compare on the rows Feast returns (duplicates of a key carry equal values)."""
    mine = pd.read_parquet(ours_path)
    theirs = pd.read_parquet(feast_path)
    theirs["event_timestamp"] = pd.to_datetime(theirs["event_timestamp"]).dt.tz_convert("UTC").dt.tz_localize(None)
    mine["event_timestamp"] = pd.to_datetime(mine["event_timestamp"]).astype("datetime64[us]")
    theirs["event_timestamp"] = theirs["event_timestamp"].astype("datetime64[us]")
    keys = ["user_id", "event_timestamp"]
    merged = theirs.drop_duplicates(keys).merge(mine.drop_duplicates(keys), on=keys, suffixes=("_feast", "_ours"))
    assert len(merged) == len(theirs.drop_duplicates(keys)), "a Feast row has no Shipyard row"
    for i in range(FEATURES):
        a, b = merged[f"f{i}_feast"].to_numpy(float), merged[f"f{i}_ours"].to_numpy(float)
        differ = int((~np.isclose(a, b, equal_nan=True)).sum())
        assert differ == 0, f"feature f{i} differs on {differ} rows"
    return f"equal on all {len(theirs):,} rows Feast returned ({len(mine) - len(theirs):,} rows Feast dropped)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--calls", type=int, default=1_000)
    parser.add_argument("--child", nargs=3, metavar=("MODE", "DATA", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return
    feast = None
    if not args.skip_peer:
        with step("Feast venv"):
            feast = peer_venv(FEAST_VENV, FEAST_REQUIREMENTS)
    rows: list[Row] = []
    notes: list[str] = []
    with scratch_dir("sy-features-") as root:
        data, mine, theirs = root / "data", root / "ours", root / "feast"
        data.mkdir()
        with step(f"data: {args.users * TIMESTAMPS:,} feature rows, {args.entities:,} entity rows"):
            meta = make_data(data, args.users, args.entities)
        with step("point-in-time join (Shipyard)"):
            join = run_child("join", data, mine)
            ceiling = run_child("ceiling", data, root / "ceiling")
        feast_join = feast_mat = feast_online = None
        if feast is not None:
            with step("point-in-time join (Feast)"):
                feast_join = run_in_venv(feast, BENCH_DIR / "peers" / "feast_features.py",
                                         [str(data), str(theirs), "join"], timeout=1800)
            notes.append(check_equal(mine / "ours_join.parquet", theirs / "feast_join.parquet"))
        assert join["rows"] == args.entities, f"Shipyard returned {join['rows']} rows"
        rows.append(Row("point-in-time join", join["seconds"], feast_join and feast_join["seconds"], min_ratio=20))
        rows.append(Row("  (ceiling: bare DuckDB ASOF)", ceiling["seconds"], None))
        memory = f"join peak memory: Shipyard {join['peak_rss_mb']:,.0f} MB"
        if feast_join:
            share = join["peak_rss_mb"] / feast_join["peak_rss_mb"]
            memory += f", Feast {feast_join['peak_rss_mb']:,.0f} MB (ratio {share:.2f}, target < 0.5)"
        notes.append(memory + f"; bare DuckDB {ceiling['peak_rss_mb']:,.0f} MB")
        with step("materialize (Shipyard, SQLite)"):
            store = ours(data, mine)
            started = time.perf_counter()
            store.materialize(meta["start"], meta["end"])
            mat = time.perf_counter() - started
        if feast is not None:
            with step("materialize (Feast)"):
                feast_mat = run_in_venv(feast, BENCH_DIR / "peers" / "feast_features.py",
                                        [str(data), str(theirs), "materialize"], timeout=1800)
        rows.append(Row("materialize 1,000,000 rows", mat, feast_mat and feast_mat["seconds"], min_ratio=10))
        refs = [f"fv:f{i}" for i in range(FEATURES)]
        with step("online lookups"):
            ours_online = {}
            for n in (1, 100):
                entity_rows = [{"user_id": i} for i in range(n)]
                got = store.get_online_features(refs, entity_rows).to_dict()
                assert all(v is not None for v in got["f0"]), "online values missing"
                ours_online[("sqlite", n)] = latency(lambda r=entity_rows: store.get_online_features(refs, r),
                                                     args.calls)
            from shipyard import features as sf

            redis_store = ours(data, root / "ours-redis",
                               sf.RedisOnlineStore(f"{REDIS_URL}?prefix=bench{uuid.uuid4().hex[:8]}"))
            try:
                redis_store.materialize(meta["start"], meta["end"])
                for n in (1, 100):
                    entity_rows = [{"user_id": i} for i in range(n)]
                    ours_online[("redis", n)] = latency(
                        lambda r=entity_rows: redis_store.get_online_features(refs, r), args.calls)
            finally:
                redis_store.online.delete_view("fv")
            if feast is not None:
                feast_online = run_in_venv(feast, BENCH_DIR / "peers" / "feast_features.py",
                                           [str(data), str(theirs), "online"], timeout=1800)
        for n in (1, 100):
            peer = feast_online and feast_online[f"online_{n}"]
            for stat in ("median", "p99"):
                rows.append(Row(f"online {n} entities, SQLite, {stat}", ours_online[("sqlite", n)][stat],
                                peer and peer[stat], min_ratio=5 if (n, stat) == (100, "p99") else None))
        for n in (1, 100):
            for stat in ("median", "p99"):
                rows.append(Row(f"online {n} entities, Redis, {stat}", ours_online[("redis", n)][stat], None,
                                max_seconds=0.002 if (n, stat) == (100, "p99") else None))
    print_table(rows, peer="Feast 0.67", title="Feature store: Shipyard vs Feast")
    for note in notes:
        print(note)
    print(f"bare DuckDB ASOF join: {fmt_seconds(ceiling['seconds'])}")


if __name__ == "__main__":
    try:
        main()
    except PeerError as exc:
        sys.exit(f"peer error: {exc}")
