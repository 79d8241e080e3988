"""Value objects of monitors: the monitor, its computed windows, and the text grammars.

A monitor watches the inference log of one served model in fixed windows
(``window_s`` seconds, aligned to the epoch, so every monitor of an hourly window
agrees on where hours start). Model references name what is watched:

* ``churn`` — every route of the served model ``churn`` (shadow copies excluded);
* ``churn@production`` — the rows answered by route ``production`` (the label
  ``shipyard serve models:/churn@production`` gives its route), whatever version
  the alias pointed at when each request came;
* ``churn/3`` — the rows answered by version 3, on any route.

Windows are given as durations (see :func:`shipyard.timeutil.parse_duration`).

>>> parse_model_ref("churn@production")
ModelRef(name='churn', alias='production', version=None)
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from shipyard.errors import InvalidInput

__all__ = [
    "OPTIONS",
    "TASKS",
    "Monitor",
    "MonitorWindow",
    "ModelRef",
    "default_monitor_name",
    "parse_model_ref",
    "validate_monitor_name",
]

TASKS = ("classification", "regression")

#: Options a monitor understands, with their defaults (see :class:`Monitor`).
OPTIONS: Mapping[str, Any] = {
    "delay_s": 60,
    "route": None,
    "columns": None,
    "tests": None,
    "thresholds": None,
    "label_horizon_s": 7 * 86400,
    "drift_threshold": None,
}

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@:\-]{0,255}\Z")
_MODEL_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.\-]{0,255})(?:@([A-Za-z0-9_.\-]{1,256})|/([0-9]{1,9}))?\Z")
#: ``incomparable``: the window has rows but none of its inputs is in the reference, so
#: drift compares nothing; ``partial``: computed on request before the window closed
#: (never stored).
WINDOW_STATUSES = ("ok", "empty", "failed", "incomparable", "partial")


@dataclass(frozen=True)
class ModelRef:
    """What a monitor watches: a served model, narrowed to an alias's route or a version."""

    name: str
    alias: str | None = None
    version: int | None = None

    def __str__(self) -> str:
        if self.alias:
            return f"{self.name}@{self.alias}"
        return f"{self.name}/{self.version}" if self.version is not None else self.name


