"""Value objects of experiment tracking: what the stores return and the wire carries.

All are frozen dataclasses; times are integer milliseconds since the epoch (UTC).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidInput, TooLarge
from shipyard.store import MAX_KEY_LENGTH, check_name

if TYPE_CHECKING:
    from shipyard.config import Config

__all__ = [
    "ArtifactInfo",
    "Experiment",
    "LogBatch",
    "Metric",
    "Page",
    "Run",
    "RunStatus",
    "ValueLimits",
    "check_batch",
    "current_user",
    "default_run_name",
    "new_run_id",
    "now_ms",
    "validate_key",
    "validate_run_id",
]

_KEY_RE = re.compile(r"[A-Za-z0-9_\-. /:]+")
_RUN_ID_RE = re.compile(r"^[0-9a-f]{32}\Z")
MAX_PARAM_LENGTH = 6000  # MLflow's MAX_PARAM_VAL_LENGTH
MAX_TAG_LENGTH = 8000  # MLflow's MAX_TAG_VAL_LENGTH


class RunStatus(StrEnum):
    """Lifecycle of a run; the names match MLflow's."""

    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    @property
    def is_terminal(self) -> bool:
        return self in (RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED)


def now_ms() -> int:
    """The current time in integer milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


def new_run_id() -> str:
    """A fresh run id: 32 lowercase hex characters."""
    return uuid.uuid4().hex


def default_run_name(run_id: str) -> str:
    """The name a run gets when none is given: ``run-`` and the first 8 characters of its id."""
    return f"run-{run_id[:8]}"


def current_user() -> str | None:
    """The login name of this process's user, or None when the system cannot tell."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def validate_key(key: Any, field_name: str = "key") -> str:
    """Return ``key`` if it is a legal metric/param/tag key, else raise InvalidInput.

    Keys are 1–250 characters of letters, digits and ``_ - . / : space``.
    """
    check_name(key, field_name, max_length=MAX_KEY_LENGTH)
    if not _KEY_RE.fullmatch(key) or ".." in key.split("/") or key.startswith("/"):
        raise InvalidInput(
            f"{field_name} {key!r} has illegal characters: use letters, digits and _-. /:",
            field=field_name,
        )
    return key


@dataclass(frozen=True)
class ValueLimits:
    """The most characters a param value and a run tag value may have; MLflow's by default.

    A longer value is refused, never cut: :class:`~shipyard.errors.TooLarge` naming the
    key as its ``field``, with the ``limit``. A value holding NUL is refused too (one
    database would store it, the other not). ``Config.max_param_length`` and
    ``Config.max_tag_length`` set a store's limits.

    >>> ValueLimits().check("param", [("lr", "0.1")])
    >>> ValueLimits(param=3).check("param", [("lr", "0.125")])
    Traceback (most recent call last):
    ...
    shipyard.errors.TooLarge: param 'lr' has a value of 5 characters; the limit is 3
    """

    param: int = MAX_PARAM_LENGTH
    tag: int = MAX_TAG_LENGTH

    @classmethod
    def of(cls, config: Config) -> ValueLimits:
        """The limits ``config`` sets (``max_param_length``, ``max_tag_length``)."""
        return cls(config.max_param_length, config.max_tag_length)

    def check(self, kind: str, items: Iterable[tuple[str, Any]], at: str = "") -> None:
        """Check the ``(key, value)`` pairs of a ``"param"`` or a ``"tag"`` (values taken as ``str``).

        The error's ``field`` is the key, after ``at`` and a dot when ``at`` is given.
        """
        limit = self.param if kind == "param" else self.tag
        for key, value in items:
            text = value if isinstance(value, str) else str(value)
            if len(text) > limit:
                raise TooLarge(f"{kind} {key!r} has a value of {len(text)} characters; the limit is {limit}",
                               field=f"{at}.{key}" if at else key, limit=limit)
            if "\x00" in text:
                raise InvalidInput(f"{kind} {key!r} has a value holding a NUL character",
                                   field=f"{at}.{key}" if at else key)


def check_batch(batch: LogBatch, limits: ValueLimits) -> None:
    """What every backend checks of a batch before writing any of it: each key
    (:func:`validate_key`, field ``key``) and each param and tag value (``limits``)."""
    for key in {m[1] for m in batch.metrics} | {p[1] for p in batch.params} | {t[1] for t in batch.tags}:
        validate_key(key)
    limits.check("param", ((p[1], p[2]) for p in batch.params))
    limits.check("tag", ((t[1], t[2]) for t in batch.tags))


def validate_run_id(run_id: Any) -> str:
    """Return ``run_id`` if it is 32 lowercase hex characters, else raise InvalidInput."""
    if not isinstance(run_id, str) or not _RUN_ID_RE.match(run_id):
        raise InvalidInput(f"run_id must be 32 lowercase hex characters, got {run_id!r}", field="run_id")
    return run_id


@dataclass(frozen=True)
class Experiment:
    """A named group of runs. ``id`` is a string, as in MLflow; ``"0"`` is the default."""

    id: str
    name: str
    artifact_location: str | None = None
    lifecycle_stage: str = "active"
    created_at: int = 0
    updated_at: int = 0
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Metric:
    """One logged point. ``value`` may be NaN or ±inf."""

    key: str
    value: float
    step: int
    timestamp: int


@dataclass(frozen=True)
class Run:
    """A run with its data: params, tags and the latest value of each metric."""

    id: str
    experiment_id: str
    name: str
    status: RunStatus
    start_time: int
    end_time: int | None = None
    parent_run_id: str | None = None
    lifecycle_stage: str = "active"
    user: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, Metric] = field(default_factory=dict)
    environment: dict[str, Any] | None = None

    @property
    def duration_ms(self) -> int | None:
        return None if self.end_time is None else self.end_time - self.start_time


@dataclass(frozen=True)
class ArtifactInfo:
    """A logical artifact path of a run and the object it points at."""

    path: str
    digest: str
    size: int


@dataclass(frozen=True)
class Page:
    """One page of results; ``next_page_token`` is None on the last page."""

    items: list[Any]
    next_page_token: str | None = None

    def __iter__(self) -> Any:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Any:
        return self.items[index]


@dataclass
class LogBatch:
    """Points, params and tags waiting to be written, possibly for several runs.

    Tuples keep the hot path cheap: ``metrics`` holds ``(run_id, key, value,
    timestamp, step)``; ``params`` and ``tags`` hold ``(run_id, key, value)``.
    """

    metrics: list[tuple[str, str, float, int, int]] = field(default_factory=list)
    params: list[tuple[str, str, str]] = field(default_factory=list)
    tags: list[tuple[str, str, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.metrics or self.params or self.tags)

    def __len__(self) -> int:
        return len(self.metrics) + len(self.params) + len(self.tags)

    def extend(self, other: LogBatch) -> None:
        self.metrics.extend(other.metrics)
        self.params.extend(other.params)
        self.tags.extend(other.tags)

    def run_ids(self) -> set[str]:
        return {m[0] for m in self.metrics} | {p[0] for p in self.params} | {t[0] for t in self.tags}

    def without(self, run_ids: set[str]) -> LogBatch:
        """A copy holding nothing of the runs in ``run_ids``."""
        return LogBatch([m for m in self.metrics if m[0] not in run_ids],
                        [p for p in self.params if p[0] not in run_ids],
                        [t for t in self.tags if t[0] not in run_ids])
