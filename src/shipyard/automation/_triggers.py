"""What starts a retrain: the triggers of an automation policy.

Each trigger is a frozen value object with ``to_json`` (its part of the policy's canonical
form) and ``read`` (from a :class:`~shipyard.automation._reader.Reader`, strictly); a
trigger's ``type`` says which it is. :func:`read_trigger` reads any of them.

>>> read_trigger({"type": "monitor", "monitor": "churn", "series": "accuracy", "below": 0.85}, "triggers[0]")
MonitorTrigger(monitor='churn', series='accuracy', above=None, below=0.85, for_windows=1, labels={})
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from shipyard.automation._reader import Reader, as_dict, dataset_name, join
from shipyard.errors import InvalidInput

__all__ = [
    "TRIGGER_TYPES",
    "AlertTrigger",
    "DatasetTrigger",
    "ManualTrigger",
    "MonitorTrigger",
    "ScheduleTrigger",
    "Trigger",
    "read_trigger",
]


@dataclass(frozen=True)
class AlertTrigger:
    """Retrain when the alert rule ``rule`` fires."""

    rule: str
    type: ClassVar[str] = "alert"

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "rule": self.rule}

    @classmethod
    def read(cls, r: Reader) -> AlertTrigger:
        return cls(r.string("rule"))


@dataclass(frozen=True)
class MonitorTrigger:
    """Retrain when monitor ``monitor``'s ``series`` (with ``labels``) is above ``above`` (or
    below ``below``) in each of the last ``for_windows`` windows."""

    monitor: str
    series: str
    above: float | None = None
    below: float | None = None
    for_windows: int = 1
    labels: Mapping[str, str] = field(default_factory=dict)
    type: ClassVar[str] = "monitor"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "monitor": self.monitor, "series": self.series}
        out.update({k: v for k, v in (("above", self.above), ("below", self.below)) if v is not None})
        out["for_windows"] = self.for_windows
        if self.labels:
            out["labels"] = as_dict(self.labels)
        return out

    @classmethod
    def read(cls, r: Reader) -> MonitorTrigger:
        above, below = r.number("above", None), r.number("below", None)
        if (above is None) == (below is None):
            raise InvalidInput(f"{r.path} needs exactly one of above or below (the threshold)",
                               field=r.field("above"))
        labels = r.mapping("labels", {})
        for key, value in labels.items():
            if not isinstance(value, str):
                raise InvalidInput(f"{join(r.field('labels'), key)} must be a string, got {value!r:.80}",
                                   field=join(r.field("labels"), key))
        return cls(r.string("monitor"), r.string("series"), above, below,
                   r.integer("for_windows", 1, minimum=1, maximum=1000), labels)


@dataclass(frozen=True)
class ScheduleTrigger:
    """Retrain on a cron schedule (``0 3 * * 1``: Mondays at 03:00), in ``timezone``."""

    cron: str
    timezone: str = "UTC"
    type: ClassVar[str] = "schedule"

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "cron": self.cron, "timezone": self.timezone}

    @classmethod
    def read(cls, r: Reader) -> ScheduleTrigger:
        cron, zone = r.string("cron"), r.string("timezone", "UTC")
        _check_cron(cron, r.field("cron"))
        _check_zone(zone, r.field("timezone"))
        return cls(cron, zone)


@dataclass(frozen=True)
class DatasetTrigger:
    """Retrain when a new version of dataset ``dataset`` is registered."""

    dataset: str
    type: ClassVar[str] = "dataset"

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "dataset": self.dataset}

    @classmethod
    def read(cls, r: Reader) -> DatasetTrigger:
        return cls(dataset_name(r.string("dataset"), r.field("dataset")))


@dataclass(frozen=True)
class ManualTrigger:
    """Retrain when someone asks (the policy can always be started by hand; this says it is meant to be)."""

    type: ClassVar[str] = "manual"

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type}

    @classmethod
    def read(cls, r: Reader) -> ManualTrigger:
        return cls()


Trigger = AlertTrigger | MonitorTrigger | ScheduleTrigger | DatasetTrigger | ManualTrigger

_TRIGGERS: dict[str, tuple[type[Any], tuple[str, ...]]] = {
    "alert": (AlertTrigger, ("rule",)),
    "monitor": (MonitorTrigger, ("monitor", "series", "above", "below", "for_windows", "labels")),
    "schedule": (ScheduleTrigger, ("cron", "timezone")),
    "dataset": (DatasetTrigger, ("dataset",)),
    "manual": (ManualTrigger, ()),
}


def _check_cron(expr: str, path: str) -> None:
    from croniter import croniter

    if not croniter.is_valid(expr):
        raise InvalidInput(f"{path} is not a cron expression: {expr!r:.80}", field=path)


def _check_zone(zone: str, path: str) -> None:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"{path} is not a time zone: {zone!r:.80}", field=path) from None


def read_trigger(raw: Any, path: str) -> Trigger:
    """The trigger the mapping ``raw`` at ``path`` describes (its ``type`` says which), read strictly."""
    kind = raw.get("type") if isinstance(raw, Mapping) else None
    if not isinstance(kind, str) or kind not in _TRIGGERS:
        if not isinstance(raw, Mapping):
            raise InvalidInput(f"{path} must be a mapping, got {type(raw).__name__}", field=path)
        raise InvalidInput(f"{join(path, 'type')} must be one of {', '.join(_TRIGGERS)}, got {kind!r:.80}",
                           field=join(path, "type"))
    cls, keys = _TRIGGERS[kind]
    trigger: Trigger = cls.read(Reader(raw, path, ("type", *keys)))
    return trigger


#: Every kind of trigger, for ``isinstance`` checks.
TRIGGER_TYPES = (AlertTrigger, MonitorTrigger, ScheduleTrigger, DatasetTrigger, ManualTrigger)
