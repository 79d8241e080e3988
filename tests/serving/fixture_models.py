"""Tiny python-flavor models for the serving tests (stored by import path, nothing pickled)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np


class RowSum:
    """``predict``: each row's sum plus ``offset``; sleeps ``delay_ms`` per call; raises on a
    row whose first value is below ``fail_below`` (a "bad row")."""

    def __init__(self, offset: float = 0.0, delay_ms: float = 0.0, fail_below: float | None = None) -> None:
        self.offset = offset
        self.delay_ms = delay_ms
        self.fail_below = fail_below

    def load(self, context: Any) -> None:
        pass

    def predict(self, inputs: Any) -> np.ndarray:
        rows = np.asarray(inputs, dtype=np.float64)
        if self.delay_ms:
            time.sleep(self.delay_ms / 1000)
        if self.fail_below is not None and (rows[:, 0] < self.fail_below).any():
            raise ValueError(f"a row starts below {self.fail_below}")
        return rows.sum(axis=1) + self.offset
