"""The run state machine: every legal move allowed, every other refused naming both states."""

from __future__ import annotations

import pytest

from shipyard.automation import STATES, TERMINAL, TRANSITIONS, transition
from shipyard.errors import Conflict, InvalidInput

LEGAL = sorted((a, b) for a, nexts in TRANSITIONS.items() for b in nexts)
ILLEGAL = sorted((a, b) for a in STATES for b in STATES if b not in TRANSITIONS[a])


def test_the_happy_path_runs_from_triggered_to_promoted() -> None:
    state = "triggered"
    for nxt in ("retraining", "evaluating", "gated", "shadow", "canary", "promoted"):
        state = transition(state, nxt)
    assert state == "promoted" and state in TERMINAL


@pytest.mark.parametrize(("current", "to"), LEGAL, ids=[f"{a}->{b}" for a, b in LEGAL])
def test_each_legal_move_is_allowed(current: str, to: str) -> None:
    assert transition(current, to) == to


@pytest.mark.parametrize(("current", "to"), ILLEGAL, ids=[f"{a}->{b}" for a, b in ILLEGAL])
def test_each_illegal_move_is_a_conflict_naming_from_and_to(current: str, to: str) -> None:
    with pytest.raises(Conflict) as info:
        transition(current, to)
    assert (info.value.from_state, info.value.to_state) == (current, to)  # type: ignore[attr-defined]
    assert f"from {current} to {to}" in str(info.value)


def test_a_run_that_ended_goes_nowhere_and_a_run_cannot_stay_put() -> None:
    assert {"promoted", "rolled_back", "rejected"} == TERMINAL
    for state in TERMINAL:
        assert TRANSITIONS[state] == frozenset()
    assert all(state not in TRANSITIONS[state] for state in STATES)


def test_a_rollout_can_only_be_rolled_back_once_traffic_reached_the_challenger() -> None:
    assert {s for s in STATES if "rolled_back" in TRANSITIONS[s]} == {"shadow", "canary"}
    assert {s for s in STATES if "promoted" in TRANSITIONS[s]} == {"gated", "awaiting_approval", "shadow", "canary"}


@pytest.mark.parametrize(("current", "to", "field"), [("flying", "gated", "from_state"),
                                                      ("gated", "done", "to_state"), (None, "gated", "from_state")])
def test_an_unknown_state_is_invalid_input(current: str, to: str, field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        transition(current, to)
    assert info.value.field == field  # type: ignore[attr-defined]
