"""compare_sketches and compare_numeric: the same data compares as zero whichever way it was sketched."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from shipyard.datasets import profile_table
from shipyard.monitoring import WindowProfile, detect_drift
from shipyard.monitoring._compare import compare_numeric, compare_sketches
from shipyard.monitoring._sketch import TOP_K, CategoricalSketch, categorical


def test_category_lists_kept_to_different_depths_compare_equal_on_the_same_data() -> None:
    counts = {f"c{i}": 1000 - i for i in range(3 * TOP_K)}
    deep = categorical(sum(counts.values()), 0, counts)  # the TOP_K most frequent, the rest in "other"
    shallow = CategoricalSketch(deep.count, 0, deep.counts[:50], deep.other + sum(c for _, c in deep.counts[50:]))
    scores = compare_sketches(deep, shallow, 5).scores
    assert scores["chi2"] == scores["jensenshannon"] == scores["psi"] == 0.0


def test_a_stored_profile_and_the_raw_data_it_describes_compare_as_zero() -> None:
    rng = np.random.default_rng(5)
    n = 3000
    frame = pd.DataFrame({"customer": [f"c{i}" for i in rng.integers(0, 5 * n, n)],  # beyond every top-k
                          "churned": (rng.random(n) < 0.27).astype(int), "age": rng.integers(18, 80, n)})
    report = detect_drift(profile_table(pa.Table.from_pandas(frame)), frame)
    assert report.method == "sketch" and not report.drifted_columns
    for name in ("customer", "churned", "age"):  # churned and age: discrete, binned exactly
        scores = report.columns[name].scores
        assert all(v == 0.0 for k, v in scores.items() if not k.endswith("p_value")), (name, scores)


def test_windows_binned_on_different_edges_compare_as_zero_on_the_same_data() -> None:
    values = pd.DataFrame({"x": np.random.default_rng(6).exponential(size=5000)})
    own = WindowProfile.of(values)
    other = WindowProfile.of(values, reference=WindowProfile.of(values * 3 + 1))
    assert own.columns["x"].histogram.edges != other.columns["x"].histogram.edges
    scores = compare_sketches(own.columns["x"], other.columns["x"], 5).scores
    assert all(v == 0.0 for k, v in scores.items() if not k.endswith("p_value")), scores


def test_a_ks_p_value_scipy_cannot_compute_exactly_falls_back_quietly() -> None:
    ones = np.ones(200)
    a, b = ones.copy(), ones.copy()
    a[:4], b[:3] = 0.0, 0.0  # a tiny statistic between tied samples: scipy's exact method gives up
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compared = compare_numeric(pa.chunked_array([a]), pa.chunked_array([b]), 5)
    assert compared.scores["ks"] == pytest.approx(0.005) and compared.scores["ks_p_value"] == 1.0
