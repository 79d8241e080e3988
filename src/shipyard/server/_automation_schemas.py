"""What the automation routes (``/api/v1/automation``) answer and take, as OpenAPI schemas.

Each answer mirrors the ``to_json`` of :mod:`shipyard.automation`'s entities field for
field, and forbids other fields; a policy document is described by
:class:`~shipyard.automation.AutomationPolicy` (the server reads it strictly and names
the field at fault). Times are integer milliseconds since the epoch.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Applied", "AutomationRun", "Decision", "ExportLineage", "ModelVersionRef", "Plan", "PolicyPlan",
           "PolicyVersion"]

_EXACT = ConfigDict(extra="forbid")


class PolicyVersion(BaseModel):
    """One version of a policy, as applied."""

    model_config = _EXACT

    name: str
    version: int
    created_at: int
    actor: str | None = Field(description="Who applied it: the authenticated user")
    policy: dict[str, Any] = Field(description="The policy in its canonical JSON form")


class Applied(BaseModel):
    """The version now current, and whether applying made it (false: the same policy was current)."""

    model_config = _EXACT

    policy: PolicyVersion
    changed: bool


class AutomationRun(BaseModel):
    """One run of a policy, and where it is in the state machine."""

    model_config = _EXACT

    id: str
    policy: str
    policy_version: int
    state: str = Field(description="triggered, retraining, evaluating, gated, awaiting_approval, shadow, canary, "
                                   "promoted, rolled_back or rejected")
    started_at: int
    updated_at: int
    ended_at: int | None
    evidence: dict[str, Any] = Field(description="What each stage found")
    reason: str | None
    resume_state: str | None = Field(description="Where an approval sends a run awaiting one")


class Decision(BaseModel):
    """Why a run awaiting approval is approved or rejected (kept in the audit log)."""

    reason: str = Field(min_length=1, max_length=10_000)


class ModelVersionRef(BaseModel):
    name: str = Field(min_length=1, max_length=256)
    version: int = Field(ge=1)


class ExportLineage(BaseModel):
    """Where a dataset version of exported labelled rows came from."""

    dataset: str = Field(min_length=1, max_length=256)
    version: int = Field(ge=1)
    model_versions: list[ModelVersionRef] = Field(default_factory=list, max_length=1000)
    monitors: list[str] = Field(default_factory=list, max_length=1000)


class PolicyPlan(BaseModel):
    """One policy's outlook: its active run and where it goes next, or the triggers firing now,
    what the guards say and whether a run would start."""

    model_config = _EXACT

    policy: str
    version: int
    enabled: bool
    next: str = Field(description="What happens next, in words")
    next_states: list[str] = Field(description="The states the policy's run may move to next")
    active_run: dict[str, Any] | None = Field(description="id, state, resume_state, policy_version, updated_at")
    firing: list[dict[str, Any]] = Field(description="The triggers that fire now, each with what was seen")
    guards: dict[str, Any] | None = Field(description="allowed, reasons, next_allowed_at, last_retrain_at, "
                                                      "retrains_last_day (none while a run is active)")
    would_start: bool


class Plan(BaseModel):
    """What the controller would do now for a registered model's policies (nothing is acted on)."""

    model_config = _EXACT

    model: str
    at: int
    champion: int | None = Field(description="The version at @production")
    policies: list[PolicyPlan]
