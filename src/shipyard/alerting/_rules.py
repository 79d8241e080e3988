"""Alert rules: a condition on one monitored series, and the rule that wraps it.

The condition language reads like the thing it watches::

    drift_share > 0.3 for 2 windows
    accuracy < 0.85
    p99_latency_ms > 200
    feature_drift_score{feature="age"} >= 0.2 for 3 windows

A series name (any name a monitor writes, model-quality metrics such as ``accuracy``
or ``f1`` included), an optional label filter of ``name="value"`` pairs, one of
``> >= < <= == !=``, a finite number, and optionally ``for N windows`` (default 1).
A rule fires when its condition holds for the last N consecutive windows of a label
set, and resolves when the newest window no longer satisfies it.

>>> rule = parse_rule("drift_share > 0.3 for 2 windows", name="drift", monitor="churn")
>>> rule.series, rule.op, rule.threshold, rule.for_windows
('drift_share', '>', 0.3, 2)
>>> rule.holds(0.4), rule.holds(0.2), rule.holds(None)
(True, False, False)
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from shipyard.errors import InvalidInput
from shipyard.timeutil import parse_duration

__all__ = ["COMPARATORS", "SEVERITIES", "AlertRule", "format_number", "parse_rule"]

COMPARATORS: Mapping[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
}
SEVERITIES = ("info", "warning", "critical")
MAX_WINDOWS = 1000

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")
_MONITOR = re.compile(r"\*|[A-Za-z0-9][A-Za-z0-9_.@:\-]{0,255}")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OP = re.compile(r">=|<=|==|!=|>|<")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_FOR = re.compile(r"for\s+(\S+)\s+(windows?)\s*$|for\b(.*)$")
_JSON_KEYS = frozenset({"name", "condition", "series", "op", "threshold", "for_windows", "labels", "monitor",
                        "severity", "notify", "repeat_interval_ms", "enabled", "description", "created_at",
                        "updated_at"})
_LABEL_VALUE = re.compile(r'"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class AlertRule:
    """A named condition on one series, for one monitor (or every monitor with ``"*"``).

    ``notify`` names notifiers (configured under ``[alerts.notifiers.<name>]``, or
    ``log``); ``repeat_interval_ms``, when set, re-notifies a still-firing alert that
    often. Construct with :func:`parse_rule`; the constructor checks every field and
    raises :class:`~shipyard.errors.InvalidInput` naming the bad one.
    """

    name: str
    series: str
    op: str
    threshold: float
    for_windows: int = 1
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    monitor: str = "*"
    severity: str = "warning"
    notify: tuple[str, ...] = ()
    repeat_interval_ms: int | None = None
    enabled: bool = True
    description: str | None = None
    created_at: int | None = None
    updated_at: int | None = None

    def __post_init__(self) -> None:
        _check(isinstance(self.name, str) and _NAME.fullmatch(self.name) is not None, "name",
               f"a rule name is 1-128 letters, digits, '_', '.' or '-', starting with a letter or digit; "
               f"got {self.name!r}")
        _check(isinstance(self.monitor, str) and _MONITOR.fullmatch(self.monitor) is not None, "monitor",
               f"monitor must be a monitor's name or '*' (every monitor), got {self.monitor!r}")
        _check(isinstance(self.series, str) and _IDENT.fullmatch(self.series) is not None
               and len(self.series) <= 128, "rule", f"not a series name: {self.series!r}")
        _check(self.op in COMPARATORS, "rule", f"comparator must be one of {' '.join(COMPARATORS)}, got {self.op!r}")
        _check(isinstance(self.threshold, (int, float)) and not isinstance(self.threshold, bool)
               and math.isfinite(self.threshold), "rule", f"threshold must be a finite number, got {self.threshold!r}")
        _check(isinstance(self.for_windows, int) and not isinstance(self.for_windows, bool)
               and 1 <= self.for_windows <= MAX_WINDOWS, "rule",
               f"'for' takes 1 to {MAX_WINDOWS} windows, got {self.for_windows!r}")
        _check(self.severity in SEVERITIES, "severity",
               f"severity must be one of {', '.join(SEVERITIES)}, got {self.severity!r}")
        _check(isinstance(self.notify, tuple) and all(isinstance(n, str) and _NAME.fullmatch(n) for n in self.notify),
               "notify", f"notify takes notifier names (letters, digits, '_', '.', '-'), got {self.notify!r}")
        _check(self.repeat_interval_ms is None or (isinstance(self.repeat_interval_ms, int)
                                                  and not isinstance(self.repeat_interval_ms, bool)
                                                  and self.repeat_interval_ms > 0),
               "repeat_interval", f"repeat interval must be positive, got {self.repeat_interval_ms!r}")
        _check(isinstance(self.labels, Mapping) and all(
            isinstance(k, str) and _IDENT.fullmatch(k) and isinstance(v, str) for k, v in self.labels.items()),
            "rule", f"labels must map label names to strings, got {self.labels!r}")
        _check(isinstance(self.enabled, bool), "enabled", f"enabled must be true or false, got {self.enabled!r}")
        _check(self.description is None or isinstance(self.description, str), "description",
               f"description must be text, got {self.description!r}")
        object.__setattr__(self, "threshold", float(self.threshold))
        object.__setattr__(self, "labels", dict(sorted(self.labels.items())))

    @property
    def condition(self) -> str:
        """The condition in the rule language; :func:`parse_rule` reads it back to an equal rule."""
        labels = ",".join(f'{k}="{_escape(v)}"' for k, v in self.labels.items())
        text = f"{self.series}{{{labels}}}" if labels else self.series
        windows = f" for {self.for_windows} windows" if self.for_windows > 1 else ""
        return f"{text} {self.op} {format_number(self.threshold)}{windows}"

    def holds(self, value: float | None) -> bool:
        """Whether one window's value satisfies the condition (None and NaN never do)."""
        if value is None or math.isnan(value):
            return False
        return COMPARATORS[self.op](value, self.threshold)

    def with_(self, **changes: Any) -> AlertRule:
        """A copy with some fields changed (checked again)."""
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "condition": self.condition, "series": self.series, "op": self.op,
                "threshold": self.threshold, "for_windows": self.for_windows, "labels": dict(self.labels),
                "monitor": self.monitor, "severity": self.severity, "notify": list(self.notify),
                "repeat_interval_ms": self.repeat_interval_ms, "enabled": self.enabled,
                "description": self.description, "created_at": self.created_at, "updated_at": self.updated_at}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AlertRule:
        """A rule from :meth:`to_json`'s shape; ``condition`` alone is enough for the condition part."""
        if not isinstance(data, Mapping):
            raise InvalidInput("a rule is a JSON object", field="body")
        unknown = sorted(set(data) - _JSON_KEYS)
        if unknown:
            raise InvalidInput(f"unknown rule fields {unknown}", field=str(unknown[0]))
        if not isinstance(data.get("enabled", True), bool):
            raise InvalidInput(f"enabled must be true or false, got {data['enabled']!r}", field="enabled")
        if "series" not in data and "condition" in data:
            base = parse_rule(_text(data["condition"], "condition"), name=_text(data.get("name"), "name"))
            data = {**base.to_json(), **{k: v for k, v in data.items() if k != "condition"}}
        try:
            return cls(
                name=data.get("name"), series=data.get("series"), op=data.get("op"),  # type: ignore[arg-type]
                threshold=data.get("threshold"), for_windows=data.get("for_windows", 1),  # type: ignore[arg-type]
                labels=data.get("labels") or {}, monitor=data.get("monitor", "*"),
                severity=data.get("severity", "warning"), notify=_notify(data.get("notify") or ()),
                repeat_interval_ms=data.get("repeat_interval_ms"), enabled=data.get("enabled", True),
                description=data.get("description"), created_at=data.get("created_at"),
                updated_at=data.get("updated_at"))
        except TypeError as exc:
            raise InvalidInput(f"malformed rule: {exc}", field="body") from None


