"""Diffing two versions' profiles: schema changes and which columns moved."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

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
