"""What the alert routes (``/api/v1/alerts``) answer, as OpenAPI schemas.

Each model mirrors the ``to_json`` of :mod:`shipyard.alerting`'s entities field for field,
and forbids other fields. Times are integer milliseconds since the epoch.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Alert", "AlertEvent", "AlertEvents", "AlertRule", "Delivery", "HistoryEntry"]

_EXACT = ConfigDict(extra="forbid")


class AlertRule(BaseModel):
    """A named condition on one series, for one monitor (or every monitor: ``*``)."""

    model_config = _EXACT

    name: str
    condition: str = Field(description='The condition in the rule language, e.g. "accuracy < 0.85 for 3 windows"')
    series: str
    op: str
    threshold: float
    for_windows: int
    labels: dict[str, str]
    monitor: str
    severity: str = Field(description="info, warning or critical")
    notify: list[str] = Field(description="The notifiers told of each transition")
    repeat_interval_ms: int | None
    enabled: bool
    description: str | None
    created_at: int | None
    updated_at: int | None


class Alert(BaseModel):
    """The current state of one alert: one rule, monitor and label set."""

    model_config = _EXACT

    fingerprint: str
    rule: str
    monitor: str
    labels: dict[str, str]
    state: str = Field(description="firing or resolved")
    severity: str
    started_at: int
    resolved_at: int | None
    last_value: float | None
    last_window_end: int | None
    last_notified_at: int | None
    count: int


class HistoryEntry(BaseModel):
    """One line of the append-only alert history: a transition or a notification's outcome."""

    model_config = _EXACT

    id: int | None
    at: int
    kind: str = Field(description="fired, resolved, renotified, retired, notified or notify_failed")
    rule: str
    fingerprint: str | None
    monitor: str | None
    labels: dict[str, str] | None
    severity: str | None
    value: float | None
    window_end: int | None
    notifier: str | None
    detail: str | None


class Delivery(BaseModel):
    """Whether one notifier's message went out (``detail`` says why not)."""

    model_config = _EXACT

    notifier: str
    ok: bool
    detail: str | None


class AlertEvent(BaseModel):
    """A transition one evaluation claimed: firing, resolved, or repeat."""

    model_config = _EXACT

    kind: str
    rule: AlertRule
    fingerprint: str
    monitor: str
    labels: dict[str, str]
    value: float | None
    window_end: int | None
    at: int
    started_at: int
    count: int
    deliveries: list[Delivery]


class AlertEvents(BaseModel):
    """The transitions an evaluation claimed."""

    model_config = _EXACT

    items: list[AlertEvent]
