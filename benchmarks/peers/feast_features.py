"""Feast 0.67's side of ``benchmarks/features.py`` (file offline store, SQLite online store).

    python feast_features.py DATA_DIR OUT_DIR join|materialize|online

DATA_DIR holds ``fv.parquet`` (the feature rows) and ``entities.parquet``; OUT_DIR is
a fresh folder for the feature repository. ``join`` times ``get_historical_features``
+ ``to_df`` and writes the result to ``OUT_DIR/feast_join.parquet``; ``materialize``
times ``materialize(start, end)``; ``online`` (after materialize) times
``get_online_features(...).to_dict()`` for 1 and for 100 entities, 1,000 calls each.
Each mode is its own process, so ``peak_rss_mb`` is that mode's peak. Prints one JSON
object as its last stdout line.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import warnings
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")


def store_for(data: Path, out: Path, features: int) -> tuple[object, list[str]]:
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource
    from feast.repo_config import RepoConfig
    from feast.types import Float64
    from feast.value_type import ValueType

    config = RepoConfig(project="bench", registry=str(out / "registry.db"), provider="local",
                        online_store={"type": "sqlite", "path": str(out / "online.db")},
                        offline_store={"type": "file"}, entity_key_serialization_version=3)
    store = FeatureStore(config=config)
    user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)
    source = FileSource(path=str(data / "fv.parquet"), timestamp_field="event_ts",
                        created_timestamp_column="created_ts")
    view = FeatureView(name="fv", entities=[user], ttl=timedelta(days=2), source=source, online=True,
                       schema=[Field(name=f"f{i}", dtype=Float64) for i in range(features)])
    store.apply([user, view])
    return store, [f"fv:f{i}" for i in range(features)]


def main() -> None:
    data, out, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    features = int(sys.argv[4]) if len(sys.argv) > 4 else 10
    out.mkdir(parents=True, exist_ok=True)
    store, refs = store_for(data, out, features)
    result: dict[str, object] = {}
    if mode == "join":
        entities = pd.read_parquet(data / "entities.parquet")
        entities["event_timestamp"] = entities["event_timestamp"].dt.tz_localize("UTC")
        started = time.perf_counter()
        frame = store.get_historical_features(entity_df=entities, features=refs).to_df()  # type: ignore[attr-defined]
        result["seconds"] = time.perf_counter() - started
        result["rows"] = len(frame)
        frame.to_parquet(out / "feast_join.parquet")
    elif mode == "materialize":
        meta = json.loads((data / "meta.json").read_text())
        start, end = pd.Timestamp(meta["start"], tz="UTC"), pd.Timestamp(meta["end"], tz="UTC")
        started = time.perf_counter()
        store.materialize(start.to_pydatetime(), end.to_pydatetime())  # type: ignore[attr-defined]
        result["seconds"] = time.perf_counter() - started
    elif mode == "online":
        for n in (1, 100):
            rows = [{"user_id": int(i)} for i in range(n)]
            store.get_online_features(features=refs, entity_rows=rows).to_dict()  # type: ignore[attr-defined]
            times = []
            for _ in range(1000):
                started = time.perf_counter()
                store.get_online_features(features=refs, entity_rows=rows).to_dict()  # type: ignore[attr-defined]
                times.append(time.perf_counter() - started)
            result[f"online_{n}"] = {"median": float(np.median(times)), "p99": float(np.percentile(times, 99)),
                                     "nonnull": sum(v is not None for v in store.get_online_features(  # type: ignore[attr-defined]
                                         features=refs, entity_rows=rows).to_dict()["f0"])}
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


if __name__ == "__main__":
    main()
