"""Tiny data made here, shared by the model-package tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="session")
def tabular() -> tuple[pd.DataFrame, np.ndarray]:
    """200 rows × 5 float64 features (f0…f4) and a binary label."""
    rng = np.random.default_rng(7)
    X = pd.DataFrame(rng.normal(size=(200, 5)), columns=[f"f{i}" for i in range(5)])
    y = ((X["f0"] + 0.5 * X["f1"] - X["f2"] + rng.normal(scale=0.3, size=200)) > 0).astype(np.int64)
    return X, y.to_numpy()


@pytest.fixture(scope="session")
def target(tabular: tuple[pd.DataFrame, np.ndarray]) -> np.ndarray:
    """A regression target in the hundreds, where float32 rounding would show."""
    X, _ = tabular
    return (X.to_numpy() @ np.array([120.0, -40.0, 15.0, 3.0, 80.0])) + 250.0


@pytest.fixture(scope="session")
def forms() -> Callable[[pd.DataFrame], dict[str, Any]]:
    """The four shapes predict accepts, all holding the same rows."""

    def make(frame: pd.DataFrame) -> dict[str, Any]:
        return {
            "dataframe": frame,
            "ndarray": frame.to_numpy(),
            "dict": {name: frame[name].to_numpy() for name in frame.columns},
            "records": frame.to_dict("records"),
        }

    return make
