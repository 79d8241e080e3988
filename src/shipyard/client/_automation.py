"""``client.automation``: continuous-training policies, their runs, approvals, labelled-data exports.

Embedded, the client's own store checks what a policy names and records who applied
it; remote, the server does both, naming the user it authenticated.

>>> automation = Client(home="/tmp/shipyard-doc").automation                     # doctest: +SKIP
>>> automation.apply_policy("retrain.yaml").policy.version                       # doctest: +SKIP
1
>>> [r.state for r in automation.list_runs("churn-retrain")]                      # doctest: +SKIP
['awaiting_approval']
>>> automation.export_labelled("churn@production", since="7d", to="ds:churn-labelled").ref  # doctest: +SKIP
'churn-labelled@1'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.client._backend import Backend
from shipyard.errors import InvalidInput
from shipyard.tracking._entities import current_user

if TYPE_CHECKING:
    from shipyard.automation import (
        Applied,
        AutomationPolicy,
        AutomationRun,
        AutomationStore,
        LabelledExport,
        Plan,
        PolicyVersion,
    )
    from shipyard.registry import AuditEvent

__all__ = ["Automation"]

PolicyLike = Any  # an AutomationPolicy, its JSON form (a mapping), or a YAML file's path


class Automation:
    """Continuous-training policies (versioned, audited), the runs a controller drives, approvals."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self.config = backend.config

    @property
    def store(self) -> AutomationStore:
        """The automation store (opened on first use)."""
        return self._backend.automation

    # -- policies -------------------------------------------------------------------------

    def load_policy(self, policy: PolicyLike) -> AutomationPolicy:
        """``policy`` as an :class:`~shipyard.automation.AutomationPolicy`: one already, its JSON
        form, or the path of a YAML file; checked strictly (``InvalidInput`` naming the field)."""
        from shipyard.automation import AutomationPolicy

        if isinstance(policy, AutomationPolicy):
            return policy
        if isinstance(policy, Mapping):
            return AutomationPolicy.from_json(policy)
        if isinstance(policy, str | os.PathLike):
            return AutomationPolicy.load(Path(policy))
        raise InvalidInput(f"expected a policy, its JSON form or a YAML file, got {type(policy).__name__}",
                           field="policy")

    def apply_policy(self, policy: PolicyLike) -> Applied:
        """Make ``policy`` the current version of its name (see :meth:`load_policy` for the forms
        it takes). A changed policy is a new version and an audit event; the same one again
        stores nothing (``changed`` False). Every model, pipeline, dataset, alert rule and
        monitor it names must exist, else ``NotFound`` naming the field, and nothing is stored."""
        return self.store.apply(self.load_policy(policy), current_user())

    def get_policy(self, name: str, version: int | None = None) -> PolicyVersion:
        """The current version of policy ``name`` (or version ``version``)."""
        return self.store.get_policy(name, version)

    def list_policies(self) -> list[PolicyVersion]:
        """The current version of every policy, by name."""
        return self.store.list_policies()

    def policy_versions(self, name: str) -> list[PolicyVersion]:
        """Every version of policy ``name``, newest first."""
        return self.store.policy_versions(name)

    def policy_audit(self, name: str) -> list[AuditEvent]:
        """Who applied each version of policy ``name``, and moved, approved or rejected its runs; newest first."""
        return self.store.audit(name)

    # -- runs -----------------------------------------------------------------------------

    def list_runs(self, policy: str | None = None, state: str | None = None) -> list[AutomationRun]:
        """Runs (of ``policy``, in ``state``), newest first."""
        return self.store.list_runs(policy, state)

    def get_run(self, run_id: str) -> AutomationRun:
        return self.store.get_run(run_id)

    def approve_run(self, run_id: str, reason: str) -> AutomationRun:
        """Let a run awaiting approval go on; ``Conflict`` naming its state if it awaits none."""
        return self.store.approve(run_id, reason, current_user())

    def reject_run(self, run_id: str, reason: str) -> AutomationRun:
        """End a run awaiting approval as rejected; ``Conflict`` naming its state if it awaits none."""
        return self.store.reject(run_id, reason, current_user())

    def request_run(self, policy: str, reason: str) -> AutomationRun:
        """Ask for a retrain of ``policy`` now (a manual trigger): a run in state ``triggered``
        that the controller takes on at its next tick, guards permitting. ``Conflict`` naming
        the active run when the policy has one; needs the database (not a server URL)."""
        from shipyard.automation import AutomationControlStore
        from shipyard.errors import Conflict

        if not isinstance(reason, str) or not reason.strip():
            raise InvalidInput("to ask for a retrain, give a reason", field="reason")
        store = self.store
        if not isinstance(store, AutomationControlStore):
            raise InvalidInput("asking for a retrain needs the database: run it where the metadata database "
                               "is configured", field="db")
        store.get_policy(policy)
        active = next((r for r in store.list_runs(policy) if not r.finished), None)
        if active is not None:
            raise Conflict(f"policy {policy!r} has an active run {active.id} ({active.state}): one at a time",
                           run_id=active.id, state=active.state)
        return store.create_run(policy, {"trigger": {"type": "manual", "reason": reason, "by": current_user()}},
                                current_user())

    def plan(self, model: str) -> Plan:
        """What the controller would do now for registered model ``model``: per policy, the active
        run and its next step, or the triggers firing and the guards; nothing is acted on.
        A model that is not registered is ``NotFound`` naming the field ``model``."""
        from shipyard.automation import AutomationControlStore, TriggerSources, plan

        store = self.store
        if not isinstance(store, AutomationControlStore):
            remote: Plan = store.plan(model)  # type: ignore[attr-defined]
            return remote
        backend = self._backend
        return plan(model, automation=store, registry=backend.registry, sources=TriggerSources(
            alerts=backend.alerts, monitoring=backend.monitoring, datasets=backend.datasets))

    # -- labelled production data ---------------------------------------------------------------

    def export_labelled(self, model: str, *, to: str, since: Any = "7d", until: Any = None,
                        monitor: str | None = None, label_column: str | None = None) -> LabelledExport:
        """Register what ``model`` (``churn@production``, ``churn/3``, ``churn``) answered over
        ``[since, until)`` and has labels for as a new version of dataset ``to`` (``ds:NAME``),
        with lineage to the model versions that answered and the monitors of ``model``
        (or ``monitor``). ``since``: a duration back from ``until`` (``7d``), a datetime or ms;
        ``until``: default now. See :mod:`shipyard.automation._export`."""
        from shipyard.automation import export_labelled
        from shipyard.client._monitoring import to_ms
        from shipyard.datasets._hashing import HashCache
        from shipyard.timeutil import now_ms

        until_ms = to_ms(until, field="until")
        until_ms = now_ms() if until_ms is None else until_ms
        since_ms = to_ms(since, now=until_ms, field="since")
        if since_ms is None:
            raise InvalidInput("since is required: a duration such as 7d, a datetime or ms", field="since")
        backend = self._backend
        options = {"endpoint_url": self.config.s3_endpoint_url} if self.config.s3_endpoint_url else {}
        return export_labelled(tracking=backend.tracking, monitoring=backend.monitoring, datasets=backend.datasets,
                               registry=backend.registry, automation=self.store, model=model, since_ms=since_ms,
                               until_ms=until_ms, to=to, monitor=monitor, label_column=label_column,
                               actor=current_user(), storage_options=options,
                               hash_cache=HashCache(self.config.home.absolute() / "cache" / "hashes"))
