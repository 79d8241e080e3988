"""What the automation store keeps: policy versions, runs of policies, and controller leases.

Each entity has ``to_json`` and ``from_json``: the wire form the server writes and the
remote store reads. Times are integer milliseconds since the epoch.

>>> run = AutomationRun("0" * 32, "churn-retrain", 1, "triggered", started_at=1, updated_at=1)
>>> AutomationRun.from_json(run.to_json()) == run
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shipyard.automation._policy import AutomationPolicy
from shipyard.automation._states import TERMINAL

__all__ = ["Applied", "AutomationRun", "Lease", "PolicyVersion"]


@dataclass(frozen=True)
class PolicyVersion:
    """Version ``version`` of a policy, as applied by ``actor`` at ``created_at``."""

    policy: AutomationPolicy
    version: int
    created_at: int
    actor: str | None = None

    @property
    def name(self) -> str:
        return self.policy.name

    def to_json(self) -> dict[str, Any]:
        return {"name": self.policy.name, "version": self.version, "created_at": self.created_at,
                "actor": self.actor, "policy": self.policy.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PolicyVersion:
        return cls(AutomationPolicy.from_json(data["policy"]), int(data["version"]), int(data["created_at"]),
                   data.get("actor"))


@dataclass(frozen=True)
class Applied:
    """What applying a policy did: the version now current, and whether it is a new one
    (False: the same policy was current already, and nothing was stored)."""

    policy: PolicyVersion
    changed: bool

    def to_json(self) -> dict[str, Any]:
        return {"policy": self.policy.to_json(), "changed": self.changed}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Applied:
        return cls(PolicyVersion.from_json(data["policy"]), bool(data["changed"]))


@dataclass(frozen=True)
class AutomationRun:
    """One run of a policy through the states of :mod:`shipyard.automation._states`.

    ``evidence`` gathers what each stage found (the trigger, the retrain's run, the test's
    outcome…), ``reason`` says why the run is where it is (a rejection's reason, say), and
    ``resume_state`` is where an approval sends a run that awaits one. ``ended_at`` is set
    when the run reaches a state that ends it.
    """

    id: str
    policy: str
    policy_version: int
    state: str
    started_at: int
    updated_at: int
    ended_at: int | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)
    reason: str | None = None
    resume_state: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "policy": self.policy, "policy_version": self.policy_version, "state": self.state,
                "started_at": self.started_at, "updated_at": self.updated_at, "ended_at": self.ended_at,
                "evidence": dict(self.evidence), "reason": self.reason, "resume_state": self.resume_state}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AutomationRun:
        return cls(data["id"], data["policy"], int(data["policy_version"]), data["state"], int(data["started_at"]),
                   int(data["updated_at"]), data.get("ended_at"), dict(data.get("evidence") or {}),
                   data.get("reason"), data.get("resume_state"))


@dataclass(frozen=True)
class Lease:
    """The right of one controller (``holder``) to drive ``policy`` until ``expires_at``."""

    policy: str
    holder: str
    acquired_at: int
    expires_at: int

    def to_json(self) -> dict[str, Any]:
        return {"policy": self.policy, "holder": self.holder, "acquired_at": self.acquired_at,
                "expires_at": self.expires_at}
