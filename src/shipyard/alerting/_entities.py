"""Value objects of alerting: an alert's state, a transition to notify, a history entry.

An *alert* is one label set of one rule (its *fingerprint*: rule name, monitor and the
point's labels). It is ``firing`` or ``resolved``; each firing of the same label set
reuses the row, and ``count`` says how many times it has fired. Every transition and
every notification outcome is appended to the history as a :class:`HistoryEntry`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shipyard.alerting._rules import AlertRule, format_number
from shipyard.alerting._series import labels_key

__all__ = ["EVENT_KINDS", "SOURCES", "STATES", "Alert", "AlertEvent", "Delivery", "HistoryEntry", "fingerprint"]

STATES = ("firing", "resolved")
#: History kinds: transitions (fired, resolved, renotified, retired: the rule was
#: changed or deleted while the alert fired) and notification outcomes.
EVENT_KINDS = ("fired", "resolved", "renotified", "retired", "notified", "notify_failed")
#: What an :class:`AlertEvent` tells of: a rule's alert, or an automation run's move.
SOURCES = ("alert", "automation")


def fingerprint(rule: str, monitor: str, labels: Mapping[str, str]) -> str:
    """The identity of one rule's alert for one monitor and label set (32 hex characters)."""
    return hashlib.sha256(f"{rule}\n{monitor}\n{labels_key(labels)}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Alert:
    """The current state of one alert (one rule, monitor and label set)."""

    fingerprint: str
    rule: str
    monitor: str
    labels: Mapping[str, str] = field(hash=False)
    state: str
    severity: str
    started_at: int
    resolved_at: int | None = None
    last_value: float | None = None
    last_window_end: int | None = None
    last_notified_at: int | None = None
    count: int = 1

    def to_json(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "rule": self.rule, "monitor": self.monitor,
                "labels": dict(self.labels), "state": self.state, "severity": self.severity,
                "started_at": self.started_at, "resolved_at": self.resolved_at, "last_value": self.last_value,
                "last_window_end": self.last_window_end, "last_notified_at": self.last_notified_at,
                "count": self.count}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Alert:
        return cls(**{**data, "labels": dict(data.get("labels") or {})})


@dataclass(frozen=True)
class Delivery:
    """What became of one notifier's message about a transition: ``ok``, or why not (``detail``)."""

    notifier: str
    ok: bool
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"notifier": self.notifier, "ok": self.ok, "detail": self.detail}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Delivery:
        return cls(str(data["notifier"]), bool(data["ok"]), data.get("detail"))


