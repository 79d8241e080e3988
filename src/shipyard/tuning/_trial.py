"""One trial: the :class:`Trial` an objective receives, and running the objective on it.

The objective is a plain function of a :class:`Trial` returning a number::

    def objective(trial):
        model = Ridge(alpha=trial["alpha"])
        for epoch in range(10):
            ...
            trial.report(score, step=epoch)   # may end the trial: the pruner decides
        return score

:func:`run_objective` runs it and says how it ended (:class:`Outcome`): COMPLETE
with its value, PRUNED (``report`` raised :class:`TrialPruned`, or the objective
did), or FAIL with the error. It runs wherever the trial runs (this process, or a
Ray worker), so an outcome is plain data.
"""

from __future__ import annotations

import math
import socket
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shipyard.errors import InvalidInput
from shipyard.tuning._storage import import_optuna

__all__ = ["COMPLETE", "FAIL", "PRUNED", "Outcome", "Trial", "TrialPruned", "run_objective"]

COMPLETE, PRUNED, FAIL = "COMPLETE", "PRUNED", "FAIL"


class TrialPruned(Exception):  # noqa: N818 (Optuna's name for the same signal)
    """Raised by :meth:`Trial.report` when the pruner stops the trial. An objective may raise it
    itself (or Optuna's ``TrialPruned``) to end the trial as pruned."""


class Trial:
    """What the objective is given: the sampled ``params`` and a way to report progress.

    ``trial["lr"]`` is ``trial.params["lr"]``. ``number`` counts the study's trials
    from 0; ``run_id`` is the id the trial's run will have (to tag what the objective records).
    ``report(value, step)`` records an intermediate value and raises
    :class:`TrialPruned` when the search's pruner says the trial should stop.
    """

    def __init__(self, optuna_trial: Any, params: Mapping[str, Any], run_id: str | None = None) -> None:
        self._trial = optuna_trial
        self.number: int = optuna_trial.number
        self.run_id = run_id
        self.params: dict[str, Any] = dict(params)
        self.reports: list[tuple[int, float, int]] = []  # (step, value, time in ms), in call order

    def __repr__(self) -> str:
        return f"Trial(number={self.number}, params={self.params!r})"

    def __getitem__(self, name: str) -> Any:
        return self.params[name]

    def report(self, value: float, step: int) -> None:
        """Record ``value`` at ``step`` (an integer ≥ 0); raise :class:`TrialPruned` if the pruner says so."""
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise InvalidInput(f"step must be a non-negative integer, got {step!r}", field="step")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(f"a reported value must be a number, got {value!r}", field="value")
        self._trial.report(float(value), step)
        self.reports.append((step, float(value), time.time_ns() // 1_000_000))
        if self._trial.should_prune():
            raise TrialPruned(f"trial {self.number} pruned at step {step}")

    def should_prune(self) -> bool:
        """Whether the pruner would stop the trial now (``report`` already asks)."""
        return bool(self._trial.should_prune())


@dataclass
class Outcome:
    """How one trial ended. ``error`` is ``{"type", "message", "traceback"}`` for a FAIL."""

    state: str
    value: float | None = None
    error: dict[str, str] | None = None
    reports: list[tuple[int, float, int]] = field(default_factory=list)
    start_ms: int = 0
    end_ms: int = 0
    host: str = ""


def _error(exc: BaseException) -> dict[str, str]:
    return {"type": type(exc).__name__, "message": str(exc)[:2000],
            "traceback": "".join(traceback.format_exception(exc))[-20_000:]}


def _value(result: Any) -> float:
    if isinstance(result, bool) or not isinstance(result, int | float):
        raise TypeError(f"the objective must return a number, returned {result!r}")
    value = float(result)
    if not math.isfinite(value):
        raise ValueError(f"the objective returned {value}, not a finite number")
    return value


def run_objective(objective: Callable[[Trial], Any], optuna_trial: Any, params: Mapping[str, Any],
                  run_id: str | None = None, host: str | None = None) -> Outcome:
    """Run ``objective`` on a :class:`Trial` over ``optuna_trial`` and say how it ended.

    Exceptions become a FAIL outcome; only ``KeyboardInterrupt`` and ``SystemExit``
    propagate (the search then ends, failing the trial).
    """
    optuna = import_optuna()
    trial = Trial(optuna_trial, params, run_id)
    start = time.time_ns() // 1_000_000
    outcome = Outcome(FAIL, start_ms=start, host=host or socket.gethostname())
    try:
        outcome.value = _value(objective(trial))
        outcome.state = COMPLETE
    except (TrialPruned, optuna.TrialPruned):
        outcome.state = PRUNED
        outcome.value = trial.reports[-1][1] if trial.reports else None
    except Exception as exc:
        outcome.error = _error(exc)
    outcome.reports = trial.reports
    outcome.end_ms = max(time.time_ns() // 1_000_000, start)
    return outcome
