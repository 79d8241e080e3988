"""Telling people about an automation run's moves, through the alert notifiers.

Each move becomes one :class:`~shipyard.alerting.AlertEvent` with source ``automation``,
of a rule named after the policy, on series ``automation_state`` of the policy's model,
labelled with the run and both states, its ``detail`` the move's reason, so a webhook, an
email or the log carry it as they carry alerts, read as a move:
``[automation] churn-retrain on churn: triggered → rejected (cooldown: …)``. Severity:
``critical`` for a rollback, ``warning`` for a rejection or a wait for approval, ``info``
otherwise. A notifier that fails is logged; the move stands.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from shipyard.alerting import AlertEvent, AlertRule
from shipyard.automation._entities import AutomationRun
from shipyard.automation._policy import AutomationPolicy
from shipyard.automation._states import AWAITING_APPROVAL, STATES

__all__ = ["move_event", "notify"]

logger = logging.getLogger("shipyard.automation")
_SEVERITY = {"rolled_back": "critical", "rejected": "warning", AWAITING_APPROVAL: "warning"}


def move_event(policy: AutomationPolicy, run: AutomationRun, from_state: str | None, reason: str | None,
               at: int) -> AlertEvent:
    """The alert event that tells of ``run``'s move from ``from_state`` (None: created) to its state."""
    index = float(STATES.index(run.state))
    rule = AlertRule(name=policy.name[:128], series="automation_state", op="==", threshold=index,
                     monitor=policy.model, severity=_SEVERITY.get(run.state, "info"),
                     description=f"automation run {run.id} of {policy.name}")
    labels = {"run": run.id, "from_state": from_state or "new", "to_state": run.state}
    return AlertEvent("firing", rule, f"{policy.name}/{run.id}/{run.state}", policy.model, labels, index, None, at,
                      run.started_at, source="automation", detail=_detail(policy, run, reason))


def _detail(policy: AutomationPolicy, run: AutomationRun, reason: str | None) -> str | None:
    """Why the run moved: the move's reason, else what the evidence says the state holds."""
    if reason:
        return reason[:500]
    evidence = run.evidence or {}
    if run.state == "evaluating" and evidence.get("challenger_version") is not None:
        return f"challenger {policy.model}/{evidence['challenger_version']}"
    retrain = evidence.get("retrain")
    if run.state == "retraining" and isinstance(retrain, Mapping) and retrain.get("pipeline"):
        return f"running pipeline {retrain['pipeline']}"
    return None


def notify(notifiers: Mapping[str, Any], policy: AutomationPolicy, run: AutomationRun, from_state: str | None,
           reason: str | None, *, at: int) -> None:
    """Send the move to every notifier; failures are logged, never raised."""
    if not notifiers:
        return
    try:
        event = move_event(policy, run, from_state, reason, at)
    except Exception:  # noqa: BLE001 - a name the alert rule refuses must not stop the run
        logger.exception("automation run %s: cannot describe the move as an alert", run.id)
        return
    for name, notifier in notifiers.items():
        try:
            notifier.notify(event)
        except Exception as exc:  # noqa: BLE001 - a webhook down must not stop the run
            logger.warning("automation run %s: notifier %s failed: %s", run.id, name, exc)