def parse_model_ref(ref: Any) -> ModelRef:
    """``churn``, ``churn@production`` or ``churn/3`` (a ``models:/`` prefix is accepted)."""
    text = ref.removeprefix("models:/") if isinstance(ref, str) else ref
    match = _MODEL_RE.match(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidInput(f"model must read churn, churn@production or churn/3, got {ref!r}", field="model")
    name, alias, version = match.groups()
    return ModelRef(name, alias, int(version) if version else None)


def validate_monitor_name(name: Any) -> str:
    """Monitor names: 1-256 letters, digits or ``_ . @ : -``, starting with a letter or digit."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidInput(f"monitor name must be 1-256 letters, digits or _.@:- starting with a letter or "
                           f"digit, got {name!r}", field="name")
    return name


def default_monitor_name(model: str) -> str:
    """The name a monitor gets when none is given: its model reference (``churn/3`` → ``churn@v3``)."""
    ref = parse_model_ref(model)
    return f"{ref.name}@v{ref.version}" if ref.version is not None else str(ref)


@dataclass(frozen=True)
class Monitor:
    """A monitor: which model's log, against which reference, in which windows.

    ``model`` is a model reference (see the module docstring); ``reference`` a dataset
    reference (``ds:churn@3``) whose stored profile the windows are compared with, or
    None (drift is then not computed, the rest is). ``task`` (``classification`` or
    ``regression``) selects the performance metrics; None guesses from the log (a
    logged ``probabilities`` column means classification). ``label_column`` is the
    reference's target column: it is left out of input drift and is the baseline of
    prediction drift.

    ``options`` (defaults in :data:`OPTIONS`): ``delay_s`` — a window is computed this
    long after it ends, so segments still in a serving worker's buffer are written
    first; ``route`` — the route whose rows count (``"*"``: every route but shadow);
    ``columns`` — the inputs to watch (default: every logged input); ``tests`` and
    ``thresholds`` — per-column drift test and threshold overrides; ``label_horizon_s``
    — how far back labels arriving late still recompute a window's performance;
    ``drift_threshold`` — the share of drifted columns that makes a window drifted.

    ``cursor`` is the end of the last computed window (the next one starts there);
    ``label_watermark`` the arrival time up to which labels have been applied.
    """

    name: str
    model: str
    window_s: int
    reference: str | None = None
    task: str | None = None
    label_column: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    cursor: int | None = None
    label_watermark: int | None = None
    created_at: int = 0
    updated_at: int = 0

    def __post_init__(self) -> None:
        validate_monitor_name(self.name)
        parse_model_ref(self.model)
        if not isinstance(self.window_s, int) or isinstance(self.window_s, bool) or self.window_s < 1:
            raise InvalidInput(f"window_s must be a positive integer, got {self.window_s!r}", field="window")
        if self.task is not None and self.task not in TASKS:
            raise InvalidInput(f"task must be one of {TASKS} or None, got {self.task!r}", field="task")
        if self.reference is not None and (not isinstance(self.reference, str) or not self.reference):
            raise InvalidInput(f"reference must be a dataset reference such as ds:churn@3, got "
                               f"{self.reference!r}", field="reference")
        if not isinstance(self.options, Mapping):
            raise InvalidInput("options must be a mapping", field="options")
        unknown = sorted(set(self.options) - set(OPTIONS))
        if unknown:
            raise InvalidInput(f"unknown monitor options {unknown} (known: {sorted(OPTIONS)})", field="options")
        delay = self.options.get("delay_s")
        if delay is not None and (not isinstance(delay, int | float) or isinstance(delay, bool) or delay < 0):
            raise InvalidInput(f"delay_s must be a number of seconds >= 0, got {delay!r}", field="delay_s")
        for key in ("columns",):
            value = self.options.get(key)
            if value is not None and (not isinstance(value, list | tuple)
                                      or not all(isinstance(c, str) for c in value)):
                raise InvalidInput(f"{key} must be a list of column names", field=key)
        for key in ("tests", "thresholds"):
            value = self.options.get(key)
            if value is not None and not isinstance(value, Mapping):
                raise InvalidInput(f"{key} must map column names to values", field=key)
        try:
            json.dumps(dict(self.options))
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"options must be JSON values: {exc}", field="options") from None

    def option(self, key: str) -> Any:
        """The option's value, or its default."""
        value = self.options.get(key)
        return OPTIONS[key] if value is None else value

    @property
    def model_ref(self) -> ModelRef:
        return parse_model_ref(self.model)

    @property
    def window_ms(self) -> int:
        return self.window_s * 1000

    def first_window_start(self, at_ms: int) -> int:
        """The start of the window holding ``at_ms``."""
        return at_ms - at_ms % self.window_ms

    def closed_windows(self, now: int, limit: int | None = None) -> list[tuple[int, int]]:
        """``(start, end)`` of every window after the cursor that ended ``delay_s`` before ``now``."""
        start = self.cursor if self.cursor is not None else self.first_window_start(self.created_at)
        last_end = now - int(float(self.option("delay_s")) * 1000)
        windows: list[tuple[int, int]] = []
        while start + self.window_ms <= last_end and (limit is None or len(windows) < limit):
            windows.append((start, start + self.window_ms))
            start += self.window_ms
        return windows

    def with_(self, **changes: Any) -> Monitor:
        return replace(self, **changes)


@dataclass(frozen=True)
class MonitorWindow:
    """One computed window: its rows, status (one of :data:`WINDOW_STATUSES`), the model
    version that answered most of its rows, and its stored profiles (JSON) when asked for.

    ``detail`` says what the status alone does not: why a window is ``incomparable``,
    the inputs the reference lacks, the data-quality issues found."""

    monitor: str
    window_start: int
    window_end: int
    rows: int
    status: str
    version: str | None = None
    detail: str | None = None
    profile: dict[str, Any] | None = None
    prediction_profile: dict[str, Any] | None = None
    computed_at: int = 0

    def __post_init__(self) -> None:
        if self.status not in WINDOW_STATUSES:
            raise InvalidInput(f"window status must be one of {WINDOW_STATUSES}, got {self.status!r}",
                               field="status")
        if self.window_end <= self.window_start:
            raise InvalidInput("a window must end after it starts", field="window_end")
