"""Model performance: realised metrics once labels arrive, and an estimate before they do.

* :func:`classification_metrics` — accuracy, precision, recall, F1 (of the positive
  class for two classes; the unweighted mean over classes, "macro", for more),
  ROC-AUC (one-vs-rest macro for more than two classes) and log-loss (both need
  probabilities). Values equal scikit-learn's, except that a metric that is
  undefined on the window (no positive predictions for precision, one class only
  for ROC-AUC…) is None with a reason instead of 0 and a warning.
* :func:`regression_metrics` — MAE, RMSE and R².
* :func:`estimate_performance` — confidence-based performance estimation (CBPE):
  the *expected* confusion matrix when each predicted probability is the true
  chance of its class, giving expected accuracy, precision, recall, F1 and
  ROC-AUC with no labels at all. It assumes calibrated probabilities: an
  overconfident model gets an overconfident estimate. Report it beside the
  realised metric once labels exist; the gap between them is a calibration check.

Rows whose label is missing (None or NaN) are left out; ``Metrics.rows`` counts the
rows used. Inputs are array-likes: lists, numpy arrays, pandas Series, Arrow arrays.
Probabilities are a vector (of the positive class) or one column per class in
``classes`` order (default: the sorted classes seen).

>>> m = classification_metrics([0, 1, 1, 0], [0, 1, 0, 0])
>>> m["accuracy"], m["precision"], m["recall"]
(0.75, 1.0, 0.5)
>>> round(estimate_performance([0.9, 0.2, 0.6])["accuracy"], 4)
0.7667
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shipyard.errors import InvalidInput

__all__ = ["Metrics", "classification_metrics", "estimate_performance", "regression_metrics"]

CLASSIFICATION = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
REGRESSION = ("mae", "rmse", "r2")
ESTIMATED = ("accuracy", "precision", "recall", "f1", "roc_auc")


@dataclass(frozen=True)
class Metrics:
    """Metric values of one window; a None value has its reason in ``reasons``."""

    rows: int
    values: Mapping[str, float | None]
    reasons: Mapping[str, str] = field(default_factory=dict)
    average: str | None = None  # "binary" or "macro" for classification

    def __getitem__(self, name: str) -> float | None:
        return self.values[name]

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "values": dict(self.values), "reasons": dict(self.reasons),
                "average": self.average}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Metrics:
        return cls(int(data["rows"]), dict(data["values"]), dict(data.get("reasons", {})), data.get("average"))


def _array(values: Any, name: str) -> np.ndarray:
    if hasattr(values, "to_numpy") and not isinstance(values, np.ndarray):
        values = values.to_numpy(zero_copy_only=False) if "pyarrow" in type(values).__module__ else values.to_numpy()
    try:
        return np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{name} is not an array: {exc}", field=name) from None


def _missing(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype.kind == "O":
        return np.array([v is None or (isinstance(v, float) and v != v) for v in values], dtype=bool)
    return np.zeros(values.shape[0], dtype=bool)


def _probabilities(proba: Any, n: int, classes: np.ndarray, positive: Any) -> np.ndarray:
    """The positive class's probabilities (two classes) or one column per class (more)."""
    p = _array(proba, "proba").astype(np.float64)
    binary = classes.size <= 2
    if p.ndim == 2 and binary and p.shape[1] == 2:
        labels = list(classes) if classes.size == 2 else [None, positive]
        p = p[:, labels.index(positive)]
    if p.shape[0] != n or p.ndim != (1 if binary else 2) or (not binary and p.shape[1] != classes.size):
        want = f"{n} probabilities of {positive!r}" if binary else f"{n} rows × {classes.size} columns"
        raise InvalidInput(f"proba must hold {want} (classes {classes.tolist()}), got shape {p.shape}",
                           field="proba")
    return p


