"""Search spaces: a small declarative mapping of parameter names to ranges.

A space is a plain ``dict`` whose values are made by the helpers here::

    {"lr": loguniform(1e-4, 1e-1), "depth": randint(2, 10), "kernel": choice(["rbf", "linear"])}

The helpers only record what they are given; :func:`check_space` checks the whole
space when a search starts, so an empty or inverted range is an
:class:`~shipyard.errors.InvalidInput` naming the parameter (``space.lr``) before
anything is stored. :func:`space_from_mapping` reads the same space from YAML/JSON
data (``{"lr": {"loguniform": [1e-4, 0.1]}}``), as ``shipyard tune --space`` does.

>>> space = check_space({"lr": loguniform(1e-4, 1e-1), "depth": randint(2, 10)})
>>> space["depth"]
randint(2, 10)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shipyard.errors import InvalidInput
from shipyard.tracking import validate_key

__all__ = ["Param", "check_space", "choice", "grid_values", "loguniform", "randint", "space_from_mapping",
           "uniform"]

#: Values a :func:`choice` may hold: what survives storage as JSON unchanged.
_PLAIN = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class Param:
    """One dimension of a space: ``kind`` is ``uniform``, ``loguniform``, ``randint`` or ``choice``.

    ``low``/``high`` bound the numeric kinds (both ends included), ``step`` makes a
    uniform or randint range discrete, ``options`` lists a choice's values.
    """

    kind: str
    low: Any = None
    high: Any = None
    step: Any = None
    options: Any = ()

    def __repr__(self) -> str:
        if self.kind == "choice":
            return f"choice({list(self.options)!r})"
        step = f", step={self.step!r}" if self.step is not None else ""
        return f"{self.kind}({self.low!r}, {self.high!r}{step})"

    def to_distribution(self) -> Any:
        """The equivalent Optuna distribution (the space must have been checked)."""
        from optuna import distributions as d

        if self.kind == "choice":
            return d.CategoricalDistribution(self.options)
        if self.kind == "randint":
            return d.IntDistribution(self.low, self.high, step=self.step or 1)
        return d.FloatDistribution(float(self.low), float(self.high), log=self.kind == "loguniform",
                                   step=None if self.step is None else float(self.step))


def uniform(low: float, high: float, *, step: float | None = None) -> Param:
    """A float drawn evenly from ``[low, high]`` (on a grid of ``step`` when given)."""
    return Param("uniform", low, high, step)


def loguniform(low: float, high: float) -> Param:
    """A float in ``[low, high]`` (``0 < low < high``) drawn evenly on a log scale: learning rates."""
    return Param("loguniform", low, high)


def randint(low: int, high: int, *, step: int = 1) -> Param:
    """An integer in ``[low, high]``, both ends included (every ``step``-th one)."""
    return Param("randint", low, high, step if step != 1 else None)


def choice(options: Sequence[Any]) -> Param:
    """One of ``options`` (strings, numbers, booleans or None)."""
    if isinstance(options, str | bytes) or not isinstance(options, Sequence):
        return Param("choice", options=options)  # refused, naming the parameter, by check_space
    return Param("choice", options=tuple(options))


def _number(value: Any, where: str, integer: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or (integer and not isinstance(value, int)) \
            or not math.isfinite(value):
        what = "an integer" if integer else "a finite number"
        raise InvalidInput(f"{where} must be {what}, got {value!r}", field=where)
    return float(value)


def _check_param(name: str, param: Any) -> Param:
    where = f"space.{name}"
    if not isinstance(param, Param):
        raise InvalidInput(f"{where} must be made by uniform(), loguniform(), randint() or choice(), "
                           f"got {param!r}", field=where)
    if param.kind not in ("uniform", "loguniform", "randint", "choice"):
        raise InvalidInput(f"{where}: unknown kind {param.kind!r}", field=where)
    if param.kind == "choice":
        if not isinstance(param.options, tuple):
            raise InvalidInput(f"{where}: choice() takes a list of options, got {param.options!r}", field=where)
        if not param.options:
            raise InvalidInput(f"{where}: choice() needs at least one option, got none", field=where)
        for option in param.options:
            if not isinstance(option, _PLAIN):
                raise InvalidInput(f"{where}: choice() options must be strings, numbers, booleans or None, "
                                   f"got {option!r}", field=where)
        if len(set(map(repr, param.options))) != len(param.options):
            raise InvalidInput(f"{where}: choice() lists an option twice", field=where)
        return param
    integer = param.kind == "randint"
    low = _number(param.low, f"{where}.low", integer)
    high = _number(param.high, f"{where}.high", integer)
    if high < low or (high == low and not integer):
        raise InvalidInput(f"{where}: {param!r} is an {'empty' if high == low else 'inverted'} range "
                           f"(low must be below high)", field=where)
    if param.kind == "loguniform" and low <= 0:
        raise InvalidInput(f"{where}: loguniform() needs low > 0, got {low!r}", field=where)
    if param.step is not None:
        step = _number(param.step, f"{where}.step", integer)
        if step <= 0 or step > high - low:
            raise InvalidInput(f"{where}: step must be positive and at most high - low, got {step!r}",
                               field=f"{where}.step")
    return param


def check_space(space: Any) -> dict[str, Param]:
    """``space`` checked; raise :class:`InvalidInput` naming the first bad parameter.

    A space must be a non-empty mapping of parameter names (non-empty strings) to
    :class:`Param`; ranges must be non-empty and not inverted.
    """
    if not isinstance(space, Mapping):
        raise InvalidInput(f"space must be a mapping of parameter names to ranges, got {type(space).__name__}",
                           field="space")
    if not space:
        raise InvalidInput("space is empty: name at least one parameter to search", field="space")
    out: dict[str, Param] = {}
    for name, param in space.items():
        if not isinstance(name, str) or not name.strip():
            raise InvalidInput(f"space names must be non-empty strings, got {name!r}", field="space")
        validate_key(name, f"space.{name}")  # each becomes a param of the trial's run
        out[name] = _check_param(name, param)
    return out


def grid_values(name: str, param: Param) -> list[Any]:
    """Every value ``param`` can take, for a grid search; InvalidInput for a continuous range."""
    if param.kind == "choice":
        return list(param.options)
    if param.kind == "randint":
        return list(range(param.low, param.high + 1, param.step or 1))
    if param.kind == "uniform" and param.step is not None:
        count = int(math.floor((param.high - param.low) / param.step + 1e-9)) + 1
        return [param.low + i * param.step for i in range(count)]
    raise InvalidInput(f"space.{name}: a grid search needs finite values (choice, randint, or uniform with "
                       f"step=), got {param!r}", field=f"space.{name}")


_KINDS = {"uniform": uniform, "loguniform": loguniform, "randint": randint}


def _from_entry(name: str, entry: Any) -> Param:
    where = f"space.{name}"
    if not isinstance(entry, Mapping) or len(entry) != 1:
        raise InvalidInput(f"{where} must be one of {{uniform: [low, high]}}, {{loguniform: [low, high]}}, "
                           f"{{randint: [low, high]}} or {{choice: [...]}}, got {entry!r}", field=where)
    ((kind, args),) = entry.items()
    if kind == "choice":
        if not isinstance(args, list):
            raise InvalidInput(f"{where}: choice takes a list of options, got {args!r}", field=where)
        return choice(args)
    if kind not in _KINDS:
        raise InvalidInput(f"{where}: unknown kind {kind!r}; expected uniform, loguniform, randint or choice",
                           field=where)
    if isinstance(args, Mapping):
        try:
            return _KINDS[kind](**args)  # type: ignore[operator]
        except TypeError as exc:
            raise InvalidInput(f"{where}: {exc}", field=where) from None
    if not isinstance(args, list) or len(args) not in (2, 3):
        raise InvalidInput(f"{where}: {kind} takes [low, high] or [low, high, step], got {args!r}", field=where)
    if len(args) == 3:
        if kind == "loguniform":
            raise InvalidInput(f"{where}: loguniform takes no step", field=where)
        return _KINDS[kind](args[0], args[1], step=args[2])  # type: ignore[operator]
    return _KINDS[kind](args[0], args[1])  # type: ignore[operator]


def space_from_mapping(data: Any) -> dict[str, Param]:
    """A checked space from YAML/JSON data: ``{name: {kind: [low, high]} | {choice: [...]}}``.

    >>> space_from_mapping({"depth": {"randint": [2, 10]}, "kernel": {"choice": ["rbf", "linear"]}})
    {'depth': randint(2, 10), 'kernel': choice(['rbf', 'linear'])}
    """
    if not isinstance(data, Mapping):
        raise InvalidInput(f"space must be a mapping of parameter names to ranges, got {type(data).__name__}",
                           field="space")
    return check_space({str(name): _from_entry(str(name), entry) for name, entry in data.items()})
