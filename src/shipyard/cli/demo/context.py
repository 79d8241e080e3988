"""What the stages of the demo hand to each other."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard.client import Client

__all__ = ["DemoState", "make_data"]

N_FEATURES = 20


def make_data(rng: np.random.Generator, n: int = 4000, shift: float = 0.0) -> tuple[pd.DataFrame, np.ndarray]:
    """A churn-like table: 20 numeric features and a label from a noisy linear rule.

    ``shift`` moves the first five features' means, as when upstream data changes, and
    (when non-zero) reverses how the first three bear on the label: the world changed,
    so a model trained before the shift loses accuracy and retraining pays off.
    """
    x = rng.normal(size=(n, N_FEATURES))
    x[:, :5] += shift
    w = np.random.default_rng(0).normal(size=N_FEATURES)
    if shift:
        w[:3] = -w[:3]
    y = (x @ w + rng.normal(scale=2.0, size=n) > 0).astype(int)
    return pd.DataFrame(x, columns=[f"f{i}" for i in range(N_FEATURES)]), y


@dataclass
class DemoState:
    """Names and data of one demo run, so every stage finds what the previous made."""

    client: Client
    stamp: str
    workdir: Path
    rng: np.random.Generator
    experiment: str
    model_name: str
    data_name: str
    command: str = "shipyard"  # how the caller's shell runs `shipyard` (see command.shipyard_command)
    dataset_version: int = 0
    best_run: Any = None
    served: dict[str, Any] = field(default_factory=dict)
    summary: list[tuple[str, str]] = field(default_factory=list)
    background: list[Any] = field(default_factory=list)  # processes kept until the demo ends
    token: str | None = field(default=None, repr=False)  # SHIPYARD_TOKEN of the model servers it starts

    def auth_headers(self) -> dict[str, str]:
        """The header a request to a model server the demo started carries."""
        return {"authorization": f"Bearer {self.token}"} if self.token else {}
