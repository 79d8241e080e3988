"""The sequential test that ends a canary: is the challenger at least as accurate as the champion?

Each labelled answer is a success (the prediction matched the label) or not. With
``k₁/n₁`` for the champion and ``k₂/n₂`` for the challenger, the difference of
accuracies ``d = p₂ − p₁`` is estimated by ``d̂ = k₂/n₂ − k₁/n₁``. In information time
``I = 1/V`` the statistic ``d̂·I`` is close to a Brownian motion with drift ``d``, and
Wald's sequential probability ratio test of

* H0: ``d = −δ`` — the challenger is worse by ``min_effect`` (δ) — against
* H1: ``d = 0`` — it is as good —

has log-likelihood ratio ``Λ = δ·I·(d̂ + δ/2)``. The test looks as often as asked
(every check of a canary) and stops

* ``pass`` when ``Λ ≥ log(1/alpha)``: a challenger worse by δ or more passes with
  probability at most ``alpha`` (Ville's inequality: the likelihood ratio is a
  martingale under H0, so the bound holds however often one looks);
* ``fail`` when ``Λ ≤ log(1 − power)``: one as good fails with probability at most
  ``1 − power``, likewise;
* ``fail`` (inconclusive) when the challenger has ``max_samples`` labelled answers and
  neither boundary was crossed — stopping without evidence never promotes, so the
  level holds whatever the limit.

The variance is ``V = q(1−q)/n₁ + max(q(1−q), r(1−r))/n₂`` with ``q`` the champion's
accuracy and ``r = q − δ`` the challenger's under H0 — not the challenger's own
estimate: that one moves with ``d̂`` (a lucky challenger also looks less variable) and,
with fewer challenger answers than champion ones, would let type I errors exceed
``alpha``; the larger of the two hypotheses' variances keeps both error rates within
their bounds near 0 and 1. Before ``min_samples`` labelled answers on each side nothing
is decided; estimates are shrunk away from 0 and 1 (``(k+½)/(n+1)``).

>>> test = SequentialTest(alpha=0.05, power=0.8, min_effect=0.05)
>>> test.decide((850, 1000), (860, 1000)).outcome
'pass'
>>> test.decide((900, 1000), (700, 1000)).outcome
'fail'
>>> test.decide((9, 10), (9, 10)).outcome
'continue'
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from shipyard.errors import InvalidInput

__all__ = ["Decision", "SequentialTest"]


@dataclass(frozen=True)
class Decision:
    """One look of the test: ``outcome`` (``continue``, ``pass``, ``fail``), ``inconclusive`` when
    the sample limit (not a boundary) ended it, and what it saw."""

    outcome: str
    llr: float
    upper: float
    lower: float
    difference: float | None
    std_error: float | None
    champion: tuple[int, int]
    challenger: tuple[int, int]
    inconclusive: bool = False

    def to_json(self) -> dict[str, Any]:
        """JSON-able evidence: counts, accuracies, the difference with its standard error, the
        statistic and both boundaries."""
        (k1, n1), (k2, n2) = self.champion, self.challenger
        return {
            "outcome": self.outcome, "inconclusive": self.inconclusive,
            "champion": {"correct": k1, "labelled": n1, "accuracy": k1 / n1 if n1 else None},
            "challenger": {"correct": k2, "labelled": n2, "accuracy": k2 / n2 if n2 else None},
            "difference": self.difference, "std_error": self.std_error,
            "llr": _finite(self.llr), "upper": self.upper, "lower": self.lower,
        }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class SequentialTest:
    """A sequential test of "the challenger is worse by ``min_effect``" against "it is as good"
    (see the module): level ``alpha``, ``power``, at most ``max_samples`` labelled answers of
    the challenger (None: no limit), nothing decided before ``min_samples`` on each side."""

    alpha: float = 0.05
    power: float = 0.8
    min_effect: float = 0.01
    max_samples: int | None = None
    min_samples: int = 30

    def __post_init__(self) -> None:
        for name, low, high in (("alpha", 0.0, 0.5), ("power", 0.0, 1.0), ("min_effect", 0.0, 1.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not low < value < high:
                raise InvalidInput(f"{name} must be a number above {low:g} and below {high:g}, got {value!r}",
                                   field=name)
        if self.power <= self.alpha:
            raise InvalidInput(f"power must exceed alpha, got power {self.power} and alpha {self.alpha}",
                               field="power")
        for name, minimum in (("max_samples", 1), ("min_samples", 2)):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < minimum):
                raise InvalidInput(f"{name} must be an integer of at least {minimum}, got {value!r}", field=name)

    @classmethod
    def of(cls, sequential: Any, **options: Any) -> SequentialTest:
        """The test a policy's ``rollout.sequential`` describes."""
        return cls(sequential.alpha, sequential.power, sequential.min_effect, sequential.max_samples, **options)

    @property
    def upper(self) -> float:
        """At or above it the challenger passes: ``log(1/alpha)``."""
        return math.log(1 / self.alpha)

    @property
    def lower(self) -> float:
        """At or below it the challenger fails: ``log(1 − power)``."""
        return math.log(1 - self.power)

    def llr(self, champion: tuple[int, int], challenger: tuple[int, int]) -> tuple[float, float, float]:
        """``(Λ, d̂, standard error)`` for the counts ``(correct, labelled)`` of each side."""
        (k1, n1), (k2, n2) = champion, challenger
        delta = self.min_effect
        q = (k1 + 0.5) / (n1 + 1)
        r = min(max(q - delta, 0.5 / (n2 + 1)), 1 - 0.5 / (n2 + 1))
        variance = q * (1 - q) / n1 + max(q * (1 - q), r * (1 - r)) / n2
        difference = k2 / n2 - k1 / n1
        return delta / variance * (difference + delta / 2), difference, math.sqrt(variance)

    def decide(self, champion: tuple[int, int], challenger: tuple[int, int]) -> Decision:
        """The outcome of a look at the counts ``(correct, labelled)`` of champion and challenger."""
        for side, (k, n) in (("champion", champion), ("challenger", challenger)):
            if not 0 <= k <= n:
                raise InvalidInput(f"{side}: correct must be between 0 and labelled, got {k} of {n}", field=side)
        counts = (int(champion[0]), int(champion[1])), (int(challenger[0]), int(challenger[1]))
        if min(counts[0][1], counts[1][1]) < self.min_samples:
            return Decision("continue", 0.0, self.upper, self.lower, None, None, *counts)
        llr, difference, std_error = self.llr(*counts)
        outcome, inconclusive = "continue", False
        if llr >= self.upper:
            outcome = "pass"
        elif llr <= self.lower:
            outcome = "fail"
        elif self.max_samples is not None and counts[1][1] >= self.max_samples:
            outcome, inconclusive = "fail", True
        return Decision(outcome, llr, self.upper, self.lower, difference, std_error, *counts, inconclusive)

    def conclude(self, champion: tuple[int, int], challenger: tuple[int, int]) -> Decision:
        """The outcome when the canary must end now (its time or labelled-answer limit): a
        boundary crossed decides; otherwise it fails as inconclusive."""
        decision = self.decide(champion, challenger)
        if decision.outcome != "continue":
            return decision
        return Decision("fail", decision.llr, self.upper, self.lower, decision.difference, decision.std_error,
                        decision.champion, decision.challenger, inconclusive=True)
