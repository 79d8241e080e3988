"""Strict reading of a policy document: every key known, every value of its type, errors by path.

A policy arrives as YAML or JSON, so it is a tree of mappings, lists and scalars.
:class:`Reader` reads one mapping of that tree: it refuses a key it was not told of,
and each typed getter refuses a value of the wrong type, both with
:class:`~shipyard.errors.InvalidInput` whose ``field`` is the dotted path of the value
(``rollout.canary.percent``, ``triggers[1].rule``). Booleans are never numbers here,
although Python counts them as integers.

>>> r = Reader({"percent": 10}, "rollout.canary", {"percent", "duration"})
>>> r.number("percent", minimum=0, maximum=100)
10.0
>>> Reader({"percnt": 10}, "rollout.canary", {"percent"})
Traceback (most recent call last):
...
shipyard.errors.InvalidInput: rollout.canary.percnt: unknown key; expected one of: percent
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from shipyard.errors import InvalidInput
from shipyard.timeutil import format_duration, parse_duration

__all__ = ["REQUIRED", "Reader", "as_dict", "as_list", "at_path", "dataset_name", "dataset_ref", "format_duration",
           "join"]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: The default of a key that must be given.
REQUIRED: Any = _Required()


def join(path: str, key: str | int) -> str:
    """The path of ``key`` under ``path``: ``a.b`` for a key, ``a[2]`` for a list index."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


class Reader:
    """The mapping ``data`` at ``path``, whose keys must all be among ``known``."""

    def __init__(self, data: Any, path: str, known: Iterable[str]) -> None:
        label = path or "policy"
        if not isinstance(data, Mapping):
            raise InvalidInput(f"{label} must be a mapping, got {_kind(data)}", field=label)
        allowed = sorted(known)
        for key in data:
            if not isinstance(key, str) or key not in allowed:
                raise InvalidInput(f"{join(path, str(key))}: unknown key; expected one of: {', '.join(allowed)}",
                                   field=join(path, str(key)))
        self.data = data
        self.path = path

    def has(self, key: str) -> bool:
        """Whether ``key`` is given (and not null)."""
        return self.data.get(key) is not None

    def field(self, key: str) -> str:
        return join(self.path, key)

    def _get(self, key: str, default: Any) -> Any:
        value = self.data.get(key)
        if value is None:
            if default is REQUIRED:
                raise InvalidInput(f"{self.field(key)} is required", field=self.field(key))
            return default
        return value

    def _refuse(self, key: str, what: str, value: Any) -> InvalidInput:
        return InvalidInput(f"{self.field(key)} must be {what}, got {value!r:.80} ({_kind(value)})",
                            field=self.field(key))

    def raw(self, key: str, default: Any = REQUIRED) -> Any:
        """The value as given (null: ``default``)."""
        return self._get(key, default)

    def string(self, key: str, default: Any = REQUIRED, *, choices: Iterable[str] | None = None) -> Any:
        value = self._get(key, default)
        if value is default and default is not REQUIRED:
            return value
        if not isinstance(value, str) or not value.strip():
            raise self._refuse(key, "a non-empty string", value)
        if choices is not None and value not in (options := tuple(choices)):
            raise InvalidInput(f"{self.field(key)} must be one of {', '.join(options)}, got {value!r:.80}",
                               field=self.field(key))
        return value

    def integer(self, key: str, default: Any = REQUIRED, *, minimum: int | None = None,
                maximum: int | None = None) -> Any:
        value = self._get(key, default)
        if value is default and default is not REQUIRED:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._refuse(key, "an integer", value)
        self._bounds(key, value, minimum, maximum)
        return value

    def number(self, key: str, default: Any = REQUIRED, *, minimum: float | None = None,
               maximum: float | None = None, exclusive_minimum: bool = False) -> Any:
        value = self._get(key, default)
        if value is default and default is not REQUIRED:
            return value
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self._refuse(key, "a finite number", value)
        if exclusive_minimum and minimum is not None and value <= minimum:
            span = f"above {minimum:g}" + ("" if maximum is None else f" and at most {maximum:g}")
            raise InvalidInput(f"{self.field(key)} must be {span}, got {value!r}", field=self.field(key))
        self._bounds(key, value, minimum, maximum)
        return float(value)

    def _bounds(self, key: str, value: float, minimum: float | None, maximum: float | None) -> None:
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            low = "" if minimum is None else f"at least {minimum:g}"
            high = "" if maximum is None else f"at most {maximum:g}"
            span = f"from {minimum:g} to {maximum:g}" if low and high else low or high
            raise InvalidInput(f"{self.field(key)} must be {span}, got {value!r}", field=self.field(key))

    def boolean(self, key: str, default: Any = REQUIRED) -> Any:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise self._refuse(key, "true or false", value)
        return value

    def duration(self, key: str, default: Any = REQUIRED) -> Any:
        """Seconds of a duration written ``90s``, ``15m``, ``6h``, ``7d`` or as a number of seconds."""
        value = self._get(key, default)
        if value is default and default is not REQUIRED:
            return value
        if isinstance(value, bool):
            raise self._refuse(key, "a duration such as 90s, 15m, 6h or 7d", value)
        return parse_duration(value, self.field(key))

    def strings(self, key: str, default: Any = REQUIRED, *, non_empty: bool = False) -> Any:
        value = self._get(key, default)
        if value is default and default is not REQUIRED:
            return value
        if not isinstance(value, list):
            raise self._refuse(key, "a list of strings", value)
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise InvalidInput(f"{join(self.field(key), i)} must be a non-empty string, got {item!r:.80}",
                                   field=join(self.field(key), i))
        if non_empty and not value:
            raise InvalidInput(f"{self.field(key)} must name at least one", field=self.field(key))
        return tuple(value)

    def mapping(self, key: str, default: Any = REQUIRED) -> Any:
        """A mapping of string keys to JSON values (parameters, labels)."""
        value = self._get(key, default)
        if value is default and default is not REQUIRED:
            return value
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise self._refuse(key, "a mapping with string keys", value)
        return dict(value)


def at_path(path: str, check: Any, value: Any) -> Any:
    """``check(value)``, its :class:`InvalidInput` said of the policy's field ``path``."""
    try:
        return check(value)
    except InvalidInput as exc:
        raise InvalidInput(f"{path}: {exc.message}", field=path) from None


def dataset_name(ref: str, path: str) -> str:
    """A dataset named ``churn`` or ``ds:churn``: a name, no version (it stands for every version)."""
    from shipyard.datasets import validate_dataset_name

    return str(at_path(path, validate_dataset_name, ref.removeprefix("ds:")))


def dataset_ref(ref: str, path: str) -> str:
    """A dataset reference (``churn-holdout``, ``ds:churn-holdout@3``, ``…@latest``), without ``ds:``."""
    from shipyard.datasets import parse_dataset_ref

    at_path(path, parse_dataset_ref, ref)
    return ref.removeprefix("ds:")


def as_list(value: Any) -> Any:
    """A tuple or list as a list; anything else as it is, for the reader to refuse."""
    return list(value) if isinstance(value, tuple | list) else value


def as_dict(value: Any) -> Any:
    """A mapping as a dict; anything else as it is, for the reader to refuse."""
    return dict(value) if isinstance(value, Mapping) else value