def parse_rule(text: str, *, name: str | None = None, monitor: str = "*", severity: str = "warning",
               notify: Iterable[str] | str = (), repeat_interval: str | int | None = None, enabled: bool = True,
               description: str | None = None) -> AlertRule:
    """Parse a condition such as ``"drift_share > 0.3 for 2 windows"`` into a rule.

    ``name`` defaults to the series name; ``repeat_interval`` is a duration
    (``"4h"``, ``"30m"``) or a number of seconds. Any mistake raises
    :class:`~shipyard.errors.InvalidInput` whose ``field`` names the argument
    (``"rule"`` for the condition text) and whose message says what was expected.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("a rule needs a condition, e.g. 'drift_share > 0.3 for 2 windows'", field="rule")
    rest = text.strip()
    series = _IDENT.match(rest)
    if series is None:
        raise InvalidInput(f"a rule starts with a series name (e.g. drift_share, accuracy), got {text!r}",
                           field="rule")
    rest = rest[series.end():].lstrip()
    labels: dict[str, str] = {}
    if rest.startswith("{"):
        labels, rest = _labels(rest, text)
    op = _OP.match(rest)
    if op is None:
        raise InvalidInput(f"expected a comparator ({' '.join(COMPARATORS)}) after {series.group()!r} in {text!r}",
                           field="rule")
    rest = rest[op.end():].lstrip()
    number = _NUMBER.match(rest)
    if number is None or (number.end() < len(rest) and not rest[number.end()].isspace()):
        got = rest.split()[0] if rest.split() else "nothing"
        raise InvalidInput(f"expected a number after {op.group()!r} in {text!r}, got {got!r}", field="rule")
    threshold = float(number.group())
    if not math.isfinite(threshold):
        raise InvalidInput(f"threshold must be finite in {text!r}", field="rule")
    rest = rest[number.end():].strip()
    windows = 1
    if rest:
        windows = _for_windows(rest, text)
    if isinstance(notify, str):
        notify = [n for n in re.split(r"[,\s]+", notify) if n]
    return AlertRule(name=series.group() if name is None else name, series=series.group(), op=op.group(),
                     threshold=threshold, for_windows=windows, labels=labels, monitor=monitor, severity=severity,
                     notify=_notify(notify), repeat_interval_ms=_repeat(repeat_interval), enabled=enabled,
                     description=description)


def format_number(value: float) -> str:
    """The shortest text that reads back as ``value`` (``200``, ``0.3``, ``1e-05``)."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _labels(rest: str, text: str) -> tuple[dict[str, str], str]:
    """Read ``{a="x", b="y"}`` at the start of ``rest``; return the labels and what follows."""
    labels: dict[str, str] = {}
    pos = 1
    while True:
        while pos < len(rest) and rest[pos].isspace():
            pos += 1
        if rest.startswith("}", pos):
            return labels, rest[pos + 1:].lstrip()
        key = _IDENT.match(rest, pos)
        if key is None:
            raise InvalidInput(f'expected a label name in {text!r} (labels read {{feature="age"}})', field="rule")
        pos = key.end()
        while pos < len(rest) and rest[pos].isspace():
            pos += 1
        if not rest.startswith("=", pos) or rest.startswith("==", pos):
            raise InvalidInput(f"expected '=' after label {key.group()!r} in {text!r}", field="rule")
        pos += 1
        while pos < len(rest) and rest[pos].isspace():
            pos += 1
        value = _LABEL_VALUE.match(rest, pos)
        if value is None:
            raise InvalidInput(f"label {key.group()!r} needs a double-quoted value in {text!r}", field="rule")
        if key.group() in labels:
            raise InvalidInput(f"label {key.group()!r} is given twice in {text!r}", field="rule")
        labels[key.group()] = re.sub(r"\\(.)", r"\1", value.group(1))
        pos = value.end()
        while pos < len(rest) and rest[pos].isspace():
            pos += 1
        if rest.startswith(",", pos):
            pos += 1
        elif not rest.startswith("}", pos):
            raise InvalidInput(f"expected ',' or '}}' after label {key.group()!r} in {text!r}", field="rule")


