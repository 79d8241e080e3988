"""Objectives the tuning tests search (module level, so Ray workers and subprocesses import them)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

SPACE_ARGS = {"x": (-5.0, 5.0), "depth": (1, 6), "kind": ["a", "b", "c"]}


def bowl(x: float, depth: int, kind: str) -> float:
    """A deterministic surface with one best point (x=1.5, depth=3, kind='b')."""
    return (x - 1.5) ** 2 + (depth - 3) ** 2 * 0.5 + {"a": 1.0, "b": 0.0, "c": 2.0}[kind]


def bowl_objective(trial: Any) -> float:
    return bowl(trial["x"], trial["depth"], trial["kind"])


def bowl_with_reports(trial: Any) -> float:
    value = bowl(trial["x"], trial["depth"], trial["kind"])
    for step in range(4):
        trial.report(value + (4 - step), step)
    return value


def always_fails(trial: Any) -> float:
    raise RuntimeError(f"no data for x={trial['x']:.3f}")


def _data() -> tuple[np.ndarray, ...]:
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split

    x, y = make_classification(n_samples=600, n_features=12, n_informative=6, random_state=0)
    return tuple(train_test_split(x, y, test_size=0.3, random_state=0))


def sgd_classifier(trial: Any) -> float:
    """A real scikit-learn model trained epoch by epoch, reporting validation accuracy."""
    from sklearn.linear_model import SGDClassifier

    x_train, x_test, y_train, y_test = _data()
    model = SGDClassifier(alpha=trial["alpha"], loss=trial["loss"], eta0=trial["eta0"],
                          learning_rate="constant", random_state=0)
    accuracy = 0.0
    for epoch in range(6):
        model.partial_fit(x_train, y_train, classes=np.array([0, 1]))
        accuracy = float(model.score(x_test, y_test))
        trial.report(accuracy, epoch)
    return accuracy


def slow_bowl(trial: Any) -> float:
    """``bowl`` that takes a while and leaves a mark per finished trial (for the kill test)."""
    time.sleep(0.3)
    marks = Path(os.environ["TUNING_MARKS"])
    with marks.open("a") as f:
        f.write(f"{trial.number}\n")
    return bowl_objective(trial)


def where_it_ran(trial: Any) -> float:
    """``bowl`` that takes long enough for trials to spread over the nodes."""
    time.sleep(0.5)
    trial.report(1.0, 0)
    return bowl_objective(trial)


def parabola(trial: Any) -> float:
    return (trial["x"] - 1.0) ** 2
