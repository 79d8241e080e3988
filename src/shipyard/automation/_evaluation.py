"""Champion against challenger, scored on the same rows, decided by a paired test.

Both models answer the same evaluation rows (the holdout dataset and the recent labelled
window); :func:`compare` then decides, by the policy's ``evaluation.test``:

* ``paired_bootstrap`` — rows are resampled (``bootstrap_samples`` times, seeded) and both
  models are scored on each resample; the challenger wins when the one-sided lower
  confidence bound of its gain on the first metric (the ``alpha`` quantile of the
  resampled gains) is above ``min_improvement``;
* ``mcnemar`` — (classifiers) the rows one model gets right and the other wrong; the
  challenger wins when the exact one-sided McNemar p-value is below ``alpha`` and its
  accuracy gain is at least ``min_improvement``.

Gains follow ``evaluation.higher_is_better`` (set it false for ``rmse``, ``mae``,
``log_loss``). A single number never decides. The evidence is a table: each metric for
both models, the gain and its two-sided ``1 - alpha`` bootstrap interval.

>>> import numpy as np
>>> from shipyard.automation import Evaluation
>>> y = np.array([0, 1] * 100)
>>> result = compare(Evaluation(("accuracy",), bootstrap_samples=200), y,
...                  Scored(np.zeros(200, int)), Scored(y.copy()), seed=1)
>>> result.passed, result.table[0]["challenger"]
(True, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shipyard.automation._policy import Evaluation
from shipyard.errors import InvalidInput

__all__ = ["METRICS", "EvaluationResult", "Scored", "compare", "score_model"]

Metric = Callable[[np.ndarray, np.ndarray, np.ndarray | None], float]


def _accuracy(y: np.ndarray, pred: np.ndarray, score: np.ndarray | None) -> float:
    return float(np.mean(y == pred))


def _sk(name: str, **kwargs: Any) -> Metric:
    def metric(y: np.ndarray, pred: np.ndarray, score: np.ndarray | None) -> float:
        import sklearn.metrics as m

        if name in ("roc_auc_score", "log_loss"):
            if score is None:
                raise InvalidInput(f"metric {name} needs predict_proba, the model has none", field="metrics")
            if len(np.unique(y)) < 2:
                return math.nan
            return float(getattr(m, name)(y, score, **kwargs))
        return float(getattr(m, name)(y, pred, **kwargs))

    return metric


def _rmse(y: np.ndarray, pred: np.ndarray, score: np.ndarray | None) -> float:
    return float(np.sqrt(np.mean((y.astype(float) - pred.astype(float)) ** 2)))


def _mae(y: np.ndarray, pred: np.ndarray, score: np.ndarray | None) -> float:
    return float(np.mean(np.abs(y.astype(float) - pred.astype(float))))


#: Metric name -> (function of labels, predictions, scores; whether it needs scores).
METRICS: dict[str, tuple[Metric, bool]] = {
    "accuracy": (_accuracy, False),
    "auc": (_sk("roc_auc_score"), True),
    "roc_auc": (_sk("roc_auc_score"), True),
    "f1": (_sk("f1_score", zero_division=0), False),
    "precision": (_sk("precision_score", zero_division=0), False),
    "recall": (_sk("recall_score", zero_division=0), False),
    "log_loss": (_sk("log_loss"), True),
    "rmse": (_rmse, False),
    "mae": (_mae, False),
    "r2": (_sk("r2_score"), False),
}


@dataclass(frozen=True)
class Scored:
    """One model's answers on the evaluation rows: ``pred`` (labels or values) and, for
    classifiers with ``predict_proba``, ``score`` (the positive class's probability)."""

    pred: np.ndarray
    score: np.ndarray | None = None


@dataclass(frozen=True)
class EvaluationResult:
    """The decision (``passed``, ``reason``), the metric ``table`` and the ``test``'s numbers."""

    passed: bool
    reason: str
    table: list[dict[str, Any]]
    test: dict[str, Any] = field(default_factory=dict)
    rows: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "reason": self.reason, "rows": self.rows, "test": self.test,
                "metrics": self.table}


def check_metrics(metrics: Sequence[str]) -> None:
    """``InvalidInput`` naming ``evaluation.metrics`` for a metric not in :data:`METRICS`."""
    for name in metrics:
        if name not in METRICS:
            raise InvalidInput(f"evaluation.metrics: unknown metric {name!r} (known: {', '.join(METRICS)})",
                               field="evaluation.metrics")


def score_model(model: Any, frame: pd.DataFrame, features: Sequence[str], metrics: Sequence[str]) -> Scored:
    """``model`` (a loaded :class:`~shipyard.models.Model`) on ``frame[features]``."""
    data = frame[list(features)]
    pred = np.asarray(model.predict(data))
    score = None
    if any(METRICS[m][1] for m in metrics) and getattr(model, "has_predict_proba", False):
        proba = np.asarray(model.predict_proba(data))
        score = proba[:, -1] if proba.ndim == 2 else proba
    return Scored(pred.reshape(len(frame), -1)[:, 0] if pred.ndim > 1 else pred, score)


def _value(metric: str, y: np.ndarray, s: Scored, idx: np.ndarray | None = None) -> float:
    fn, _ = METRICS[metric]
    if idx is None:
        return fn(y, s.pred, s.score)
    return fn(y[idx], s.pred[idx], None if s.score is None else s.score[idx])


