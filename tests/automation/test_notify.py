"""An automation run's moves, as the alert notifiers tell them: the policy, the model, both
states and why, never the state's ordinal as a measured value."""

from __future__ import annotations

import logging

import pytest

from shipyard.alerting import AlertEvent, LogNotifier
from shipyard.alerting._notifiers import message_lines
from shipyard.automation import AutomationPolicy, AutomationRun
from shipyard.automation._notify import move_event, notify
from tests.automation.conftest import POLICY

COOLDOWN = "cooldown: the last retrain began 20 s ago, 3600 s must pass"


def run_in(state: str, evidence: dict[str, object] | None = None) -> AutomationRun:
    return AutomationRun("96d3e2da" * 4, "churn-retrain", 1, state, 1_767_232_800_000, 1_767_232_800_000,
                         evidence=evidence or {})


def test_a_rejection_is_logged_as_the_move_with_its_reason(caplog: pytest.LogCaptureFixture) -> None:
    policy = AutomationPolicy.from_json(POLICY)
    with caplog.at_level(logging.INFO, logger="shipyard.alerts"):
        notify({"log": LogNotifier()}, policy, run_in("rejected"), "triggered", COOLDOWN, at=1_767_232_801_000)
    [record] = caplog.records
    assert record.levelname == "WARNING"
    assert record.getMessage() == f"[automation] churn-retrain on churn: triggered \u2192 rejected ({COOLDOWN})"


def test_a_move_event_reads_as_a_move_in_every_notifier_format() -> None:
    policy = AutomationPolicy.from_json(POLICY)
    event = move_event(policy, run_in("rejected"), "triggered", COOLDOWN, 1_767_232_801_000)
    assert event.source == "automation" and event.detail == COOLDOWN
    assert event.title == "[automation] churn-retrain on churn"
    assert event.summary == f"triggered \u2192 rejected ({COOLDOWN})"
    assert event.topic == "triggered \u2192 rejected"
    facts = dict(event.facts)
    assert facts == {"policy": "churn-retrain", "model": "churn", "run": "96d3e2da" * 4, "from": "triggered",
                     "to": "rejected", "severity": "warning"}
    text = "\n".join(message_lines(event))
    assert COOLDOWN in text and "automation_state" not in text and "monitor" not in text and "rule:" not in text
    # the labels stay, for notifiers (and tests) that read the states from them
    assert event.labels == {"run": "96d3e2da" * 4, "from_state": "triggered", "to_state": "rejected"}
    assert AlertEvent.from_json(event.to_json()) == event


def test_a_move_without_a_reason_says_what_its_evidence_holds() -> None:
    policy = AutomationPolicy.from_json(POLICY)
    created = move_event(policy, run_in("triggered"), None, "manual trigger: reason=x", 0)
    assert created.summary == "new \u2192 triggered (manual trigger: reason=x)"
    retraining = move_event(policy, run_in("retraining", {"retrain": {"pipeline": "train_churn"}}), "triggered",
                            None, 0)
    assert retraining.summary == "triggered \u2192 retraining (running pipeline train_churn)"
    evaluating = move_event(policy, run_in("evaluating", {"challenger_version": 2}), "retraining", None, 0)
    assert evaluating.summary == "retraining \u2192 evaluating (challenger churn/2)"
    assert move_event(policy, run_in("shadow"), "gated", None, 0).summary == "gated \u2192 shadow"
