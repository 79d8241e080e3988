"""Where automation policies and their runs live: the interfaces.

:class:`AutomationStore` is what every backend offers (SQL in-process, HTTP to a
server): applying and reading policies, reading runs, approving and rejecting the runs
that wait for a person, and recording where exported labelled data came from.
:class:`AutomationControlStore` adds what a controller needs to drive runs: starting
them, moving them between states (:func:`~shipyard.automation._states.transition`
decides which moves are legal), and a lease per policy so one controller drives it at
a time. Only a store holding the database directly implements it.

Every change names who made it in the audit log: the authenticated user when a face
runs the call :func:`~shipyard.registry.acting_as` one, else the ``actor`` given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from shipyard.automation._entities import Applied, AutomationRun, Lease, PolicyVersion
from shipyard.automation._policy import AutomationPolicy
from shipyard.registry import AuditEvent

__all__ = ["AutomationControlStore", "AutomationStore"]


@runtime_checkable
class AutomationStore(Protocol):
    """Policies (versioned), runs of policies, approvals and their audit trail."""

    def apply(self, policy: AutomationPolicy, actor: str | None = None) -> Applied:
        """Make ``policy`` the current version of its name: a new version unless the current one
        is the same policy (then nothing is stored). Every registered model, pipeline, dataset,
        alert rule and monitor it names must exist, else ``NotFound`` naming the policy's field
        and nothing is stored. A new version is an audit event."""
        ...

    def get_policy(self, name: str, version: int | None = None) -> PolicyVersion:
        """Version ``version`` of policy ``name`` (default the current one), or ``NotFound``."""
        ...

    def list_policies(self) -> list[PolicyVersion]:
        """The current version of every policy, by name."""
        ...

    def policy_versions(self, name: str) -> list[PolicyVersion]:
        """Every version of policy ``name``, newest first (``NotFound`` if there is none)."""
        ...

    def audit(self, name: str) -> list[AuditEvent]:
        """The audit trail of policy ``name`` and its runs, newest first."""
        ...

    def get_run(self, run_id: str) -> AutomationRun:
        """The run ``run_id``, or ``NotFound``."""
        ...

    def list_runs(self, policy: str | None = None, state: str | None = None) -> list[AutomationRun]:
        """Runs (of ``policy``, in ``state``), newest first."""
        ...

    def approve(self, run_id: str, reason: str, actor: str | None = None) -> AutomationRun:
        """Let a run awaiting approval go on, to the state it was heading for; any other state
        is ``Conflict`` naming it. ``reason`` is required and goes to the audit log."""
        ...

    def reject(self, run_id: str, reason: str, actor: str | None = None) -> AutomationRun:
        """End a run awaiting approval as ``rejected``; any other state is ``Conflict`` naming it."""
        ...

    def record_export(self, dataset: str, version: int, model_versions: Sequence[tuple[str, int]],
                      monitors: Sequence[str]) -> None:
        """Record that dataset version ``dataset@version`` holds labelled rows answered by
        ``model_versions`` and selected through ``monitors``: lineage edges
        ``model_version -served-> dataset`` and ``monitor -monitored-> dataset``. Each must exist."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class AutomationControlStore(AutomationStore, Protocol):
    """An :class:`AutomationStore` a controller drives runs through."""

    def create_run(self, policy: str, evidence: Mapping[str, Any] | None = None,
                   actor: str | None = None, reason: str | None = None) -> AutomationRun:
        """Start a run of the current version of ``policy`` in state ``triggered``. ``reason``
        (None: the ``reason`` of ``evidence["trigger"]``, as a manual trigger records it) is
        the reason of the run's ``create_run`` audit event."""
        ...

    def transition(self, run_id: str, to: str, *, expect: str | None = None,
                   evidence: Mapping[str, Any] | None = None, reason: str | None = None,
                   resume_state: str | None = None, actor: str | None = None) -> AutomationRun:
        """Move a run to state ``to`` if the move is legal from its state (and that state is
        ``expect``, when given), else ``Conflict`` naming both states; ``evidence`` is merged
        into the run's (keys given replace those stored). Moving to ``awaiting_approval``
        needs ``resume_state``: where an approval will send the run."""
        ...

    def acquire_lease(self, policy: str, holder: str, ttl_s: float) -> Lease | None:
        """Take the lease on ``policy`` for ``ttl_s`` seconds if it is free, expired, or
        ``holder``'s already; None when another holder has it. Atomic: of contenders, one wins."""
        ...

    def renew_lease(self, policy: str, holder: str, ttl_s: float) -> Lease:
        """Extend ``holder``'s live lease to ``ttl_s`` seconds from now; ``Conflict`` if ``holder``
        does not hold it (it expired, or another took it)."""
        ...

    def release_lease(self, policy: str, holder: str) -> bool:
        """Give the lease up, if ``holder`` has it; whether it did."""
        ...

    def get_lease(self, policy: str) -> Lease | None:
        """The lease on ``policy`` (expired or not), or None."""
        ...
