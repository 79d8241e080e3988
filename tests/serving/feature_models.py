"""A python-flavor model for the feature-serving tests (stored by import path, nothing pickled)."""

from __future__ import annotations

from typing import Any

import numpy as np


class Weighted:
    """``predict``: the weighted sum of each row's columns, a missing value counting as ``fill``."""

    def __init__(self, weights: list[float], fill: float = 0.0) -> None:
        self.weights = weights
        self.fill = fill

    def load(self, context: Any) -> None:
        pass

    def predict(self, inputs: Any) -> np.ndarray:
        rows = np.asarray(inputs, dtype=np.float64)
        return np.where(np.isnan(rows), self.fill, rows) @ np.asarray(self.weights, dtype=np.float64)
