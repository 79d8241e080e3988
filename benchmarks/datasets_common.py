"""Data made identically by both sides of ``benchmarks/datasets.py`` (no Shipyard import).

Loaded by the Shipyard side and by the peer scripts in their own venvs, so the
folder, the changed files and the validation table are the same on both sides.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

__all__ = ["change_files", "file_path", "make_folder", "make_validation_table"]


def file_path(root: Path, index: int) -> Path:
    return root / f"shard-{index % 100:02}" / f"item-{index:05}.bin"


def make_folder(root: Path, files: int, size: int = 512) -> None:
    """``files`` small files of random bytes, 100 per subfolder."""
    for i in range(files):
        path = file_path(root, i)
        if i < 100:
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))


def change_files(root: Path, indices: Sequence[int]) -> None:
    for i in indices:
        path = file_path(root, i)
        path.write_bytes(path.read_bytes() + b"changed\n")


def make_validation_table(rows: int, path: Path) -> None:
    """A Parquet table of 10 columns with a few deliberate violations of the contract."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(42)
    ids = np.arange(rows, dtype=np.int64)
    ids[rng.integers(0, rows, 5)] = 7  # five duplicates
    age = rng.integers(18, 90, rows)
    age[rng.integers(0, rows, 20)] = 150
    income = rng.lognormal(10, 1, rows)
    income[rng.integers(0, rows, 1000)] = np.nan
    plans = np.array(["basic", "pro", "team", "enterprise"])
    plan = plans[rng.integers(0, 4, rows)].astype(object)
    plan[rng.integers(0, rows, 10)] = "legacy"
    domains = np.array(["example.com", "mail.io", "corp.org"])
    email = np.char.add(np.char.add("user", ids.astype(str)), "@")
    email = np.char.add(email, domains[rng.integers(0, 3, rows)]).astype(object)
    email[rng.integers(0, rows, 3)] = "not-an-email"
    frame = pd.DataFrame({
        "id": ids, "age": age, "income": income, "plan": plan, "email": email,
        "score": rng.random(rows), "country": np.array(["de", "fr", "us", "jp"])[rng.integers(0, 4, rows)],
        "signup": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 700, rows), unit="D"),
        "clicks": rng.poisson(3, rows), "churned": rng.random(rows) < 0.2,
    })
    frame.to_parquet(path, index=False)
