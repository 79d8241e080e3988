"""The guards of a policy: how often it may retrain, and for how long.

A *retrain* is a run that got past ``triggered`` (its evidence holds ``retrain``, with
the time it began). :func:`check_guards` decides whether another may begin now:

* ``cooldown`` — at least ``cooldown_s`` since the last retrain began;
* ``max_retrains_per_day`` — fewer than that many began in the last 24 hours.

:func:`over_budget` says whether a retrain has trained for longer than
``training_budget_s``. Approval (``require_approval``) is a state of the run, not a guard
here: the controller sends a gated run to ``awaiting_approval``.

>>> from shipyard.automation import Guards
>>> check_guards(Guards(cooldown_s=3600), [], now_ms=0).allowed
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shipyard.automation._entities import AutomationRun
from shipyard.automation._policy import Guards

__all__ = ["DAY_MS", "GuardDecision", "check_guards", "over_budget", "retrain_started_at"]

DAY_MS = 86_400_000


@dataclass(frozen=True)
class GuardDecision:
    """Whether a retrain may begin at ``now_ms``; if not, ``reasons`` say why and
    ``next_allowed_at`` (ms) when the guards would next allow one."""

    allowed: bool
    now_ms: int
    reasons: tuple[str, ...] = ()
    next_allowed_at: int | None = None
    last_retrain_at: int | None = None
    retrains_last_day: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"allowed": self.allowed, "reasons": list(self.reasons), "next_allowed_at": self.next_allowed_at,
                "last_retrain_at": self.last_retrain_at, "retrains_last_day": self.retrains_last_day}


def retrain_started_at(run: AutomationRun) -> int | None:
    """When ``run``'s retrain began (ms), or None if it never got past ``triggered``."""
    retrain = run.evidence.get("retrain")
    if isinstance(retrain, dict) and isinstance(retrain.get("started_at"), int):
        return int(retrain["started_at"])
    return None


def check_guards(guards: Guards, runs: Sequence[AutomationRun], now_ms: int, *,
                 exclude: str | None = None) -> GuardDecision:
    """May a retrain begin at ``now_ms``, given the policy's earlier ``runs`` (any order;
    the run ``exclude`` is left out: the one asking)?"""
    starts = sorted(t for r in runs if r.id != exclude and (t := retrain_started_at(r)) is not None)
    last = starts[-1] if starts else None
    recent = [t for t in starts if now_ms - t < DAY_MS]
    reasons, waits = [], []
    if last is not None and now_ms - last < guards.cooldown_s * 1000:
        until = last + guards.cooldown_s * 1000
        reasons.append(f"cooldown: the last retrain began {(now_ms - last) / 1000:.0f} s ago, "
                       f"{guards.cooldown_s} s must pass")
        waits.append(until)
    if len(recent) >= guards.max_retrains_per_day:
        # The oldest retrain of the last day must leave the 24-hour window.
        until = recent[len(recent) - guards.max_retrains_per_day] + DAY_MS
        reasons.append(f"max_retrains_per_day: {len(recent)} retrains in the last 24 h, "
                       f"at most {guards.max_retrains_per_day}")
        waits.append(until)
    return GuardDecision(not reasons, now_ms, tuple(reasons), max(waits) if waits else None, last, len(recent))


def over_budget(guards: Guards, started_at_ms: int, now_ms: int) -> bool:
    """Whether a retrain that began at ``started_at_ms`` has trained past ``training_budget_s``."""
    return now_ms - started_at_ms > guards.training_budget_s * 1000
