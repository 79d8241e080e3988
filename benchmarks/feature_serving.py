"""Feature serving benchmark: a model served on entity keys, its features looked up per micro-batch.

A logistic regression trained on 10 features of a view (10,000 entities), materialized
into the SQLite online store and into the real Redis, served by ``shipyard serve``
(one worker, defaults: batching, access log and inference log on) and loaded with
``wrk`` at 1 and 64 connections: single-entity ``dataframe_split`` requests, a random
entity each. Side by side in the same run: the same model served *without* feature
lookups, each request carrying the 10 feature values itself (the floor the lookup
adds to), and in-process lookups of 1 and 64 entities through
:class:`shipyard.features.OnlineLookup` (median and p99 over 1,000 calls).

    .venv/bin/python benchmarks/feature_serving.py [--seconds 10] [--warmup 2]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import free_port, run_wrk, scratch_dir, start_process, wait_http  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ENTITIES = 10_000
FEATURES = [f"f{i}" for i in range(10)]
REDIS = "redis://127.0.0.1:6379/0"
KEYS_LUA = """math.randomseed(7)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  return wrk.format(nil, nil, nil, '{"dataframe_split": {"columns": ["user_id"], "data": [[' ..
                    math.random(0, %d) .. ']]}}')
end
"""
BODY_LUA = """wrk.method = "POST"
wrk.body = [==[%s]==]
wrk.headers["Content-Type"] = "application/json"
"""


def build(work: Path, redis_prefix: str) -> dict[str, Any]:
    """Source, definitions, materialization (SQLite and Redis), two registered models."""
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    import shipyard
    from shipyard import Config
    from shipyard import features as sf

    rng = np.random.default_rng(0)
    now = pd.Timestamp.now(tz="UTC").floor("s").tz_localize(None)
    frame = pd.DataFrame(rng.normal(size=(ENTITIES * 5, len(FEATURES))), columns=FEATURES)
    frame.insert(0, "user_id", np.repeat(np.arange(ENTITIES), 5))
    frame.insert(1, "event_ts", now - pd.to_timedelta(np.tile(np.arange(5), ENTITIES), unit="h"))
    (work / "stats").mkdir()
    frame.to_parquet(work / "stats" / "part.parquet")
    user = sf.Entity("user", join_keys=["user_id"])
    view = sf.FeatureView("user_stats", entities=[user], source=sf.ParquetSource(str(work / "stats"),
                                                                                 timestamp="event_ts"),
                          features={f: "float64" for f in FEATURES}, ttl="7d")
    home = work / "home"
    timings: dict[str, float] = {}
    for name, online in (("sqlite", None), ("redis", f"{REDIS}?prefix={redis_prefix}")):
        with shipyard.Client(Config(home=home, online_store=online)) as setup:
            store = setup.features
            store.apply([user, view])
            started = time.perf_counter()
            store.materialize(now - pd.Timedelta(days=7), now + pd.Timedelta(seconds=1))
            timings[f"materialize_{name}_s"] = time.perf_counter() - started
    refs = [f"user_stats:{f}" for f in FEATURES]
    with shipyard.Client(Config(home=home)) as reader:
        store = reader.features
        entity_df = pd.DataFrame({"user_id": rng.integers(0, ENTITIES, 5000), "event_timestamp": now})
        train = store.get_historical_features(entity_df, refs).to_pandas()
    x = train[FEATURES]
    y = (x["f0"] + x["f1"] - x["f2"] > 0).astype(int)
    model = LogisticRegression().fit(x, y)
    with shipyard.Client(home=home) as client:
        run = client.create_run("bench")
        client.log_model(run.id, model, "keys", input_example=x[:5], features=refs, entity_keys=["user_id"],
                         registered_model_name="keys")
        client.log_model(run.id, model, "plain", input_example=x[:5], registered_model_name="plain")
        client.end_run(run.id)
    plain_body = json.dumps({"dataframe_split": {"columns": FEATURES, "data": x[:1].to_numpy().tolist()}})
    return {"home": home, "timings": timings, "plain_body": plain_body, "refs": refs}


def lookups(home: Path, online: str | None, refs: list[str]) -> dict[int, tuple[float, float]]:
    """Median and p99 (ms) of in-process lookups of 1 and 64 random entities."""
    import numpy as np

    from shipyard import Client, Config
    from shipyard.features import OnlineLookup

    rng = np.random.default_rng(1)
    out = {}
    with Client(Config(home=home, online_store=online)) as client:
        lookup = OnlineLookup(client.features)
        lookup.prepare(refs)
        for n in (1, 64):
            rows = [{"user_id": rng.integers(0, ENTITIES, n)} for _ in range(1100)]
            times = []
            for i, row in enumerate(rows):
                started = time.perf_counter()
                lookup.lookup(refs, row)
                if i >= 100:
                    times.append((time.perf_counter() - started) * 1000)
            out[n] = (float(np.median(times)), float(np.percentile(times, 99)))
    return out


def serve(home: Path, model: str, online: str | None, script: Path, args: argparse.Namespace,
          label: str) -> dict[int, dict[str, float]]:
    port = free_port()
    env = {"SHIPYARD_HOME": str(home), "OMP_NUM_THREADS": "1"}
    if online:
        env["SHIPYARD_ONLINE_STORE"] = online
    cmd = [str(Path(sys.executable).parent / "shipyard"), "serve", f"models:/{model}/1", "--port", str(port)]
    results = {}
    with start_process(cmd, env, cwd=ROOT, log_path=home.parent / f"{label}.log", clean_env=False) as proc:
        wait_http(f"http://127.0.0.1:{port}/ping", timeout=120, proc=proc)
        for connections in (1, 64):
            results[connections] = run_wrk(f"http://127.0.0.1:{port}/invocations", script, connections, args.seconds,
                                       args.warmup)
            print(f"  {label:28s} c={connections:<3d} {results[connections]}", file=sys.stderr, flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is needed: apt-get install -y wrk", file=sys.stderr)
        return 2
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    redis_url = f"{REDIS}?prefix={prefix}"
    with scratch_dir("sy-feature-serving-") as work:
        built = build(work, prefix)
        home = built["home"]
        keys_lua, body_lua = work / "keys.lua", work / "body.lua"
        keys_lua.write_text(KEYS_LUA % (ENTITIES - 1))
        body_lua.write_text(BODY_LUA % built["plain_body"])
        inproc = {"sqlite": lookups(home, None, built["refs"]), "redis": lookups(home, redis_url, built["refs"])}
        served = {
            "entity keys, SQLite online store": serve(home, "keys", None, keys_lua, args, "keys-sqlite"),
            "entity keys, Redis online store": serve(home, "keys", redis_url, keys_lua, args, "keys-redis"),
            "features in the request (no lookup)": serve(home, "plain", None, body_lua, args, "plain"),
        }
        from shipyard.features.online import RedisOnlineStore

        RedisOnlineStore(redis_url).delete_view("user_stats")
    report(served, inproc, built["timings"])
    return 0


def report(served: dict[str, dict[int, dict[str, float]]], inproc: dict[str, dict[int, tuple[float, float]]],
           timings: dict[str, float]) -> None:
    print("\n## Feature serving: single-entity requests, one worker (wrk, /invocations)\n")
    print("| request | c=1 req/s | c=1 p50 | c=1 p99 | c=64 req/s | c=64 p50 | c=64 p99 | non-2xx |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, by_c in served.items():
        one, many = by_c[1], by_c[64]
        print(f"| {label} | {one['rps']:,.0f} | {one['p50_ms']:.2f} ms | {one['p99_ms']:.2f} ms | "
              f"{many['rps']:,.0f} | {many['p50_ms']:.2f} ms | {many['p99_ms']:.2f} ms | "
              f"{int(one['non2xx'] + many['non2xx'])} |")
    plain = served["features in the request (no lookup)"][64]["rps"]
    for label in ("entity keys, SQLite online store", "entity keys, Redis online store"):
        print(f"- {label}: {served[label][64]['rps'] / plain:.2f}x the requests/s of the no-lookup floor at c=64")
    print("\n## In-process lookups through OnlineLookup (10 features; median / p99 over 1,000 calls)\n")
    print("| online store | 1 entity | 64 entities |")
    print("|---|---:|---:|")
    for store, by_n in inproc.items():
        print(f"| {store} | {by_n[1][0]:.3f} / {by_n[1][1]:.3f} ms | {by_n[64][0]:.3f} / {by_n[64][1]:.3f} ms |")
    print(f"\nMaterialization of {ENTITIES:,} entities: SQLite {timings['materialize_sqlite_s']:.2f} s, "
          f"Redis {timings['materialize_redis_s']:.2f} s")


if __name__ == "__main__":
    sys.exit(main())
