"""What the controller would do now for a registered model's policies, without doing it.

:func:`plan` reads the same stores the controller reads and says, per policy of the
model: the active run and where it goes next, or, with none, which triggers fire now, what
the guards say, and whether a run would start. Nothing is written, no lease is taken.

>>> automation_plan = plan("churn", automation=store, registry=registry, sources=sources)  # doctest: +SKIP
>>> automation_plan.policies[0].next                                                        # doctest: +SKIP
'a run would start (alert trigger: rule=churn-drift)'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shipyard.automation._backend import AutomationStore
from shipyard.automation._entities import AutomationRun, PolicyVersion
from shipyard.automation._firing import TriggerSources, firing, settled_since
from shipyard.automation._guards import check_guards
from shipyard.automation._policy import AutomationPolicy
from shipyard.automation._states import AWAITING_APPROVAL
from shipyard.errors import NotFound
from shipyard.registry import RegistryStore
from shipyard.timeutil import now_ms as _now_ms

__all__ = ["Plan", "PolicyPlan", "plan"]


@dataclass(frozen=True)
class PolicyPlan:
    """One policy's outlook: its active run (None: none) and ``next`` (what happens next, in
    words) with ``next_states`` (the states it may move to); with no active run, ``firing``
    (the triggers that fire now), ``guards`` and ``would_start``."""

    policy: str
    version: int
    enabled: bool
    next: str
    next_states: list[str] = field(default_factory=list)
    active_run: dict[str, Any] | None = None
    firing: list[dict[str, Any]] = field(default_factory=list)
    guards: dict[str, Any] | None = None
    would_start: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"policy": self.policy, "version": self.version, "enabled": self.enabled, "next": self.next,
                "next_states": list(self.next_states), "active_run": self.active_run, "firing": list(self.firing),
                "guards": self.guards, "would_start": self.would_start}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PolicyPlan:
        return cls(data["policy"], int(data["version"]), bool(data["enabled"]), data["next"],
                   list(data.get("next_states") or []), data.get("active_run"), list(data.get("firing") or []),
                   data.get("guards"), bool(data.get("would_start", False)))


@dataclass(frozen=True)
class Plan:
    """The outlook for registered model ``model`` at ``at`` (ms): its champion (the version at
    ``@production``, None: none) and one :class:`PolicyPlan` per policy of the model."""

    model: str
    at: int
    champion: int | None
    policies: list[PolicyPlan] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "at": self.at, "champion": self.champion,
                "policies": [p.to_json() for p in self.policies]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Plan:
        return cls(data["model"], int(data["at"]), data.get("champion"),
                   [PolicyPlan.from_json(p) for p in data.get("policies") or []])


def plan(model: str, *, automation: AutomationStore, registry: RegistryStore, sources: TriggerSources,
         now_ms: int | None = None, clock: Callable[[], int] = _now_ms) -> Plan:
    """The outlook for registered model ``model`` (see the module docstring). A model that is
    not registered is ``NotFound`` naming the field ``model``."""
    try:
        registry.get_registered_model(model)
    except NotFound:
        raise NotFound(f"model: registered model {model!r} not found", resource="model", name=model,
                       field="model") from None
    now = clock() if now_ms is None else now_ms
    try:
        champion: int | None = registry.get_version_by_alias(model, "production").version
    except NotFound:
        champion = None
    versions = [v for v in automation.list_policies() if v.policy.model == model]
    return Plan(model, now, champion, [_policy_plan(v, automation, sources, now) for v in versions])


def _policy_plan(version: PolicyVersion, automation: AutomationStore, sources: TriggerSources,
                 now: int) -> PolicyPlan:
    policy = version.policy
    runs = automation.list_runs(policy.name)
    active = next((r for r in runs if not r.finished), None)
    if active is not None:
        if active.policy_version != version.version:
            policy = automation.get_policy(policy.name, active.policy_version).policy
        text, states = _next_of(policy, active, runs, now)
        return PolicyPlan(version.name, version.version, version.policy.enabled, text, states, {
            "id": active.id, "state": active.state, "resume_state": active.resume_state,
            "policy_version": active.policy_version, "updated_at": active.updated_at})
    since = max([version.created_at, *(r.started_at for r in runs)])
    fired = [f.to_json() for f in firing(policy, sources, since_ms=since, now_ms=now,
                                         settled_ms=settled_since(runs))]
    guard = check_guards(policy.guards, runs, now)
    if not policy.enabled:
        text = "nothing: the policy is disabled"
    elif not fired:
        text = "nothing: no trigger fires now"
    elif not guard.allowed:
        text = "nothing yet: triggers fire but the guards hold (" + "; ".join(guard.reasons) + ")"
    else:
        first = fired[0]
        text = f"a run would start ({first['type']} trigger: " + ", ".join(
            f"{k}={v}" for k, v in first.items() if k != "type") + ")"
    start = bool(policy.enabled and fired and guard.allowed)
    return PolicyPlan(version.name, version.version, policy.enabled, text, ["triggered"] if start else [],
                      None, fired, guard.to_json(), start)


def _next_of(policy: AutomationPolicy, run: AutomationRun, runs: list[AutomationRun],
             now: int) -> tuple[str, list[str]]:
    state = run.state
    champion = run.evidence.get("champion_version")
    first = "promoted" if champion is None else (
        "shadow" if policy.rollout.shadow.requests > 0 else "canary" if policy.rollout.canary is not None
        else "promoted")
    if state == "triggered":
        guard = check_guards(policy.guards, runs, now, exclude=run.id)
        if not guard.allowed:
            return "rejected by the guards: " + "; ".join(guard.reasons), ["rejected"]
        return (f"retraining: pipeline {policy.retrain.pipeline} with params "
                f"{dict(policy.retrain.params)}", ["retraining"])
    if state == "retraining":
        retrain = run.evidence.get("retrain") or {}
        return (f"evaluating once pipeline run {retrain.get('pipeline_run_id')} (attempt "
                f"{retrain.get('attempt', 1)}) finishes and registers a version of {policy.model}; "
                f"rejected if it fails twice or trains over {policy.guards.training_budget_s} s",
                ["evaluating", "rejected"])
    if state == "evaluating":
        ev = policy.evaluation
        return (f"gated if the challenger beats the champion on {ev.metrics[0]} ({ev.test}, alpha {ev.alpha:g}, "
                f"min_improvement {ev.min_improvement:g}), else rejected", ["gated", "rejected"])
    if state == "gated":
        after = AWAITING_APPROVAL if policy.guards.require_approval else first
        return f"{after} if the gates pass, else rejected", [after, "rejected"]
    if state == AWAITING_APPROVAL:
        return (f"waits for a person: approve -> {run.resume_state}, reject -> rejected",
                [run.resume_state or "", "rejected"])
    if state == "shadow":
        after = "canary" if policy.rollout.canary is not None else "promoted"
        return f"{after} if the shadow check passes, rolled_back if it fails", [after, "rolled_back"]
    return "promoted if the canary's sequential test passes, rolled_back if it fails", ["promoted", "rolled_back"]
