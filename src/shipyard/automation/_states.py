"""The states of an automation run and the moves between them, defined once.

A run of a policy goes::

    triggered → retraining → evaluating → gated → shadow → canary → promoted
        │             │            │         │       │        └────→ rolled_back
        │             │            │         │       └─────────────→ rolled_back
        └─────────────┴────────────┴─────────┴──→ rejected    (a guard, a failed retrain, a lost test, a gate)

with shortcuts where a stage is skipped (no shadow: ``gated → canary``; no canary:
``shadow → promoted``), and ``awaiting_approval`` where a person must decide: entered
from ``triggered``, ``gated``, ``shadow`` or ``canary``, left by an approval to the
state the run was heading for, or by a rejection to ``rejected``. ``promoted``,
``rolled_back`` and ``rejected`` end a run.

:func:`transition` is the one judge of a move; the store calls it, and refuses what
it refuses.

>>> transition("gated", "shadow")
'shadow'
>>> transition("promoted", "canary")
Traceback (most recent call last):
...
shipyard.errors.Conflict: an automation run cannot move from promoted to canary (promoted ends a run)
"""

from __future__ import annotations

from collections.abc import Mapping

from shipyard.errors import Conflict, InvalidInput

__all__ = ["AWAITING_APPROVAL", "STATES", "TERMINAL", "TRANSITIONS", "check_state", "transition"]

AWAITING_APPROVAL = "awaiting_approval"

#: Every state, in the order a run passes them.
STATES = ("triggered", "retraining", "evaluating", "gated", AWAITING_APPROVAL, "shadow", "canary", "promoted",
          "rolled_back", "rejected")

#: The states that end a run.
TERMINAL = frozenset({"promoted", "rolled_back", "rejected"})

#: Each state's allowed next states.
TRANSITIONS: Mapping[str, frozenset[str]] = {
    "triggered": frozenset({"retraining", AWAITING_APPROVAL, "rejected"}),
    "retraining": frozenset({"evaluating", "rejected"}),
    "evaluating": frozenset({"gated", "rejected"}),
    "gated": frozenset({"shadow", "canary", "promoted", AWAITING_APPROVAL, "rejected"}),
    AWAITING_APPROVAL: frozenset({"retraining", "shadow", "canary", "promoted", "rejected"}),
    "shadow": frozenset({"canary", "promoted", AWAITING_APPROVAL, "rolled_back"}),
    "canary": frozenset({"promoted", AWAITING_APPROVAL, "rolled_back"}),
    "promoted": frozenset(),
    "rolled_back": frozenset(),
    "rejected": frozenset(),
}

assert set(TRANSITIONS) == set(STATES) and {s for s, nxt in TRANSITIONS.items() if not nxt} == TERMINAL


def check_state(state: object, field: str = "state") -> str:
    """``state`` if it names a state, else :class:`InvalidInput` naming ``field``."""
    if not isinstance(state, str) or state not in TRANSITIONS:
        raise InvalidInput(f"{field} must be one of {', '.join(STATES)}, got {state!r:.80}", field=field)
    return state


def transition(current: str, to: str) -> str:
    """``to``, if a run in state ``current`` may move there; else :class:`Conflict` naming both
    (``from_state``, ``to_state``) and the moves that are allowed. An unknown state name is
    :class:`InvalidInput`."""
    check_state(current, "from_state")
    check_state(to, "to_state")
    allowed = TRANSITIONS[current]
    if to not in allowed:
        why = f"{current} ends a run" if not allowed else f"from {current}: {', '.join(sorted(allowed))}"
        raise Conflict(f"an automation run cannot move from {current} to {to} ({why})",
                       from_state=current, to_state=to, allowed=sorted(allowed))
    return to
