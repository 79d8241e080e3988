"""Rolling a challenger out on live traffic: shadow, canary, promotion, rollback.

:class:`RolloutDriver` moves traffic only through the registry — the ``challenger``
alias and the model's traffic split (:class:`~shipyard.registry.TrafficSplit`), which
``shipyard serve`` follows for a model served as ``models:/NAME@production`` — and
judges the challenger only from the serving inference log (:mod:`shipyard.automation.
_served`). Every method is idempotent: a controller that crashed between a call and
recording its outcome calls it again safely.

* :meth:`~RolloutDriver.start_shadow` — alias ``challenger`` → the challenger; split
  ``{production: 100}`` with the challenger shadowing ``fraction`` of requests.
* :meth:`~RolloutDriver.check_shadow` — once ``rollout.shadow.requests`` requests were
  mirrored since the stage began, compares the challenger's shadow answers with the
  champion's on the same requests: output agreement (reported), error rate and latency
  p99. It fails when the challenger's error rate exceeds the champion's by more than
  ``rollout.sequential.min_effect``, or its p99 exceeds ``gates.max_latency_p99_ms``.
* :meth:`~RolloutDriver.start_canary` — split ``{production: 100−p, challenger: p}``.
* :meth:`~RolloutDriver.check_canary` — the same error and latency limits on each
  version's own requests, and the sequential test (:mod:`shipyard.automation._sequential`)
  on the accuracy of labelled answers; it stops early either way. When the canary's
  ``duration`` has passed or the challenger has ``labelled_requests`` labelled requests,
  it concludes: a boundary not crossed fails as inconclusive.
* :meth:`~RolloutDriver.promote` — ``@production`` → the challenger, split cleared,
  alias ``challenger`` removed (in that order, so serving never lacks a route).
* :meth:`~RolloutDriver.rollback` — split cleared, ``@production`` back on the champion,
  alias ``challenger`` removed.

A check reads the run's evidence: ``champion_version``, ``challenger_version`` and the
stage's start, ``shadow_started_at`` or ``canary_started_at`` (unix seconds).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from shipyard.automation._entities import AutomationRun
from shipyard.automation._policy import AutomationPolicy
from shipyard.automation._sequential import SequentialTest
from shipyard.automation._served import RequestStats, agreement, finite, outcomes, request_stats, rows
from shipyard.errors import ConfigError, Conflict, InvalidInput
from shipyard.monitoring._backend import MonitorStore
from shipyard.registry import RegisteredModel, TrafficSplit
from shipyard.tracking import TrackingStore

__all__ = ["CHALLENGER", "CHAMPION", "RolloutDriver", "RolloutRegistry", "StageResult"]

CHAMPION = "production"
"""The alias of the version serving traffic."""
CHALLENGER = "challenger"
"""The alias the challenger takes while it is rolled out."""

_REASON = "automation rollout"


class RolloutRegistry(Protocol):
    """What the driver asks of the registry: a :class:`~shipyard.registry.RegistryStore`, or
    the client's ``client.registry``."""

    def get_registered_model(self, name: str) -> RegisteredModel: ...

    def set_alias(self, name: str, alias: str, version: int, *, reason: str | None = None,
                  force: bool = False) -> Any: ...

    def delete_alias(self, name: str, alias: str, *, reason: str | None = None) -> None: ...

    def set_traffic(self, name: str, split: Any, *, reason: str | None = None) -> Any: ...


@dataclass(frozen=True)
class StageResult:
    """A check's verdict: ``outcome`` ``wait`` (not decided: check again next tick), ``pass`` or
    ``fail``; ``evidence`` (JSON-able) says what was seen, ``reason`` why it ended."""

    outcome: str
    evidence: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None


