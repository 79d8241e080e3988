"""Profiles: what one pass computes, that merging two windows equals profiling both, JSON."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pyarrow as pa
import pytest

from shipyard.datasets import Profile, profile_table
from shipyard.datasets._sketches import Histogram, HyperLogLog, QuantileSketch, top_depth
from shipyard.errors import InvalidInput


@pytest.fixture(scope="module")
def table() -> pa.Table:
    rng = np.random.default_rng(7)
    n = 200_000
    values = rng.normal(10, 3, n)
    values[::97] = np.nan
    return pa.table({
        "x": pa.array(values, mask=np.arange(n) % 50 == 0),
        "k": rng.integers(0, 5000, n),
        "plan": pa.array(rng.choice(["basic", "pro", "team", "free"], n, p=[0.4, 0.3, 0.2, 0.1])),
        "flag": rng.random(n) < 0.25,
        "at": pa.array([dt.datetime(2026, 1, 1) + dt.timedelta(minutes=int(m)) for m in rng.integers(0, 9999, n)]),
        "blob": pa.array([b"x"] * n),
    })


def test_one_pass_computes_every_statistic(table: pa.Table) -> None:
    p = profile_table(table)
    assert p.rows == 200_000 and p.names == ["x", "k", "plan", "flag", "at", "blob"]
    x = p["x"]
    raw = table.column("x").to_numpy(zero_copy_only=False)
    finite = raw[~np.isnan(raw)]
    assert x.kind == "numeric" and x.nulls == 4000 and x.count + x.nan + x.nulls == 200_000
    assert x.min == finite.min() and x.max == finite.max()
    assert x.mean == pytest.approx(finite.mean()) and x.std == pytest.approx(finite.std())
    assert abs(x.quantile(0.5) - np.median(finite)) < 0.05
    assert sum(x.histogram.counts) == x.count and len(x.histogram.edges) == 21
    assert abs(p["k"].distinct - 5000) < 5000 * 0.05
    plan = p["plan"]
    assert plan.kind == "categorical" and plan.distinct == 4 and plan.top_complete
    assert dict(plan.top) == dict(zip(*np.unique(table.column("plan").to_numpy(zero_copy_only=False),
                                                  return_counts=True), strict=True))
    assert p["flag"].top[0][0] is False
    assert p["at"].kind == "temporal" and p["at"].min.startswith("2026-01-01")
    assert p["blob"].kind == "other" and p["blob"].count == 200_000


def test_merging_two_windows_matches_profiling_them_together(table: pa.Table) -> None:
    whole = profile_table(table)
    first = profile_table(table.slice(0, 80_000), reference=whole)
    second = profile_table(table.slice(80_000), reference=whole)
    merged = first.merge(second)
    for name in ("x", "k", "plan", "flag", "at"):
        a, b = merged[name], whole[name]
        assert (a.count, a.nulls, a.nan, a.min, a.max) == (b.count, b.nulls, b.nan, b.min, b.max)
        assert a.hll == b.hll  # register-wise max: exact
    assert merged["x"].mean == pytest.approx(whole["x"].mean)
    assert merged["x"].std == pytest.approx(whole["x"].std)
    assert merged["x"].histogram == whole["x"].histogram  # same (reference) edges: exact
    assert merged["plan"].top == whole["plan"].top
    for q in (0.05, 0.5, 0.95):
        assert abs(whole["x"].quantiles.cdf(merged["x"].quantile(q)) - q) < 0.01


def test_profiles_round_trip_through_json(table: pa.Table) -> None:
    p = profile_table(table)
    assert Profile.from_json(json.loads(json.dumps(p.to_json()))) == p
    with pytest.raises(InvalidInput):
        Profile.from_json({"columns": []})


def test_merging_columns_of_different_kinds_is_invalid() -> None:
    a = profile_table(pa.table({"c": [1, 2]}))
    b = profile_table(pa.table({"c": ["x", "y"]}))
    with pytest.raises(InvalidInput):
        a.merge(b)
    assert a.merge(profile_table(pa.table({"d": [1.0]})))["c"].nulls == 1  # missing column: null there


def test_sketches_merge_within_their_stated_error() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.exponential(1.0, 300_000), rng.normal(5, 1, 100_000)
    both = np.concatenate([a, b])
    merged = QuantileSketch.of(a).merge(QuantileSketch.of(b))
    assert merged.n == both.size
    for q in (0.01, 0.1, 0.5, 0.9, 0.99):
        rank = np.searchsorted(np.sort(both), merged.quantile(q)) / both.size
        assert abs(rank - q) < 0.006
    hll = HyperLogLog.of(np.arange(100_000)).merge(HyperLogLog.of(np.arange(50_000, 150_000)))
    assert abs(hll.estimate() - 150_000) < 150_000 * 0.05
    h1, h2 = Histogram.of(a), Histogram.of(b)
    combined = h1.merge(h2)
    assert combined.total == both.size
    assert Histogram.of(b, edges=h1.edges).total == b.size


def test_a_quantile_sketch_keeps_ties_as_atoms() -> None:
    values = np.repeat([0.0, 1.0], [730, 270])  # a 0/1 flag
    sketch = QuantileSketch.of(values)
    resolution = 1 / 256 + 1 / values.size
    # No mass between the two values: the CDF holds 73 % from 0 up to 1, then jumps.
    assert sketch.cdf(0.0) == pytest.approx(0.73, abs=resolution)
    assert sketch.cdf(0.5) == pytest.approx(0.73, abs=resolution)
    assert sketch.cdf(1.0, side="left") == pytest.approx(0.73, abs=resolution)
    assert sketch.cdf(0.0, side="left") == 0.0 and sketch.cdf(1.0) == 1.0 and sketch.cdf(-1.0) == 0.0
    merged = sketch.merge(QuantileSketch.of(np.repeat([0.0, 1.0], [270, 730])))
    assert merged.cdf(0.5) == pytest.approx(0.5, abs=2 * resolution)  # merging keeps the atoms
    with pytest.raises(ValueError):
        sketch.cdf(0.0, side="middle")


def test_sketch_distances_are_within_the_sketch_resolution_of_the_exact_ones() -> None:
    from scipy import stats

    rng = np.random.default_rng(4)
    for a, b in ((rng.normal(0, 1, 3000), rng.normal(0.3, 1.2, 2000)),
                 (rng.integers(0, 5, 3000).astype(float), rng.integers(1, 6, 2000).astype(float))):
        sa, sb = QuantileSketch.of(a), QuantileSketch.of(b)
        delta = 2 / 256 + 1 / a.size + 1 / b.size
        assert sa.ks(sb) == pytest.approx(stats.ks_2samp(a, b).statistic, abs=delta)
        assert sa.wasserstein(sb) == pytest.approx(stats.wasserstein_distance(a, b), abs=delta * np.ptp(a))
        assert sa.ks(sa) == sa.wasserstein(sa) == 0.0
    assert math.isnan(QuantileSketch(0, ()).ks(sa))


def test_a_discrete_numeric_column_keeps_every_value_count() -> None:
    p = profile_table(pa.table({"churned": pa.array([0, 1, 0, None, 0, 1]),
                                "score": pa.array([0.0, -0.0, 2.5, np.nan, 2.5, 1.0])}))
    assert p["churned"].top == ((0, 3), (1, 2)) and p["churned"].top_complete and p["churned"].distinct == 2
    assert p["score"].top == ((0.0, 2), (2.5, 2), (1.0, 1)) and p["score"].top_complete  # -0.0 is 0.0
    assert Profile.from_json(json.loads(json.dumps(p.to_json()))) == p
    amount = profile_table(pa.table({"amount": np.arange(500.0)}))["amount"]
    assert amount.top is None and not amount.top_complete  # more than TOP_K values: sketches only


def test_top_lists_are_cut_to_the_shortest_incomplete_one() -> None:
    full, partial = [("a", 5), ("b", 3), ("c", 1)], [("a", 9), ("b", 2)]
    assert top_depth((full, True), (partial, False)) == 2
    assert top_depth((full, True), (partial, True)) is None
    assert top_depth((full, False), (partial, False)) == 2