@dataclass(frozen=True)
class AlertEvent:
    """A transition this evaluation claimed, as handed to every notifier of the rule.

    ``kind`` is ``firing`` (newly fired), ``resolved``, or ``repeat`` (still firing,
    notified again after the rule's repeat interval). ``value`` and ``window_end`` are
    those of the newest window, the one that decided the transition. ``deliveries``
    (filled in once the notifiers were tried) says, per notifier, whether the message
    went out.

    ``source`` says what the event tells of: ``alert`` (a rule's transition, above) or
    ``automation`` (an automation run's move: the rule is named after the policy, the
    monitor is the policy's model, the labels hold ``run``, ``from_state`` and
    ``to_state``, and ``detail`` is the move's reason). :attr:`title`, :attr:`summary`,
    :attr:`topic` and :attr:`facts` read each as what it is, for every notifier.
    """

    kind: str
    rule: AlertRule
    fingerprint: str
    monitor: str
    labels: Mapping[str, str] = field(hash=False)
    value: float | None
    window_end: int | None
    at: int
    started_at: int
    count: int = 1
    deliveries: tuple[Delivery, ...] = ()
    source: str = "alert"
    detail: str | None = None

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"an alert event's source is one of {', '.join(SOURCES)}, got {self.source!r}")

    @property
    def severity(self) -> str:
        return self.rule.severity

    @property
    def move(self) -> str:
        """An automation move's states, ``triggered → rejected`` (``new`` for a run just created)."""
        return f"{self.labels.get('from_state', 'new')} \u2192 {self.labels.get('to_state', '?')}"

    @property
    def series_text(self) -> str:
        """The watched series with its labels, e.g. ``feature_drift_score{monitor="churn",feature="age"}``."""
        labels = ",".join(f'{k}="{v}"' for k, v in {"monitor": self.monitor, **self.labels}.items())
        return f"{self.rule.series}{{{labels}}}"

    @property
    def title(self) -> str:
        """One line: ``[FIRING] drift (warning) on churn``; for an automation move, the policy and
        the model: ``[automation] churn-retrain on churn``."""
        if self.source == "automation":
            return f"[automation] {self.rule.name} on {self.monitor}"
        return f"[{self.kind.upper()}] {self.rule.name} ({self.severity}) on {self.monitor}"

    @property
    def summary(self) -> str:
        """What was seen against what the rule asks, in one sentence; for an automation move,
        the states and why: ``triggered → rejected (cooldown: …)``."""
        if self.source == "automation":
            return f"{self.move} ({self.detail})" if self.detail else self.move
        value = "no value" if self.value is None else format_number(float(self.value))
        verb = "resolved:" if self.kind == "resolved" else "is"
        windows = f" for {self.rule.for_windows} windows" if self.rule.for_windows > 1 else ""
        condition = f"{self.rule.op} {format_number(self.rule.threshold)}{windows}"
        return f"{self.series_text} {verb} {value} (rule: {condition})"

    @property
    def topic(self) -> str:
        """What the event is about, in a few words (an e-mail's subject after the title): the
        watched series, or an automation move's states."""
        return self.move if self.source == "automation" else self.rule.series

    @property
    def facts(self) -> list[tuple[str, str]]:
        """The name and value pairs a notification lists (a Slack attachment's fields)."""
        if self.source == "automation":
            return [("policy", self.rule.name), ("model", self.monitor), ("run", self.labels.get("run", "?")),
                    ("from", self.labels.get("from_state", "new")), ("to", self.labels.get("to_state", "?")),
                    ("severity", self.severity)]
        value = "-" if self.value is None else format_number(float(self.value))
        return [("rule", self.rule.condition), ("monitor", self.monitor), ("value", value),
                ("severity", self.severity), *self.labels.items()]

    @property
    def failed_deliveries(self) -> tuple[Delivery, ...]:
        """The notifiers this transition did not reach."""
        return tuple(d for d in self.deliveries if not d.ok)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "rule": self.rule.to_json(), "fingerprint": self.fingerprint,
                "monitor": self.monitor, "labels": dict(self.labels), "value": self.value,
                "window_end": self.window_end, "at": self.at, "started_at": self.started_at, "count": self.count,
                "deliveries": [d.to_json() for d in self.deliveries],
                # a rule's transition keeps the shape the alerts API has always answered
                **({"source": self.source, "detail": self.detail} if self.source != "alert" else {})}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AlertEvent:
        return cls(**{**data, "rule": AlertRule.from_json(data["rule"]), "labels": dict(data.get("labels") or {}),
                      "deliveries": tuple(Delivery.from_json(d) for d in data.get("deliveries") or ())})


@dataclass(frozen=True)
class HistoryEntry:
    """One line of the append-only alert history (``id`` is set by the store)."""

    at: int
    kind: str
    rule: str
    fingerprint: str | None = None
    monitor: str | None = None
    labels: Mapping[str, str] | None = field(default=None, hash=False)
    severity: str | None = None
    value: float | None = None
    window_end: int | None = None
    notifier: str | None = None
    detail: str | None = None
    id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "at": self.at, "kind": self.kind, "rule": self.rule,
                "fingerprint": self.fingerprint, "monitor": self.monitor,
                "labels": None if self.labels is None else dict(self.labels), "severity": self.severity,
                "value": self.value, "window_end": self.window_end, "notifier": self.notifier,
                "detail": self.detail}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HistoryEntry:
        return cls(**data)

    @classmethod
    def of(cls, event: AlertEvent, kind: str, *, notifier: str | None = None,
           detail: str | None = None) -> HistoryEntry:
        """The history line of ``event`` (a transition, or one notifier's outcome for it)."""
        return cls(at=event.at, kind=kind, rule=event.rule.name, fingerprint=event.fingerprint,
                   monitor=event.monitor, labels=dict(event.labels), severity=event.severity, value=event.value,
                   window_end=event.window_end, notifier=notifier, detail=detail)
