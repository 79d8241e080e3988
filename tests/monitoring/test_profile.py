"""WindowProfile: bounded sketches whose merge equals the profile of the concatenation."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shipyard.datasets import profile_table
from shipyard.errors import InvalidInput
from shipyard.monitoring import WindowProfile
from shipyard.monitoring._sketch import BINS, TOP_K, CategoricalSketch, NumericSketch


def frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(10, 3, n)
    x[::50] = np.nan
    return pd.DataFrame({"x": x, "k": rng.integers(0, 4, n), "plan": rng.choice(["basic", "pro", "team"], n),
                         "flag": rng.random(n) < 0.3})


def test_numeric_and_categorical_sketches_hold_their_statistics() -> None:
    data = frame(10_000, 0)
    profile = WindowProfile.of(data)
    x = profile.columns["x"]
    values = data["x"].dropna().to_numpy()
    assert isinstance(x, NumericSketch) and (x.count, x.nulls) == (values.size, 200)
    assert (x.min, x.max) == (values.min(), values.max())
    assert x.mean == pytest.approx(values.mean()) and x.std == pytest.approx(values.std())
    assert len(x.histogram.edges) == BINS + 1 and sum(x.histogram.counts) == x.count
    assert x.quantiles.quantile(0.5) == pytest.approx(np.median(values))
    assert profile.columns["k"].histogram.counts == tuple(np.bincount(data["k"]))  # a bin per value
    plan = profile.columns["plan"]
    assert isinstance(plan, CategoricalSketch) and dict(plan.counts) == data["plan"].value_counts().to_dict()
    assert dict(profile.columns["flag"].counts) == {"false": int((~data["flag"]).sum()),
                                                    "true": int(data["flag"].sum())}


def test_merging_windows_equals_profiling_them_together() -> None:
    reference = WindowProfile.of(frame(20_000, 1))
    a, b = frame(7_000, 2), frame(5_000, 3)
    merged = WindowProfile.of(a, reference=reference).merge(WindowProfile.of(b, reference=reference))
    whole = WindowProfile.of(pd.concat([a, b]), reference=reference)
    assert merged.rows == whole.rows == 12_000
    for name in ("x", "k"):
        m, w = merged.columns[name], whole.columns[name]
        assert (m.count, m.nulls, m.min, m.max, m.histogram) == (w.count, w.nulls, w.min, w.max, w.histogram)
        assert m.mean == pytest.approx(w.mean, rel=1e-12) and m.m2 == pytest.approx(w.m2, rel=1e-9)
        assert m.quantiles.quantile(0.5) == pytest.approx(w.quantiles.quantile(0.5), abs=0.05 * w.std)
    assert merged.columns["plan"] == whole.columns["plan"]


def test_size_is_bounded_by_the_sketch_not_the_rows() -> None:
    small = len(json.dumps(WindowProfile.of(frame(10_000, 4)).to_json()))
    large = len(json.dumps(WindowProfile.of(frame(1_000_000, 5)).to_json()))
    assert large <= small * 1.05


def test_categories_beyond_top_k_are_pooled_as_other() -> None:
    values = [f"v{i}" for i in range(TOP_K + 50)] * 3 + ["v0"] * 10
    sketch = WindowProfile.of(pd.DataFrame({"c": values})).columns["c"]
    assert len(sketch.counts) == TOP_K and sketch.counts[0] == ("v0", 13)
    assert sketch.other == 50 * 3 and sketch.count == len(values)
    assert sketch.merge(sketch).other == 2 * sketch.other


def test_a_column_absent_from_one_window_counts_as_null_there() -> None:
    a = WindowProfile.of(pd.DataFrame({"x": [1.0, 2.0], "y": ["a", "b"]}))
    b = WindowProfile.of(pd.DataFrame({"x": [3.0]}))
    merged = a.merge(b)
    assert merged.columns["y"].nulls == 1 and merged.columns["y"].count == 2
    assert b.merge(a).columns["y"].nulls == 1


def test_merging_a_numeric_with_a_categorical_column_is_refused() -> None:
    a = WindowProfile.of(pd.DataFrame({"x": [1.0, 2.0]}))
    b = WindowProfile.of(pd.DataFrame({"x": ["a", "b"]}))
    with pytest.raises(InvalidInput) as caught:
        a.merge(b)
    assert caught.value.field == "x"


def test_json_round_trip_and_malformed_input() -> None:
    profile = WindowProfile.of(frame(3_000, 6))
    assert WindowProfile.from_json(json.loads(json.dumps(profile.to_json()))) == profile
    for bad in ({}, {"rows": 1, "columns": {"x": {"kind": "tensor"}}}, {"rows": 1, "columns": {"x": {}}}):
        with pytest.raises(InvalidInput):
            WindowProfile.from_json(bad)


def test_a_stored_dataset_profile_becomes_a_reference() -> None:
    data = frame(50_000, 7)
    stored = profile_table(pa.Table.from_pandas(data))
    reference = WindowProfile.from_dataset_profile(stored)
    x = reference.columns["x"]
    assert x.count == stored["x"].count and x.nulls == 1_000 and sum(x.histogram.counts) == x.count
    assert x.mean == stored["x"].mean and len(x.histogram.edges) > BINS // 2
    assert dict(reference.columns["plan"].counts) == dict(stored["plan"].top)
    window = WindowProfile.of(frame(5_000, 8), reference=reference)
    assert window.columns["x"].histogram.edges == x.histogram.edges
    with pytest.raises(InvalidInput):
        WindowProfile.from_dataset_profile({"rows": 3})


def test_parquet_windows_are_read_in_batches_with_the_same_result(tmp_path: Path) -> None:
    data = frame(30_000, 9)
    pq.write_table(pa.Table.from_pandas(data.iloc[:20_000]), tmp_path / "a.parquet", row_group_size=4_000)
    pq.write_table(pa.Table.from_pandas(data.iloc[20_000:]), tmp_path / "b.parquet")
    files = [tmp_path / "a.parquet", tmp_path / "b.parquet"]
    reference = WindowProfile.of(frame(10_000, 10))
    batched = WindowProfile.of_parquet(files, reference=reference, batch_rows=3_000)
    whole = WindowProfile.of(data, reference=reference)
    assert batched.rows == whole.rows and batched.columns["plan"] == whole.columns["plan"]
    assert batched.columns["x"].histogram == whole.columns["x"].histogram
    own = WindowProfile.of_parquet(files, columns=["x"], batch_rows=3_000)  # two passes: edges, then counts
    assert list(own.columns) == ["x"] and sum(own.columns["x"].histogram.counts) == whole.columns["x"].count
    assert own.columns["x"].histogram.below == own.columns["x"].histogram.above == 0
    with pytest.raises(InvalidInput):
        WindowProfile.of_parquet(tmp_path / "missing.parquet")


_MEMORY_PROBE = textwrap.dedent("""
    import resource, sys
    import pyarrow as pa
    from shipyard.monitoring import WindowProfile
    import shipyard.monitoring._profile, shipyard.monitoring._sketch, pyarrow.parquet
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    profile = WindowProfile.of_parquet(sys.argv[1], batch_rows=65_536)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print(profile.rows, grown * 1024)
""")


def test_profiling_parquet_keeps_memory_bounded_by_the_batch(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    n = 2_000_000
    table = pa.table({f"x{i}": rng.normal(size=n) for i in range(5)})  # 80 MB of float64
    pq.write_table(table, tmp_path / "big.parquet", row_group_size=100_000)
    done = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, str(tmp_path / "big.parquet")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows, grown = (int(v) for v in done.stdout.split())
    assert rows == n
    assert grown < table.nbytes / 3, f"peak memory grew by {grown / 1e6:.0f} MB reading {table.nbytes / 1e6:.0f} MB"


def test_merging_many_windows_at_once_equals_merging_them_in_turn() -> None:
    reference = WindowProfile.of(frame(20_000, 12))
    windows = [WindowProfile.of(frame(500, 13 + h), reference=reference) for h in range(48)]
    windows[5] = WindowProfile.of(frame(500, 99).drop(columns=["plan"]), reference=reference)
    at_once = WindowProfile.merge_all(windows)
    in_turn = windows[0]
    for window in windows[1:]:
        in_turn = in_turn.merge(window)
    assert at_once.rows == in_turn.rows == 48 * 500
    assert at_once.columns["plan"] == in_turn.columns["plan"] and at_once.columns["plan"].nulls == 500
    a, b = at_once.columns["x"], in_turn.columns["x"]
    assert (a.count, a.nulls, a.min, a.max, a.histogram) == (b.count, b.nulls, b.min, b.max, b.histogram)
    assert a.mean == pytest.approx(b.mean, rel=1e-12) and a.m2 == pytest.approx(b.m2, rel=1e-9)
    values = pd.concat([frame(500, 13 + h) if h != 5 else frame(500, 99) for h in range(48)])["x"].dropna()
    for q in (0.05, 0.5, 0.95):  # the mixture of the quantile sketches stays close to the data's quantiles
        assert a.quantiles.quantile(q) == pytest.approx(values.quantile(q), abs=0.02 * values.std())
    with pytest.raises(InvalidInput):
        WindowProfile.merge_all([windows[0], WindowProfile.of(pd.DataFrame({"x": ["a"]}))])
