"""``shipyard ci compare``: a candidate and a baseline scored on the same rows, with intervals.

Both models predict every row of one dataset version once. The metric comes from
:mod:`shipyard.monitoring` (``classification_metrics``, ``regression_metrics``), so
it is the number monitoring reports. Its uncertainty comes from a **paired
bootstrap over rows**: each of ``resamples`` resamples draws ``rows`` row indices
with replacement (``numpy.random.default_rng(seed)``, so a rerun gives the same
figures) and scores *both* models on those same rows. The intervals are the
percentile intervals of the resampled scores; the difference's interval is taken
from the per-resample differences, which keeps the pairing: rows both models find
hard move both scores together and cancel out of the difference.

The verdict: **better** or **worse** when the difference's interval excludes 0 (in
the direction the metric improves), else **no significant difference**. ``p_value``
is the two-sided bootstrap p-value, ``2 × min(P(d ≤ 0), P(d ≥ 0))``. A resample on
which the metric is undefined for either model (one class only, for ROC-AUC) is
left out and counted in ``skipped``.

>>> result = compare_models(client, "models:/churn/4", "models:/churn@production", "ds:churn@3")  # doctest: +SKIP
>>> result.verdict, result.difference.low > 0                                                      # doctest: +SKIP
('better', True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from shipyard.delivery._markdown import table
from shipyard.errors import InvalidInput

if TYPE_CHECKING:
    from shipyard.client import Client
    from shipyard.models import Model

__all__ = ["Interval", "ModelComparison", "compare_models"]

CLASSIFICATION = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
REGRESSION = ("mae", "rmse", "r2")
LOWER_IS_BETTER = frozenset({"log_loss", "mae", "rmse"})
_NEEDS_PROBA = frozenset({"roc_auc", "log_loss"})
Verdict = Literal["better", "worse", "no significant difference"]
_MARKS = {"better": "✅ **the candidate is better**", "worse": "❌ **the candidate is worse**",
          "no significant difference": "➖ **no significant difference**"}


@dataclass(frozen=True)
class Interval:
    """A score on all rows (``value``) and its bootstrap interval ``[low, high]``."""

    value: float
    low: float
    high: float


@dataclass(frozen=True)
class ModelComparison:
    """What :func:`compare_models` found; :meth:`to_markdown` is the pull-request comment."""

    candidate_uri: str
    baseline_uri: str
    dataset: str
    target: str
    metric: str
    rows: int
    candidate: Interval
    baseline: Interval
    difference: Interval  # candidate − baseline
    p_value: float
    verdict: Verdict
    resamples: int
    skipped: int
    confidence: float
    seed: int

    @property
    def higher_is_better(self) -> bool:
        return self.metric not in LOWER_IS_BETTER

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "higher_is_better": self.higher_is_better}

    def to_markdown(self) -> str:
        level = f"{self.confidence:.0%}"
        m = self.metric

        def span(i: Interval, sign: str = "") -> str:
            return f"{i.low:{sign}.4f} – {i.high:{sign}.4f}"

        rows = [[f"candidate `{self.candidate_uri}`", f"{self.candidate.value:.4f}", span(self.candidate)],
                [f"baseline `{self.baseline_uri}`", f"{self.baseline.value:.4f}", span(self.baseline)],
                ["difference (candidate − baseline)", f"{self.difference.value:+.4f}", span(self.difference, "+")]]
        direction = "higher" if self.higher_is_better else "lower"
        kept = self.resamples - self.skipped
        # No resample crossed zero: the p-value is below what this many resamples can resolve.
        p = f"p = {self.p_value:.4g}" if self.p_value > 0 else f"p < {1 / kept:.2g}"
        return "\n".join([
            f"### Shipyard comparison on `{self.dataset}` ({self.rows:,} rows, target `{self.target}`)", "",
            f"{_MARKS[self.verdict]} on {m}", "",
            table(["model", m, f"{level} interval"], rows), "",
            f"Paired bootstrap over rows: {kept} resamples (seed {self.seed}), percentile intervals; "
            f"two-sided {p}. {direction.capitalize()} {m} is better.",
        ]) + "\n"


def compare_models(client: Client, candidate: str, baseline: str, data: str, *, metric: str | None = None,
                   target: str | None = None, resamples: int = 1000, confidence: float = 0.95,
                   seed: int = 0) -> ModelComparison:
    """Score ``candidate`` and ``baseline`` (model URIs) on dataset version ``data``
    (``ds:name@3``) and compare them (see the module docstring).

    ``target`` defaults to the one column of the dataset that neither model takes as
    input; ``metric`` to ``accuracy`` (a label target) or ``rmse`` (a numeric one).
    """
    if resamples < 100:
        raise InvalidInput(f"resamples must be at least 100 for a stable interval, got {resamples}",
                           field="resamples")
    if not 0.5 <= confidence < 1:
        raise InvalidInput(f"confidence must be in [0.5, 1), got {confidence}", field="confidence")
    handle = client.datasets.get_dataset(data)
    models = {uri: client.registry.load_model(uri) for uri in dict.fromkeys((candidate, baseline))}
    frame = handle.to_pandas()
    target = _target(frame, target, list(models.values()), handle.uri)
    frame = frame[frame[target].notna()]
    if len(frame) < 2:
        raise InvalidInput(f"{handle.uri} has {len(frame)} labelled rows in {target!r}; need at least 2",
                           field="data")
    metric = metric or ("rmse" if _numeric_target(frame[target]) else "accuracy")
    if metric not in CLASSIFICATION + REGRESSION:
        raise InvalidInput(f"unknown metric {metric!r}; choose one of {', '.join(CLASSIFICATION + REGRESSION)}",
                           field="metric")
    truth = frame[target].to_numpy()
    outputs = [_outputs(models[uri], uri, frame, target, metric) for uri in (candidate, baseline)]
    score = _scorer(metric, truth, outputs)
    points = score(np.arange(truth.size))
    if points is None:
        raise InvalidInput(f"{metric} is undefined on {handle.uri} (for example a single class for roc_auc); "
                           "choose another --metric", field="metric")
    draws = _bootstrap(score, truth.size, resamples, seed)
    return _summarise(candidate, baseline, handle.uri, target, metric, truth.size, points, draws, resamples,
                      confidence, seed)


def _target(frame: pd.DataFrame, target: str | None, models: list[Model], uri: str) -> str:
    columns = [str(c) for c in frame.columns]
    if target is not None:
        if target not in columns:
            raise InvalidInput(f"{uri} has no column {target!r} to score against (its columns: "
                               f"{', '.join(columns)}); pass --target with one of them", field="target")
        return target
    if any(m.signature is None for m in models):
        raise InvalidInput("a model has no signature, so its inputs are unknown: pass --target COLUMN",
                           field="target")
    inputs = {name for m in models for name in (m.signature.names if m.signature else [])}
    left = [c for c in columns if c not in inputs]
    if len(left) != 1:
        found = f"columns {left} are not model inputs" if left else "every column is a model input"
        raise InvalidInput(f"cannot tell the target column of {uri}: {found}; pass --target COLUMN", field="target")
    return left[0]


def _numeric_target(values: pd.Series) -> bool:
    """A float target with non-integer values is a regression target; anything else holds labels."""
    return bool(values.dtype.kind == "f" and not np.all(np.mod(values.to_numpy(), 1) == 0))


def _outputs(model: Model, uri: str, frame: pd.DataFrame, target: str, metric: str) -> tuple[np.ndarray, Any]:
    """The model's predictions (and probabilities, for a metric that needs them) on every row."""
    names = model.signature.names if model.signature is not None else [c for c in frame.columns if c != target]
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise InvalidInput(f"{uri} needs columns {missing} that the dataset does not have", field="data")
    features = frame[names]
    predicted = np.asarray(model.predict(features))
    if predicted.ndim == 2 and predicted.shape[1] == 1:
        predicted = predicted[:, 0]
    proba = None
    if metric in _NEEDS_PROBA:
        if not model.has_predict_proba:
            raise InvalidInput(f"{metric} needs probabilities and {uri} has no predict_proba; choose another "
                               "--metric", field="metric")
        proba = np.asarray(model.predict_proba(features), dtype=np.float64)
    return predicted, proba