def _for_windows(rest: str, text: str) -> int:
    match = _FOR.match(rest)
    if match is None:
        raise InvalidInput(f"unexpected {rest!r} in {text!r}: a condition may end with 'for N windows'",
                           field="rule")
    count = match.group(1)
    if count is None or not count.isdigit():
        raise InvalidInput(f"expected 'for N windows' (N a whole number) in {text!r}", field="rule")
    windows = int(count)
    if not 1 <= windows <= MAX_WINDOWS:
        raise InvalidInput(f"'for' takes 1 to {MAX_WINDOWS} windows, got {windows} in {text!r}", field="rule")
    return windows


def _repeat(value: str | int | None) -> int | None:
    return None if value is None or value == "" else parse_duration(value, "repeat_interval") * 1000


def _notify(names: Iterable[str]) -> tuple[str, ...]:
    if isinstance(names, str):
        names = [names]
    try:
        out = tuple(dict.fromkeys(names))
    except TypeError:
        raise InvalidInput(f"notify takes a list of notifier names, got {names!r}", field="notify") from None
    return out


def _text(value: Any, name: str) -> Any:
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string, got {value!r}", field=name)
    return value


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _check(ok: bool, name: str, message: str) -> None:
    if not ok:
        raise InvalidInput(message, field=name)