def _resampled(metric: str, y: np.ndarray, a: Scored, b: Scored, samples: int,
               seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Each model's ``metric`` on ``samples`` resamples of the rows (the same resamples for both),
    drawn in chunks so memory stays near a few million indices whatever the row count."""
    rng = np.random.default_rng(seed)
    n = len(y)
    chunk = max(1, 2_000_000 // n)
    out_a, out_b = np.empty(samples), np.empty(samples)
    right_a, right_b = (a.pred == y).astype(float), (b.pred == y).astype(float)
    for start in range(0, samples, chunk):
        draws = rng.integers(0, n, size=(min(chunk, samples - start), n))
        if metric == "accuracy":  # per-row: one vectorised mean
            out_a[start:start + len(draws)] = right_a[draws].mean(axis=1)
            out_b[start:start + len(draws)] = right_b[draws].mean(axis=1)
            continue
        for j, idx in enumerate(draws):
            out_a[start + j], out_b[start + j] = _value(metric, y, a, idx), _value(metric, y, b, idx)
    return out_a, out_b


def compare(evaluation: Evaluation, y: np.ndarray, champion: Scored | None, challenger: Scored, *,
            seed: int) -> EvaluationResult:
    """Decide whether ``challenger`` beats ``champion`` on labels ``y`` (see the module docstring).
    With no champion the challenger is the first model: it passes, on its own numbers."""
    check_metrics(evaluation.metrics)
    y = np.asarray(y)
    n = len(y)
    if n == 0:
        return EvaluationResult(False, "no evaluation rows", [], rows=0)
    table: list[dict[str, Any]] = []
    if champion is None:
        table = [{"metric": m, "champion": None, "challenger": _finite(_value(m, y, challenger))}
                 for m in evaluation.metrics]
        return EvaluationResult(True, "no champion: the challenger is the first model", table, rows=n)
    sign = 1.0 if evaluation.higher_is_better else -1.0
    gains_first = np.array([])
    for i, metric in enumerate(evaluation.metrics):
        old, new = _value(metric, y, champion), _value(metric, y, challenger)
        res_old, res_new = _resampled(metric, y, champion, challenger, evaluation.bootstrap_samples, seed)
        diffs = res_new - res_old
        diffs = diffs[np.isfinite(diffs)]
        low, high = (np.quantile(diffs, [evaluation.alpha / 2, 1 - evaluation.alpha / 2]) if len(diffs)
                     else (math.nan, math.nan))
        table.append({"metric": metric, "champion": _finite(old), "challenger": _finite(new),
                      "difference": _finite(new - old), "interval": [_finite(low), _finite(high)],
                      "level": 1 - evaluation.alpha})
        if i == 0:
            gains_first = sign * diffs
    first = evaluation.metrics[0]
    if evaluation.test == "mcnemar":
        return _mcnemar(evaluation, y, champion, challenger, table)
    if not len(gains_first):
        return EvaluationResult(False, f"{first} could not be computed on the resamples", table,
                                {"name": "paired_bootstrap", "samples": evaluation.bootstrap_samples, "seed": seed},
                                rows=n)
    lower = float(np.quantile(gains_first, evaluation.alpha))
    passed = lower > evaluation.min_improvement
    test = {"name": "paired_bootstrap", "samples": evaluation.bootstrap_samples, "seed": seed,
            "metric": first, "gain_lower_bound": lower, "confidence": 1 - evaluation.alpha,
            "min_improvement": evaluation.min_improvement}
    verdict = "beats" if passed else "does not beat"
    reason = (f"challenger {verdict} champion on {first}: gain lower bound {lower:+.4g} at "
              f"{1 - evaluation.alpha:.0%} confidence, min_improvement {evaluation.min_improvement:g}")
    return EvaluationResult(passed, reason, table, test, rows=n)


def _mcnemar(evaluation: Evaluation, y: np.ndarray, champion: Scored, challenger: Scored,
             table: list[dict[str, Any]]) -> EvaluationResult:
    from scipy.stats import binomtest

    right_old, right_new = champion.pred == y, challenger.pred == y
    only_new = int(np.sum(right_new & ~right_old))  # the challenger fixed these
    only_old = int(np.sum(right_old & ~right_new))  # the challenger broke these
    discordant = only_new + only_old
    p = 1.0 if discordant == 0 else float(binomtest(only_new, discordant, 0.5, alternative="greater").pvalue)
    gain = float(np.mean(right_new) - np.mean(right_old))
    passed = p < evaluation.alpha and gain >= evaluation.min_improvement and gain > 0
    test = {"name": "mcnemar", "challenger_only_right": only_new, "champion_only_right": only_old,
            "p_value": p, "alpha": evaluation.alpha, "accuracy_gain": gain,
            "min_improvement": evaluation.min_improvement}
    verdict = "beats" if passed else "does not beat"
    reason = (f"challenger {verdict} champion (McNemar: {only_new} rows fixed, {only_old} broken, "
              f"p = {p:.3g}, alpha {evaluation.alpha:g}; accuracy gain {gain:+.4g}, "
              f"min_improvement {evaluation.min_improvement:g})")
    return EvaluationResult(passed, reason, table, test, rows=len(y))


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None
