"""A client on a fresh home, a registered scikit-learn model and datasets made in the test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard import Client

# The size the suite scores end to end, locally and on two Ray nodes (the benchmark goes to 10,000,000).
ROWS = 2_000_000


def features(rows: int, seed: int = 0) -> pd.DataFrame:
    """Columns a, b (float64) and c (int64): what the model's signature names."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.normal(size=rows), "b": rng.normal(size=rows),
                         "c": rng.integers(0, 10, rows)})


def register_model(client: Client, name: str = "churn") -> str:
    """A logistic regression on a, b, c registered as ``name``; its models:/ URI."""
    from sklearn.linear_model import LogisticRegression

    train = features(2_000, seed=1)
    model = LogisticRegression().fit(train, (train.a + train.b - train.c / 10 > 0).astype(int))
    run = client.create_run("training")
    client.log_model(run.id, model, input_example=train.head(5))
    client.end_run(run.id)
    version = client.register_model(f"runs:/{run.id}/model", name)
    return f"models:/{name}/{version.version}"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    with Client(home=tmp_path) as c:
        yield c