class RolloutDriver:
    """Shadow, canary, promotion and rollback of ``challenger`` versions (see the module).

    ``registry``: a registry store or ``client.registry``; ``monitoring``: the monitor
    store (uploaded labels); ``tracking``: the tracking store holding the inference log
    (default: the registry store's own, when it has one); ``clock``: unix seconds.
    """

    def __init__(self, registry: RolloutRegistry, monitoring: MonitorStore, *, tracking: TrackingStore | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.registry = registry
        self.monitoring = monitoring
        self.tracking = tracking if tracking is not None else getattr(registry, "tracking", None)
        self.clock = clock

    # -- traffic ---------------------------------------------------------------------------

    def _champion(self, model: str, challenger_version: int) -> tuple[RegisteredModel, int]:
        registered = self.registry.get_registered_model(model)
        champion = registered.aliases.get(CHAMPION)
        if champion is None:
            raise Conflict(f"model {model!r} has no @{CHAMPION} to roll a challenger out beside", name=model)
        if champion == int(challenger_version):
            raise Conflict(f"{model}/{challenger_version} is @{CHAMPION} already: nothing to roll out",
                           name=model, version=challenger_version)
        return registered, champion

    def _start(self, model: str, challenger_version: int, split: TrafficSplit, stage: str) -> dict[str, Any]:
        registered, champion = self._champion(model, challenger_version)
        if registered.aliases.get(CHALLENGER) != int(challenger_version):
            self.registry.set_alias(model, CHALLENGER, int(challenger_version), reason=f"{_REASON}: {stage}")
        self.registry.set_traffic(model, split.to_json(), reason=f"{_REASON}: {stage}")
        return {"champion_version": champion, "challenger_version": int(challenger_version),
                "traffic": split.to_json(), "started_at": self.clock()}

    def start_shadow(self, model: str, challenger_version: int, fraction: float) -> dict[str, Any]:
        """Alias ``challenger`` → ``challenger_version``, which shadows ``fraction`` of the
        champion's requests; the evidence of the stage's start."""
        split = TrafficSplit({CHAMPION: 100}, CHALLENGER, fraction)
        return self._start(model, challenger_version, split, "shadow")

    def start_canary(self, model: str, challenger_version: int, percent: float) -> dict[str, Any]:
        """Alias ``challenger`` → ``challenger_version``, which answers ``percent`` of requests."""
        if isinstance(percent, bool) or not isinstance(percent, int | float) or not 0 < percent <= 100:
            raise InvalidInput(f"percent must be above 0 and at most 100, got {percent!r}", field="percent")
        return self._start(model, challenger_version, TrafficSplit.canary(CHAMPION, CHALLENGER, percent), "canary")

    def promote(self, model: str, challenger_version: int) -> dict[str, Any]:
        """``@production`` → ``challenger_version``, the split cleared, alias ``challenger`` removed."""
        registered = self.registry.get_registered_model(model)
        previous = registered.aliases.get(CHAMPION)
        if previous != int(challenger_version):
            self.registry.set_alias(model, CHAMPION, int(challenger_version), reason=f"{_REASON}: promote")
        self.registry.set_traffic(model, None, reason=f"{_REASON}: promote")
        if registered.aliases.get(CHALLENGER) == int(challenger_version):
            self.registry.delete_alias(model, CHALLENGER, reason=f"{_REASON}: promote")
        return {"alias": CHAMPION, "version": int(challenger_version), "previous_version": previous,
                "promoted_at": self.clock()}

    def rollback(self, model: str, champion_version: int) -> dict[str, Any]:
        """The split cleared, ``@production`` on ``champion_version`` (forced back if it moved),
        alias ``challenger`` removed."""
        self.registry.set_traffic(model, None, reason=f"{_REASON}: rollback")
        registered = self.registry.get_registered_model(model)
        if registered.aliases.get(CHAMPION) != int(champion_version):
            # The champion served before: restoring it is not a promotion to be gated again.
            self.registry.set_alias(model, CHAMPION, int(champion_version), reason=f"{_REASON}: rollback",
                                    force=True)
        removed = registered.aliases.get(CHALLENGER)
        if removed is not None:
            self.registry.delete_alias(model, CHALLENGER, reason=f"{_REASON}: rollback")
        return {"alias": CHAMPION, "version": int(champion_version), "challenger_removed": removed,
                "rolled_back_at": self.clock()}

    # -- checks ----------------------------------------------------------------------------

    def _log(self) -> TrackingStore:
        if self.tracking is None:
            raise ConfigError("the rollout driver reads the inference log through a tracking store: pass "
                              "tracking=client.tracking_store", field="tracking")
        return self.tracking

    @staticmethod
    def _stage(run: AutomationRun, key: str) -> tuple[int, int, int]:
        evidence = run.evidence
        missing = [k for k in ("champion_version", "challenger_version", key) if evidence.get(k) is None]
        if missing:
            raise InvalidInput(f"run {run.id} lacks {', '.join(missing)} in its evidence", field=missing[0])
        return int(evidence["champion_version"]), int(evidence["challenger_version"]), int(float(evidence[key]) * 1000)

    @staticmethod
    def _limits(policy: AutomationPolicy, champion: RequestStats, challenger: RequestStats) -> str | None:
        """Why the challenger's own requests rule it out (errors, latency), or None."""
        allowed = policy.rollout.sequential.min_effect
        if challenger.requests and challenger.error_rate > champion.error_rate + allowed:
            return (f"the challenger failed {challenger.error_rate:.2%} of its requests, the champion "
                    f"{champion.error_rate:.2%} (more than {allowed:.2%} apart)")
        bound = policy.gates.max_latency_p99_ms
        if bound is not None and challenger.latency_p99_ms is not None and challenger.latency_p99_ms > bound:
            return f"the challenger's latency p99 {challenger.latency_p99_ms:.1f} ms exceeds {bound:g} ms"
        return None

    def check_shadow(self, policy: AutomationPolicy, run: AutomationRun) -> StageResult:
        """Wait for ``rollout.shadow.requests`` mirrored requests, then pass or fail (see the module)."""
        champion_version, challenger_version, since = self._stage(run, "shadow_started_at")
        until = int(self.clock() * 1000) + 1
        tracking = self._log()
        shadow = rows(tracking, policy.model, challenger_version, since, until, shadow=True)
        champion = rows(tracking, policy.model, champion_version, since, until)
        shadow_stats, champion_stats = request_stats(shadow), request_stats(champion)
        compared, agreeing = agreement(champion, shadow)
        needed = max(policy.rollout.shadow.requests, 1)
        evidence = {"needed": needed, "champion": champion_stats.to_json(), "challenger": shadow_stats.to_json(),
                    "compared_rows": compared, "agreement": finite(agreeing)}
        if shadow_stats.requests < needed:
            return StageResult("wait", evidence)
        why = self._limits(policy, champion_stats, shadow_stats)
        if why is not None:
            return StageResult("fail", evidence, f"shadow: {why}")
        return StageResult("pass", evidence, f"shadow: {shadow_stats.requests} mirrored requests within limits"
                           + (f", {agreeing:.1%} agreeing" if agreeing is not None else ""))

    def check_canary(self, policy: AutomationPolicy, run: AutomationRun) -> StageResult:
        """The sequential test on labelled answers, with error and latency limits (see the module)."""
        champion_version, challenger_version, since = self._stage(run, "canary_started_at")
        now = self.clock()
        until = int(now * 1000) + 1
        tracking = self._log()
        champion_stats = request_stats(rows(tracking, policy.model, champion_version, since, until))
        challenger_stats = request_stats(rows(tracking, policy.model, challenger_version, since, until))
        champion = outcomes(tracking, self.monitoring, policy.model, champion_version, since, until)
        challenger = outcomes(tracking, self.monitoring, policy.model, challenger_version, since, until)
        test = SequentialTest.of(policy.rollout.sequential)
        canary = policy.rollout.canary
        elapsed = now - since / 1000
        ended = canary is not None and (
            (canary.duration_s is not None and elapsed >= canary.duration_s)
            or (canary.labelled_requests is not None and challenger.requests >= canary.labelled_requests))
        counts = (champion.correct, champion.labelled), (challenger.correct, challenger.labelled)
        decision = test.conclude(*counts) if ended else test.decide(*counts)
        evidence = {"elapsed_s": round(elapsed, 3), "ended_by_limit": ended,
                    "champion": {**champion_stats.to_json(), **champion.to_json()},
                    "challenger": {**challenger_stats.to_json(), **challenger.to_json()},
                    "test": {"alpha": test.alpha, "power": test.power, "min_effect": test.min_effect,
                             "max_samples": test.max_samples, **decision.to_json()}}
        why = self._limits(policy, champion_stats, challenger_stats)
        if why is not None:
            return StageResult("fail", evidence, f"canary: {why}")
        if decision.outcome == "continue":
            return StageResult("wait", evidence)
        accuracy = f"accuracy {_share(challenger.correct, challenger.labelled)} against " \
                   f"{_share(champion.correct, champion.labelled)} on {challenger.labelled} labelled answers"
        if decision.outcome == "pass":
            return StageResult("pass", evidence, f"canary: the challenger is as accurate ({accuracy})")
        if decision.inconclusive:
            return StageResult("fail", evidence, f"canary: inconclusive at its limit ({accuracy}): not shown "
                                                 f"to be within {test.min_effect:g} of the champion")
        return StageResult("fail", evidence, f"canary: the challenger is less accurate ({accuracy})")


def _share(correct: int, labelled: int) -> str:
    return f"{correct / labelled:.1%}" if labelled else "n/a"
