"""Automation: policies for continuous training, the runs that carry them out, and their store.

A domain package above monitoring: a policy names what it watches and uses — a
registered model, alert rules, monitors, datasets, a pipeline — and this package
checks those names against their stores, keeps the policies versioned with an audit
trail, and keeps each run's place in the state machine a controller drives.

* :class:`AutomationPolicy` — when to retrain (triggers), how (:class:`Retrain`,
  :class:`LabelledData`), how to judge (:class:`Evaluation`), :class:`Gates`,
  :class:`Rollout` (:class:`Shadow`, :class:`Canary`, :class:`Sequential`) and
  :class:`Guards`; read strictly from YAML or JSON, errors naming the dotted field;
* :data:`STATES`, :data:`TRANSITIONS` and :func:`transition` — the run's state machine,
  defined once;
* :class:`AutomationStore` (policies, runs, approvals), :class:`AutomationControlStore`
  (what a controller adds: runs, moves, leases) and :class:`SqlAutomationStore`;
* :func:`export_labelled` — recent labelled production data as a dataset version;
* :class:`Controller` — drives every policy's runs (``tick``, ``run``); :func:`plan` says what
  it would do now for a model; :func:`compare` (champion against challenger, a paired test),
  :func:`check_gates` and :func:`check_guards` are its stages' judges.

Names are loaded on first use, so ``import shipyard`` stays light.

>>> from shipyard.automation import transition
>>> transition("canary", "promoted")
'promoted'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipyard._lazy import lazy_exports

if TYPE_CHECKING:
    from shipyard.automation._backend import AutomationControlStore, AutomationStore
    from shipyard.automation._controller import Controller, Moved
    from shipyard.automation._entities import Applied, AutomationRun, Lease, PolicyVersion
    from shipyard.automation._evaluation import EvaluationResult, Scored, compare
    from shipyard.automation._export import LabelledExport, export_labelled, labelled_rows
    from shipyard.automation._firing import Firing, TriggerSources
    from shipyard.automation._gates import GateResult, check_gates
    from shipyard.automation._guards import GuardDecision, check_guards
    from shipyard.automation._plan import Plan, PolicyPlan, plan
    from shipyard.automation._policy import (
        TESTS,
        AutomationPolicy,
        Canary,
        Evaluation,
        Gates,
        Guards,
        LabelledData,
        Retrain,
        Rollout,
        Sequential,
        Shadow,
    )
    from shipyard.automation._references import References
    from shipyard.automation._sql_store import SqlAutomationStore
    from shipyard.automation._states import STATES, TERMINAL, TRANSITIONS, transition
    from shipyard.automation._triggers import (
        AlertTrigger,
        DatasetTrigger,
        ManualTrigger,
        MonitorTrigger,
        ScheduleTrigger,
        Trigger,
    )

# Public name -> the submodule defining it. Add a name here and to __all__ (kept sorted) to export it.
_WHERE = {
    "AutomationPolicy": "_policy", "Canary": "_policy", "Evaluation": "_policy", "Gates": "_policy",
    "Guards": "_policy", "LabelledData": "_policy", "Retrain": "_policy", "Rollout": "_policy",
    "Sequential": "_policy", "Shadow": "_policy", "TESTS": "_policy",
    "AlertTrigger": "_triggers", "DatasetTrigger": "_triggers", "ManualTrigger": "_triggers",
    "MonitorTrigger": "_triggers", "ScheduleTrigger": "_triggers", "Trigger": "_triggers",
    "STATES": "_states", "TERMINAL": "_states", "TRANSITIONS": "_states", "transition": "_states",
    "Applied": "_entities", "AutomationRun": "_entities", "Lease": "_entities", "PolicyVersion": "_entities",
    "AutomationControlStore": "_backend", "AutomationStore": "_backend",
    "References": "_references",
    "SqlAutomationStore": "_sql_store",
    "LabelledExport": "_export", "export_labelled": "_export", "labelled_rows": "_export",
    "Controller": "_controller", "Moved": "_controller",
    "EvaluationResult": "_evaluation", "Scored": "_evaluation", "compare": "_evaluation",
    "Firing": "_firing", "TriggerSources": "_firing",
    "GateResult": "_gates", "check_gates": "_gates",
    "GuardDecision": "_guards", "check_guards": "_guards",
    "Plan": "_plan", "PolicyPlan": "_plan", "plan": "_plan",
}

__all__ = [
    "AlertTrigger",
    "Applied",
    "AutomationControlStore",
    "AutomationPolicy",
    "AutomationRun",
    "AutomationStore",
    "Canary",
    "Controller",
    "DatasetTrigger",
    "Evaluation",
    "EvaluationResult",
    "Firing",
    "GateResult",
    "Gates",
    "GuardDecision",
    "Guards",
    "LabelledData",
    "LabelledExport",
    "Lease",
    "ManualTrigger",
    "MonitorTrigger",
    "Moved",
    "Plan",
    "PolicyPlan",
    "PolicyVersion",
    "References",
    "Retrain",
    "Rollout",
    "STATES",
    "ScheduleTrigger",
    "Scored",
    "Sequential",
    "Shadow",
    "SqlAutomationStore",
    "TERMINAL",
    "TESTS",
    "TRANSITIONS",
    "Trigger",
    "TriggerSources",
    "check_gates",
    "check_guards",
    "compare",
    "export_labelled",
    "labelled_rows",
    "plan",
    "transition",
]


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__, globals())