Scorer = Callable[[np.ndarray], "tuple[float, float] | None"]


def _scorer(metric: str, truth: np.ndarray, outputs: list[tuple[np.ndarray, Any]]) -> Scorer:
    """``score(rows) -> (candidate, baseline)`` on those row indices; None when undefined for either."""
    from shipyard.monitoring import classification_metrics, regression_metrics

    if metric in REGRESSION:
        y = truth.astype(np.float64)

        def one(rows: np.ndarray, predicted: np.ndarray, proba: Any) -> float | None:
            return regression_metrics(y[rows], predicted[rows].astype(np.float64))[metric]
    else:
        classes = np.unique(np.concatenate([truth, *(p for p, _ in outputs)]))  # every resample: same columns

        def one(rows: np.ndarray, predicted: np.ndarray, proba: Any) -> float | None:
            return classification_metrics(truth[rows], predicted[rows], None if proba is None else proba[rows],
                                          classes=classes)[metric]

    def score(rows: np.ndarray) -> tuple[float, float] | None:
        a, b = (one(rows, predicted, proba) for predicted, proba in outputs)
        return None if a is None or b is None else (float(a), float(b))

    return score


def _bootstrap(score: Scorer, n: int, resamples: int, seed: int) -> np.ndarray:
    """``(kept, 2)`` resampled scores of both models, each pair on the same rows."""
    rng = np.random.default_rng(seed)
    draws = [score(rng.integers(0, n, n)) for _ in range(resamples)]
    kept = [d for d in draws if d is not None]
    if len(kept) < resamples // 2:
        raise InvalidInput(f"the metric was undefined on {resamples - len(kept)} of {resamples} resamples; "
                           "choose another --metric or a larger dataset", field="metric")
    return np.asarray(kept, dtype=np.float64)


def _summarise(candidate: str, baseline: str, dataset: str, target: str, metric: str, rows: int,
               points: tuple[float, float], draws: np.ndarray, resamples: int, confidence: float,
               seed: int) -> ModelComparison:
    tail = (1 - confidence) / 2 * 100

    def interval(value: float, sample: np.ndarray) -> Interval:
        low, high = np.percentile(sample, [tail, 100 - tail])
        return Interval(float(value), float(low), float(high))

    diff = draws[:, 0] - draws[:, 1]
    difference = interval(points[0] - points[1], diff)
    p_value = float(min(1.0, 2 * min(np.mean(diff <= 0), np.mean(diff >= 0))))
    gain = 1 if metric not in LOWER_IS_BETTER else -1
    verdict: Verdict = "no significant difference"
    if difference.low > 0 or difference.high < 0:
        verdict = "better" if (difference.low > 0) == (gain > 0) else "worse"
    return ModelComparison(candidate, baseline, dataset, target, metric, rows, interval(points[0], draws[:, 0]),
                           interval(points[1], draws[:, 1]), difference, p_value, verdict, resamples,
                           resamples - len(draws), confidence, seed)
