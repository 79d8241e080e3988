"""``shipyard data diff`` as a real subprocess: the same file registered twice has not shifted."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from tests.cli.test_cli import run_cli


def test_two_registrations_of_one_file_diff_to_nothing_shifted(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    n = 2000
    frame = pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)],
                          "age": np.where(rng.random(n) < 0.03, np.nan, rng.integers(18, 80, n)),
                          "plan": rng.choice(["basic", "pro", "enterprise", None], n, p=[0.5, 0.3, 0.15, 0.05]),
                          "monthly": np.round(rng.gamma(2, 30, n), 2),
                          "churned": (rng.random(n) < 0.27).astype(int)})  # an integer 0/1 column
    frame.to_csv(tmp_path / "churn.csv", index=False)
    for name in ("churn-csv", "churn-csv-copy"):
        added = run_cli(tmp_path, "data", "add", name, str(tmp_path / "churn.csv"))
        assert added.returncode == 0, added.stderr
    diffed = run_cli(tmp_path, "data", "diff", "churn-csv@1", "churn-csv-copy@1", "--json")
    assert diffed.returncode == 0, diffed.stderr
    result = json.loads(diffed.stdout)
    assert result["rows"] == [n, n] and not (result["added"] or result["removed"] or result["retyped"])
    columns = {c["name"]: c for c in result["columns"]}
    assert set(columns) == set(frame.columns)
    for column in columns.values():
        assert column["shifted"] is False, column
        assert all(column.get(s, 0.0) == 0.0 for s in ("psi", "ks", "wasserstein", "js")), column
    assert columns["churned"]["kind"] == "numeric" and "psi" in columns["churned"]
    shown = run_cli(tmp_path, "data", "diff", "churn-csv@1", "churn-csv-copy@1")
    assert shown.returncode == 0 and "churned" in shown.stdout and "yes" not in shown.stdout