def classification_metrics(y_true: Any, y_pred: Any, proba: Any = None, *, classes: Any = None,
                           positive: Any = None) -> Metrics:
    """Realised classification metrics (see the module docstring); ``positive`` defaults to the last class."""
    truth, predicted = _array(y_true, "y_true"), _array(y_pred, "y_pred")
    if truth.shape[0] != predicted.shape[0]:
        raise InvalidInput(f"y_true has {truth.shape[0]} rows, y_pred {predicted.shape[0]}", field="y_pred")
    keep = ~_missing(truth)
    truth, predicted = truth[keep], predicted[keep]
    n = int(truth.size)
    if n == 0:
        return Metrics(0, dict.fromkeys(CLASSIFICATION), dict.fromkeys(CLASSIFICATION, "no labelled rows"))
    labels = np.unique(np.concatenate([truth, predicted])) if classes is None else _array(classes, "classes")
    positive = labels[-1] if positive is None else positive
    values: dict[str, float | None] = {"accuracy": float(np.mean(truth == predicted))}
    reasons: dict[str, str] = {}
    binary = labels.size <= 2
    counts = [_confusion(truth == label, predicted == label) for label in ([positive] if binary else labels)]
    for name, value, why in _prf(counts, binary):
        values[name] = value
        if value is None:
            reasons[name] = why
    if proba is None:
        values["roc_auc"] = values["log_loss"] = None
        reasons["roc_auc"] = reasons["log_loss"] = "no probabilities given"
    else:
        _scores(_probabilities(proba, keep.size, labels, positive)[keep], truth, labels, positive, values, reasons)
    return Metrics(n, values, reasons, "binary" if binary else "macro")


def _scores(p: np.ndarray, truth: np.ndarray, labels: np.ndarray, positive: Any, values: dict[str, float | None],
            reasons: dict[str, str]) -> None:
    """ROC-AUC and log-loss from probabilities, into ``values`` (or a reason)."""
    eps = np.finfo(np.float64).eps
    if p.ndim == 1:
        actual = truth == positive
        aucs = [_auc(p, actual)] if 0 < actual.sum() < actual.size else []
        likely = np.clip(np.where(actual, p, 1 - p), eps, 1 - eps)
    else:
        onehot = truth[:, None] == labels[None, :]
        if not onehot.any(axis=1).all():
            raise InvalidInput(f"some labels are not among the classes {labels.tolist()}", field="y_true")
        aucs = [_auc(p[:, k], onehot[:, k]) for k in range(labels.size) if 0 < onehot[:, k].sum() < truth.size]
        p = np.clip(p, eps, 1 - eps)
        likely = (p / p.sum(axis=1, keepdims=True))[onehot]
    values["roc_auc"] = float(np.mean(aucs)) if aucs else None
    if not aucs:
        reasons["roc_auc"] = "the labels hold a single class"
    values["log_loss"] = float(-np.mean(np.log(likely)))


def _confusion(actual: np.ndarray, predicted: np.ndarray) -> tuple[float, float, float]:
    """(true positives, false positives, false negatives), as floats so expected counts fit too."""
    return float(np.sum(actual & predicted)), float(np.sum(~actual & predicted)), float(np.sum(actual & ~predicted))


def _prf(counts: list[tuple[float, float, float]], binary: bool) -> list[tuple[str, float | None, str]]:
    precision, recall, f1 = [], [], []
    for tp, fp, fn in counts:
        precision.append(tp / (tp + fp) if tp + fp else None)
        recall.append(tp / (tp + fn) if tp + fn else None)
        f1.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None)
    if binary:
        return [("precision", precision[0], "no positive predictions"),
                ("recall", recall[0], "no positive labels"),
                ("f1", f1[0], "no positive labels or predictions")]
    # Macro averages count an undefined per-class value as 0, as scikit-learn does.
    return [(name, float(np.mean([v or 0.0 for v in per_class])), "")
            for name, per_class in (("precision", precision), ("recall", recall), ("f1", f1))]


