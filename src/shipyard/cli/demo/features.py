"""Demo stage: a feature view over event data — a point-in-time training set, the online store, skew.

The events are per-customer daily statistics written to Parquet; the view is
applied to the registry, a training set is joined as of each label's time (every
row kept, nulls where nothing is known within the TTL), the latest values are
materialized to the online store (SQLite by default), looked up, and checked
against the offline path for skew.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from shipyard.cli.demo.context import DemoState
from shipyard.cli.output import console, table

__all__ = ["feature_store"]


def _events(rng: np.random.Generator, customers: int, days: int, end: pd.Timestamp) -> pd.DataFrame:
    ids = np.repeat(np.arange(customers), days)
    ts = end - pd.to_timedelta(np.tile(np.arange(days, 0, -1), customers), unit="D")
    return pd.DataFrame({"customer_id": ids, "event_ts": ts,
                         "avg_spend_7d": np.round(rng.gamma(2.0, 30.0, ids.size), 2),
                         "orders_30d": rng.poisson(3, ids.size).astype("int64")})


def feature_store(state: DemoState, customers: int = 500, days: int = 60) -> None:
    """Define, apply, join point-in-time, materialize, look up online, check skew."""
    from shipyard import features as sf

    end = pd.Timestamp.now(tz="UTC").floor("D")
    events = _events(state.rng, customers, days, end)
    path = state.workdir / "customer_stats.parquet"
    events.to_parquet(path)
    view_name = f"customer_stats_{state.stamp.replace('-', '_')}"
    customer = sf.Entity("customer", join_keys=["customer_id"])
    stats = sf.FeatureView(view_name, entities=[customer], source=sf.ParquetSource(str(path), timestamp="event_ts"),
                           features={"avg_spend_7d": "float64", "orders_30d": "int64"}, ttl="7d")
    store = state.client.feature_store
    store.apply([customer, stats])
    refs = [f"{view_name}:avg_spend_7d", f"{view_name}:orders_30d"]

    # Labels observed at random times, some before a customer's first event: no value then.
    n = 20_000
    labels = pd.DataFrame({"customer_id": state.rng.integers(0, customers + 50, n),
                           "event_timestamp": end - pd.to_timedelta(state.rng.uniform(0, days + 5, n), unit="D")})
    started = time.perf_counter()
    training = store.get_historical_features(labels, refs).to_pandas()
    joined = time.perf_counter() - started
    missing = int(training["avg_spend_7d"].isna().sum())
    console.print(f"applied {view_name} ({len(events):,} events of {customers} customers); point-in-time "
                  f"training set: {len(training):,} of {n:,} rows back in {joined:.2f} s, {missing:,} with no "
                  f"value inside the 7-day TTL (unknown customers, or before their history)")

    started = time.perf_counter()
    store.materialize(end - pd.Timedelta(days=days + 1), end + pd.Timedelta(seconds=1), views=[view_name])
    materialized = time.perf_counter() - started
    rows = [{"customer_id": i} for i in (0, 1, 2, customers + 7)]
    online = store.get_online_features(refs, entity_rows=rows).to_dict()
    console.print(table(f"Online features (materialized in {materialized:.2f} s)",
                        ["customer_id", "avg_spend_7d", "orders_30d"],
                        [[r["customer_id"], online["avg_spend_7d"][i], online["orders_30d"][i]]
                         for i, r in enumerate(rows)]))
    skew = sf.check_skew(store, view_name, sample=200)
    rates = ", ".join(f"{name} {f.mismatch_rate:.1%}" for name, f in skew.features.items())
    console.print(f"skew check of {skew.compared} entities, online vs offline as of now: {rates}")
    state.summary.append(("features", f"{view_name}: {len(training)} training rows"))
