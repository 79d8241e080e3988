"""Diffing two versions' profiles: schema changes and which columns moved."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from shipyard.datasets import diff_profiles, profile_table


def test_schema_changes_and_shifted_columns_are_reported() -> None:
    rng = np.random.default_rng(3)
    n = 20_000
    old = profile_table(pa.table({"stable": rng.normal(0, 1, n), "moving": rng.normal(0, 1, n),
                                  "plan": rng.choice(["a", "b"], n), "gone": np.zeros(n), "t": np.arange(n)}))
    new = profile_table(pa.table({"stable": rng.normal(0, 1, n), "moving": rng.normal(1.5, 1, n),
                                  "plan": rng.choice(["a", "b", "c"], n, p=[0.2, 0.2, 0.6]), "t": np.arange(n) * 1.0,
                                  "added": np.ones(n)}))
    diff = diff_profiles(old, new)
    assert diff.added == ["added"] and diff.removed == ["gone"] and diff.retyped == [("t", "int64", "double")]
    assert diff.schema_changed and set(diff.shifted) == {"moving", "plan"}
    by_name = {c.name: c for c in diff.columns}
    assert by_name["stable"].psi < 0.02 and by_name["stable"].ks < 0.03
    assert by_name["moving"].psi > 0.5 and by_name["moving"].wasserstein > 1.0
    assert by_name["plan"].new_categories == ["c"] and by_name["plan"].js > 0.3
    assert diff.to_json()["columns"][1]["shifted"] is True


def churn_table(n: int, seed: int, churn_rate: float = 0.27) -> pa.Table:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n).astype(np.float64)
    age[rng.random(n) < 0.03] = np.nan
    return pa.table({"customer_id": [f"c{i}" for i in range(n)], "age": age,
                     "plan": pa.array(rng.choice(["basic", "pro", "team"], n), mask=rng.random(n) < 0.05),
                     "monthly": np.round(rng.gamma(2, 30, n), 2), "churned": (rng.random(n) < churn_rate).astype(int)})


def test_the_same_data_diffs_to_zero_on_every_statistic() -> None:
    table = churn_table(2000, 1)
    diff = diff_profiles(profile_table(table), profile_table(table.take(np.random.default_rng(2).permutation(2000))))
    assert diff.shifted == []
    for column in diff.columns:
        assert all(getattr(column, s) in (None, 0.0) for s in ("psi", "ks", "wasserstein", "js")), column


def test_discrete_columns_diff_exactly_as_the_raw_data_compares() -> None:
    from shipyard.monitoring import detect_drift

    old, new = churn_table(3000, 3), churn_table(2500, 4, churn_rate=0.4)
    diff = {c.name: c for c in diff_profiles(profile_table(old), profile_table(new)).columns}
    exact = detect_drift(old, new).columns
    for name in ("age", "churned"):  # at most TOP_K distinct values: every count is kept
        for statistic in ("psi", "ks", "wasserstein"):
            assert getattr(diff[name], statistic) == pytest.approx(exact[name].scores[statistic], rel=1e-9, abs=1e-12)
    assert diff["churned"].shifted and not diff["age"].shifted