def _auc(score: np.ndarray, actual: np.ndarray) -> float:
    """ROC-AUC as the Mann–Whitney statistic, tied scores sharing their mean rank."""
    order = np.argsort(score, kind="mergesort")
    ordered = score[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    ends = np.append(starts[1:], ordered.size)
    mean_rank = (starts + ends + 1) / 2.0  # 1-based ranks starts+1 … ends, averaged
    ranks = np.empty(score.size)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    positives = float(actual.sum())
    negatives = actual.size - positives
    return float((ranks[actual].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def regression_metrics(y_true: Any, y_pred: Any) -> Metrics:
    """MAE, RMSE and R² (None when the labels are constant or fewer than two)."""
    truth = _array(y_true, "y_true").astype(np.float64)
    predicted = _array(y_pred, "y_pred").astype(np.float64)
    if truth.shape != predicted.shape:
        raise InvalidInput(f"y_true has shape {truth.shape}, y_pred {predicted.shape}", field="y_pred")
    keep = ~np.isnan(truth)
    truth, predicted = truth[keep], predicted[keep]
    if truth.size == 0:
        return Metrics(0, dict.fromkeys(REGRESSION), dict.fromkeys(REGRESSION, "no labelled rows"))
    error = truth - predicted
    values: dict[str, float | None] = {"mae": float(np.mean(np.abs(error))),
                                       "rmse": float(np.sqrt(np.mean(error * error)))}
    reasons = {}
    spread = float(np.sum((truth - truth.mean()) ** 2))
    if truth.size < 2 or spread == 0:
        values["r2"], reasons["r2"] = None, "the labels are constant"
    else:
        values["r2"] = 1 - float(np.sum(error * error)) / spread
    return Metrics(int(truth.size), values, reasons)


def estimate_performance(proba: Any, *, classes: Any = None, positive: Any = None,
                         threshold: float = 0.5) -> Metrics:
    """Expected metrics from calibrated probabilities alone (CBPE; see the module docstring).

    Two classes: a vector of the positive class's probability, or two columns;
    predicted positive when it is ≥ ``threshold``. More classes: one column each,
    predicted class the most probable.
    """
    p = _array(proba, "proba").astype(np.float64)
    if p.ndim == 2 and p.shape[1] == 2:
        labels = np.arange(2) if classes is None else _array(classes, "classes")
        column = 1 if positive is None else list(labels).index(positive)
        p = p[:, column]
    if p.size == 0:
        return Metrics(0, dict.fromkeys(ESTIMATED), dict.fromkeys(ESTIMATED, "no predictions"))
    if not np.isfinite(p).all() or p.min() < 0 or p.max() > 1:
        raise InvalidInput("probabilities must lie in [0, 1]", field="proba")
    if p.ndim == 1:
        predicted = p >= threshold
        counts = [(float(p[predicted].sum()), float((1 - p[predicted]).sum()), float(p[~predicted].sum()))]
        values: dict[str, float | None] = {"accuracy": float(np.mean(np.where(predicted, p, 1 - p)))}
        aucs = [_expected_auc(p)]
        binary = True
    else:
        choice = np.argmax(p, axis=1)
        values = {"accuracy": float(np.mean(p[np.arange(p.shape[0]), choice]))}
        counts = []
        for k in range(p.shape[1]):
            mine = choice == k
            counts.append((float(p[mine, k].sum()), float((1 - p[mine, k]).sum()), float(p[~mine, k].sum())))
        aucs = [_expected_auc(p[:, k]) for k in range(p.shape[1])]
        binary = False
    reasons = {}
    for name, value, why in _prf(counts, binary):
        values[name] = value
        if value is None:
            reasons[name] = why.replace("labels", "expected labels")
    defined = [a for a in aucs if a is not None]
    values["roc_auc"] = float(np.mean(defined)) if defined else None
    if not defined:
        reasons["roc_auc"] = "every probability is 0 or 1 for one class"
    return Metrics(int(p.shape[0]), values, reasons, "binary" if binary else "macro")


def _expected_auc(p: np.ndarray) -> float | None:
    """The area under the expected ROC curve: each row counts p as a positive, 1 - p as a negative."""
    order = np.argsort(-p, kind="mergesort")
    ordered = p[order]
    # Thresholds between distinct scores only: tied scores move together.
    last = np.append(np.flatnonzero(ordered[1:] != ordered[:-1]), ordered.size - 1)
    tp = np.concatenate(([0.0], np.cumsum(ordered)[last]))
    fp = np.concatenate(([0.0], np.cumsum(1 - ordered)[last]))
    if tp[-1] == 0 or fp[-1] == 0:
        return None
    tpr, fpr = tp / tp[-1], fp / fp[-1]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
