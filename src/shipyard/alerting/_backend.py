"""Where alert rules, alert states and the alert history live: the interfaces.

:class:`AlertStore` is what every backend offers (SQL in-process, HTTP to a server):
rules, the alerts they raised, the history. :class:`AlertStateStore` adds what an
:class:`~shipyard.alerting._engine.AlertEngine` needs to change alert states; only a
store holding the database directly implements it (a remote client asks the server
to evaluate instead).

A transition is *claimed*: :meth:`AlertStateStore.claim` applies it only if the
alert is still in the state the evaluator saw, and appends its history line in the
same transaction. Of several evaluators racing over the same points exactly one
claims each transition, and only that one notifies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from shipyard.alerting._entities import Alert, AlertEvent, HistoryEntry
from shipyard.alerting._rules import AlertRule

__all__ = ["MAX_HISTORY", "AlertStateStore", "AlertStore"]

#: The most history lines one :meth:`AlertStore.history` call returns.
MAX_HISTORY = 10_000


@runtime_checkable
class AlertStore(Protocol):
    """Alert rules, the alerts they raised and the history of both."""

    def create_rule(self, rule: AlertRule, *, replace: bool = False) -> AlertRule:
        """Store ``rule`` (``AlreadyExists`` if the name is taken, unless ``replace``).

        Replacing a rule retires its alerts (a firing one is resolved without a
        notification and the history says why): their conditions were the old rule's.
        """
        ...

    def get_rule(self, name: str) -> AlertRule:
        """The rule called ``name``, or ``NotFound``."""
        ...

    def list_rules(self) -> list[AlertRule]:
        """Every rule, by name."""
        ...

    def delete_rule(self, name: str) -> None:
        """Delete the rule and its alerts (history stays); ``NotFound`` if there is none."""
        ...

    def list_alerts(self, state: str | None = None, rule: str | None = None) -> list[Alert]:
        """Alerts, firing first, then most recently started; optionally of one state or rule."""
        ...

    def history(self, rule: str | None = None, fingerprint: str | None = None,
                limit: int = 100) -> list[HistoryEntry]:
        """The newest ``limit`` (at most 10,000) history lines, newest first."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class AlertStateStore(AlertStore, Protocol):
    """An :class:`AlertStore` an evaluator can change alert states through."""

    def alerts_of(self, rule: str) -> dict[str, Alert]:
        """The alerts of ``rule`` by fingerprint."""
        ...

    def claim(self, event: AlertEvent) -> bool:
        """Apply the transition ``event`` describes if it is still due, with its history line.

        ``firing``: the alert is new or resolved; ``resolved``: it is firing;
        ``repeat``: it is firing and was last notified at least the rule's repeat
        interval before ``event.at``. False when another evaluator got there first.
        """
        ...

    def observe(self, fingerprint: str, value: float | None, window_end: int | None) -> None:
        """Record the newest value of a firing alert (no transition, no history)."""
        ...

    def record(self, entries: Sequence[HistoryEntry]) -> None:
        """Append history lines (notification outcomes)."""
        ...
