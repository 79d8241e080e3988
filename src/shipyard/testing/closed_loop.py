"""A closed loop for continuous training: a drifting stream, traffic against a real server, regret.

The pieces a test or a benchmark needs to prove that a model which goes stale is
retrained and rolled out without a person, and to measure what it cost:

* :class:`DriftingStream` — a seeded stream of labelled events with simulated event
  times, whose relation between features and label changes at ``drift_at`` (concept
  drift) while the inputs named in ``shifted`` move (covariate shift);
* :func:`train_model` — the one way every party trains (the retraining pipeline in
  :mod:`shipyard.testing.closed_loop_pipeline`, the reference models, the offline
  replays), so their accuracies compare like with like;
* :class:`~shipyard.testing.closed_loop_traffic.TrafficDriver` (in its own module) — sends
  the stream's events to a real ``shipyard serve`` and posts their labels late;
* :func:`accuracy_curve`, :func:`regret` and :func:`replay_retraining` — accuracy over
  simulated time, the area between the served accuracy and the better of two regime
  models, and the same stream replayed offline under a fixed retraining schedule;
* :mod:`shipyard.testing.closed_loop_world` — the home, the policy and the real processes
  (``shipyard serve``, ``scheduler``, ``automation run``) a scenario runs.

>>> stream = DriftingStream(n=1_000, seed=1)
>>> frame = stream.frame()
>>> list(frame.columns) == [*FEATURES, "label", "event_time", "regime"]
True
>>> int(frame["regime"].iloc[0]), int(frame["regime"].iloc[-1])
(1, 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput

__all__ = [
    "FEATURES",
    "DriftingStream",
    "accuracy_curve",
    "regret",
    "replay_retraining",
    "sample",
    "train_model",
]

#: The stream's input columns.
FEATURES = ("x0", "x1", "x2", "x3")

# The label is 1 where w . x + noise > 0. Regime 2 turns the boundary by 90 degrees in the
# (x0, x1, x3) space, so a regime-1 model is right about half the time there: a drop no
# monitor can miss, and one that no amount of regime-1 data repairs.
_WEIGHTS = {1: np.array([1.5, 1.0, -1.0, 0.0]), 2: np.array([-1.0, 1.0, 0.0, 1.5])}
_NOISE = 0.35  # sd of the noise on the score: both regimes' best accuracy is about 0.9
_DAY = 86_400.0


@dataclass(frozen=True)
class DriftingStream:
    """``n`` events over ``days`` simulated days from ``start`` (unix seconds), drifting at ``drift_at``.

    Events are evenly spaced in simulated time. Before ``drift_at`` (a share of the
    stream) labels follow regime 1; from it on, regime 2, and each input in ``shifted``
    moves by ``shift`` standard deviations. The same ``seed`` gives the same stream.
    """

    n: int
    seed: int = 0
    days: float = 2.0
    drift_at: float = 0.5
    shifted: tuple[str, ...] = ("x0",)
    shift: float = 1.0
    start: float = 1_767_225_600.0  # 2026-01-01T00:00:00Z

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 2:
            raise InvalidInput(f"n must be an integer >= 2, got {self.n!r}", field="n")
        if not 0 < self.drift_at < 1:
            raise InvalidInput(f"drift_at must be between 0 and 1, got {self.drift_at!r}", field="drift_at")
        if not self.days > 0:
            raise InvalidInput(f"days must be positive, got {self.days!r}", field="days")
        unknown = set(self.shifted) - set(FEATURES)
        if unknown:
            raise InvalidInput(f"shifted names unknown inputs {sorted(unknown)}; the inputs are {list(FEATURES)}",
                               field="shifted")

    @property
    def drift_index(self) -> int:
        """The index of the first regime-2 event."""
        return int(self.n * self.drift_at)

    @property
    def drift_time(self) -> float:
        """The simulated time (unix seconds) of the first regime-2 event."""
        return float(self.event_times()[self.drift_index])

    @property
    def seconds_per_event(self) -> float:
        return self.days * _DAY / self.n

    def event_times(self) -> np.ndarray:
        return self.start + np.arange(self.n) * self.seconds_per_event

    def frame(self) -> pd.DataFrame:
        """Every event: the inputs, ``label`` (0/1), ``event_time`` and ``regime`` (1 or 2)."""
        regime = np.where(np.arange(self.n) < self.drift_index, 1, 2)
        out = sample(self.n, regime, seed=self.seed, shifted=self.shifted, shift=self.shift)
        out["event_time"] = self.event_times()
        out["regime"] = regime
        return out

    def regime_sample(self, regime: int, n: int, seed: int) -> pd.DataFrame:
        """``n`` fresh events of one regime (inputs shifted as that regime's are), for reference models."""
        return sample(n, np.full(n, regime), seed=seed, shifted=self.shifted, shift=self.shift)


def sample(n: int, regime: np.ndarray, *, seed: int, shifted: Sequence[str] = ("x0",),
           shift: float = 1.0) -> pd.DataFrame:
    """``n`` labelled rows, row ``i`` drawn from regime ``regime[i]`` (see :class:`DriftingStream`)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(FEATURES)))
    late = regime == 2
    for name in shifted:
        x[late, FEATURES.index(name)] += shift
    weights = np.where(late[:, None], _WEIGHTS[2], _WEIGHTS[1])
    # Centre the shifted inputs in the score, so both regimes keep about half positive labels.
    centre = np.where(late[:, None], [shift if f in shifted else 0.0 for f in FEATURES], 0.0)
    score = ((x - centre) * weights).sum(axis=1) + rng.normal(scale=_NOISE * 2, size=n)
    out = pd.DataFrame(x, columns=list(FEATURES))
    out["label"] = (score > 0).astype(np.int64)
    return out


def train_model(frame: pd.DataFrame, *, seed: int = 0, flip_labels: bool = False) -> Any:
    """A scikit-learn classifier fitted on ``frame``'s inputs and ``label``.

    ``flip_labels`` trains on inverted labels: a deliberately broken retrain whose model
    is worse than any champion, for proving that a bad challenger never wins.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    missing = [c for c in (*FEATURES, "label") if c not in frame.columns]
    if missing or frame.empty:
        raise InvalidInput(f"training data needs rows with columns {[*FEATURES, 'label']}; missing {missing}",
                           field="frame")
    y = frame["label"].astype(np.int64).to_numpy()
    if flip_labels:
        y = 1 - y
    return make_pipeline(StandardScaler(), LogisticRegression(random_state=seed)).fit(frame[list(FEATURES)], y)


# -- accuracy over time and regret ---------------------------------------------------------------


def accuracy_curve(times: np.ndarray, correct: np.ndarray, bucket_s: float,
                   start: float | None = None) -> pd.DataFrame:
    """Accuracy per bucket of ``bucket_s`` simulated seconds: ``bucket_start``, ``accuracy``, ``n``.

    ``correct`` holds 1 (right), 0 (wrong) or NaN (no answer: a failed request), which
    counts in no bucket. Buckets with no answered event are left out.
    """
    times, correct = np.asarray(times, float), np.asarray(correct, float)
    origin = float(times.min()) if start is None else start
    bucket = np.floor((times - origin) / bucket_s).astype(np.int64)
    ok = ~np.isnan(correct)
    frame = pd.DataFrame({"bucket": bucket[ok], "correct": correct[ok]})
    grouped = frame.groupby("bucket")["correct"].agg(["mean", "size"])
    return pd.DataFrame({"bucket_start": origin + grouped.index.to_numpy() * bucket_s,
                         "accuracy": grouped["mean"].to_numpy(), "n": grouped["size"].to_numpy()})


def regret(times: np.ndarray, served: np.ndarray, references: Sequence[np.ndarray], bucket_s: float) -> float:
    """Accuracy regret in accuracy-days: the area by which the served accuracy lies below the best
    of the ``references`` (per-event correctness of each regime's model), bucket by bucket.

    Per bucket of ``bucket_s`` simulated seconds: ``max(0, max_r acc_r - acc_served)``
    times the bucket's length in days, summed. A bucket where the served model beats
    every reference adds nothing (the area is one-sided, so luck never pays off loss).
    """
    served_curve = accuracy_curve(times, served, bucket_s)
    best = None
    for ref in references:
        curve = accuracy_curve(times, ref, bucket_s).set_index("bucket_start")["accuracy"]
        best = curve if best is None else np.maximum(best, curve.reindex(best.index))
    if best is None:
        raise InvalidInput("regret needs at least one reference", field="references")
    gap = best.reindex(served_curve["bucket_start"]).to_numpy() - served_curve["accuracy"].to_numpy()
    return float(np.nansum(np.clip(gap, 0.0, None)) * bucket_s / _DAY)


def replay_retraining(frame: pd.DataFrame, champion: Any, *, every_s: float | None, window_s: float,
                      label_delay_s: float, min_rows: int = 50) -> np.ndarray:
    """Per-event correctness (0/1) of a strategy replayed offline on ``frame`` (a stream's frame).

    ``champion`` answers until the first retrain; every ``every_s`` simulated seconds
    (None: never) a model is trained on the events of the last ``window_s`` seconds whose
    labels have arrived (``label_delay_s`` after the event), and answers from then on.
    """
    times = frame["event_time"].to_numpy(float)
    x, y = frame[list(FEATURES)], frame["label"].to_numpy()
    predictions = np.empty(len(frame), dtype=np.int64)
    boundaries = [times[0]] if every_s is None else list(np.arange(times[0], times[-1] + every_s, every_s))
    model = champion
    for i, begin in enumerate(boundaries):
        if i > 0:
            known = (times <= begin - label_delay_s) & (times > begin - label_delay_s - window_s)
            if known.sum() >= min_rows:
                model = train_model(frame[known])
        end = boundaries[i + 1] if i + 1 < len(boundaries) else np.inf
        part = (times >= begin) & (times < end)
        if part.any():
            predictions[part] = model.predict(x[part])
    return (predictions == y).astype(np.int64)
