"""Data contracts: what a table must look like, written in Python or YAML, or inferred.

A :class:`Contract` lists :class:`Column` rules (type, nullability, range, allowed
categories, uniqueness, a regular expression), bounds on the row count, and custom
:class:`Check` s: a SQL boolean expression over a row (evaluated by DuckDB, so it
can live in YAML) or a Python function of the whole Arrow table. Every rule is
optional. :func:`shipyard.datasets._validation` checks data against it and reports
every violation. The same contract serves pipelines (fail a step), serving
(reject a request) and monitoring (data-quality metrics).

Types are families — ``int``, ``float``, ``number``, ``string``, ``bool``,
``timestamp``, ``date`` — or an exact Arrow type such as ``int32`` or
``timestamp[us]``.

YAML form (``Contract.from_yaml`` / ``to_yaml``)::

    columns:
      age:  {type: int, nullable: false, min: 0, max: 120}
      plan: {type: string, allowed: [basic, pro]}
      id:   {type: int, unique: true}
    rows: {min: 1000}
    checks:
      - {name: paid_plans_spend, expr: "plan = 'basic' OR spend > 0"}

>>> contract = Contract([Column("age", "int", nullable=False, min=0, max=120)], min_rows=1)
>>> contract.rule_count
5
>>> Contract.from_yaml(contract.to_yaml()) == contract
True
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipyard.errors import InvalidInput

__all__ = ["TYPE_FAMILIES", "Check", "Column", "Contract"]

TYPE_FAMILIES = ("int", "float", "number", "string", "bool", "timestamp", "date")
_ALIASES = {"integer": "int", "str": "string", "boolean": "bool", "numeric": "number", "double": "float",
            "datetime": "timestamp"}
_COLUMN_KEYS = ("type", "nullable", "min", "max", "allowed", "unique", "pattern")


@dataclass(frozen=True)
class Column:
    """Rules for one column; ``None`` (or the default) means "not checked".

    ``min``/``max`` are inclusive; ``allowed`` lists the permitted values;
    ``pattern`` is a regular expression (RE2) that must match the whole value.
    """

    name: str
    type: str | None = None
    nullable: bool = True
    min: Any = None
    max: Any = None
    allowed: tuple[Any, ...] | None = None
    unique: bool = False
    pattern: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidInput(f"a contract column needs a name, got {self.name!r}", field="name")
        if self.type is not None:
            object.__setattr__(self, "type", _known_type(self.name, self.type))
        if self.allowed is not None:
            if isinstance(self.allowed, (str, bytes)) or not isinstance(self.allowed, Iterable):
                raise InvalidInput(f"allowed values of {self.name!r} must be a list", field=self.name)
            object.__setattr__(self, "allowed", tuple(self.allowed))
        if self.min is not None and self.max is not None and _gt(self.min, self.max):
            raise InvalidInput(f"column {self.name!r}: min {self.min!r} is above max {self.max!r}", field=self.name)

    @property
    def rule_count(self) -> int:
        return sum((self.type is not None, not self.nullable, self.min is not None, self.max is not None,
                    self.allowed is not None, self.unique, self.pattern is not None)) or 1  # presence

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in _COLUMN_KEYS:
            value = getattr(self, key)
            if key == "nullable":
                if not value:
                    out[key] = False
            elif key == "unique":
                if value:
                    out[key] = True
            elif value is not None:
                out[key] = list(value) if key == "allowed" else value
        return out


@dataclass(frozen=True)
class Check:
    """A custom rule: ``expr`` (SQL, true for a good row) or ``fn`` (Python).

    ``fn`` receives the data as a ``pyarrow.Table`` and returns a boolean per row
    (an Arrow or numpy array, True for a good row) or one bool for the whole table.
    Python checks cannot be written to YAML.
    """

    name: str
    expr: str | None = None
    fn: Callable[[Any], Any] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if (self.expr is None) == (self.fn is None):
            raise InvalidInput(f"check {self.name!r} needs exactly one of expr= or fn=", field="checks")


@dataclass(frozen=True)
class Contract:
    """Rules a table must satisfy (see the module docstring)."""

    columns: tuple[Column, ...] = ()
    min_rows: int | None = None
    max_rows: int | None = None
    checks: tuple[Check, ...] = ()
    allow_extra_columns: bool = True
    name: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "checks", tuple(self.checks))
        names = [c.name for c in self.columns]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise InvalidInput(f"contract lists columns more than once: {duplicated}", field="columns")
        for bound in (self.min_rows, self.max_rows):
            if bound is not None and (not isinstance(bound, int) or bound < 0):
                raise InvalidInput(f"row bounds must be non-negative integers, got {bound!r}", field="rows")

    def __getitem__(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    @property
    def rule_count(self) -> int:
        """How many rules the contract states (each column counts at least its presence)."""
        return (sum(c.rule_count for c in self.columns) + (self.min_rows is not None)
                + (self.max_rows is not None) + len(self.checks) + (not self.allow_extra_columns))

    def with_column(self, column: Column) -> Contract:
        """A copy with ``column`` added, or replacing the column of the same name."""
        from dataclasses import replace

        kept = [c for c in self.columns if c.name != column.name]
        order = [c.name for c in self.columns]
        kept.insert(order.index(column.name) if column.name in order else len(kept), column)
        return replace(self, columns=tuple(kept))

    # -- serialisation -----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The YAML/JSON form; raises InvalidInput if a Python check would be lost."""
        python = [c.name for c in self.checks if c.fn is not None]
        if python:
            raise InvalidInput(f"Python checks {python} cannot be written out; use expr= checks", field="checks")
        out: dict[str, Any] = {}
        if self.name:
            out["name"] = self.name
        out["columns"] = {c.name: c.to_dict() for c in self.columns}
        rows = {k: v for k, v in (("min", self.min_rows), ("max", self.max_rows)) if v is not None}
        if rows:
            out["rows"] = rows
        if not self.allow_extra_columns:
            out["allow_extra_columns"] = False
        if self.checks:
            out["checks"] = [{"name": c.name, "expr": c.expr} for c in self.checks]
        return out

    @classmethod
    def from_dict(cls, data: Any) -> Contract:
        if not isinstance(data, dict):
            raise InvalidInput(f"a contract is a mapping, got {type(data).__name__}", field="contract")
        unknown = sorted(set(data) - {"name", "columns", "rows", "checks", "allow_extra_columns"})
        if unknown:
            raise InvalidInput(f"unknown contract keys {unknown}", field=unknown[0])
        columns = []
        for name, rules in (data.get("columns") or {}).items():
            rules = rules or {}
            if not isinstance(rules, dict) or set(rules) - set(_COLUMN_KEYS):
                raise InvalidInput(f"column {name!r}: rules must be a mapping of {list(_COLUMN_KEYS)}", field=name)
            columns.append(Column(str(name), **rules))
        rows = data.get("rows") or {}
        checks = []
        for item in data.get("checks") or []:
            if not isinstance(item, dict) or "name" not in item or "expr" not in item:
                raise InvalidInput(f"a check needs a name and an expr, got {item!r}", field="checks")
            checks.append(Check(str(item["name"]), expr=str(item["expr"])))
        return cls(tuple(columns), rows.get("min"), rows.get("max"), tuple(checks),
                   bool(data.get("allow_extra_columns", True)), data.get("name"))

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None)

    @classmethod
    def from_yaml(cls, text: str) -> Contract:
        import yaml

        try:
            return cls.from_dict(yaml.safe_load(text))
        except yaml.YAMLError as exc:
            raise InvalidInput(f"contract is not valid YAML: {exc}", field="contract") from None

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Contract:
        """Read a contract from a ``.yaml``/``.yml`` or ``.json`` file."""
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise InvalidInput(f"cannot read contract {str(path)!r}: {exc}", field="contract") from None
        if str(path).endswith(".json"):
            import json

            return cls.from_dict(json.loads(text))
        return cls.from_yaml(text)

    def save(self, path: str | os.PathLike[str]) -> None:
        Path(path).write_text(self.to_yaml())


# Arrow types written with parameters, as ``str(pyarrow type)`` spells them.
_PARAMETRIC = re.compile(r"(timestamp|decimal(32|64|128|256)?|fixed_size_binary|(large_|fixed_size_)?list(_view)?"
                         r"|struct|map|dictionary|(sparse|dense)_union|run_end_encoded)[\[(<].*[\])>]")


def _known_type(column: str, type_: Any) -> str:
    """``type_`` as a family (aliases resolved) or an exact Arrow type; InvalidInput otherwise."""
    if isinstance(type_, str):
        type_ = _ALIASES.get(type_, type_)
        if type_ in TYPE_FAMILIES or _PARAMETRIC.fullmatch(type_):
            return type_
        import pyarrow as pa

        try:
            pa.type_for_alias(type_)
        except (ValueError, KeyError):
            pass
        else:
            return type_
    close = difflib.get_close_matches(str(type_), [*TYPE_FAMILIES, *_ALIASES], n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise InvalidInput(f"column {column!r}: unknown type {type_!r}{hint}; known types: {', '.join(TYPE_FAMILIES)}, "
                       "or an exact Arrow type such as int32, float64 or timestamp[us]", field=column,
                       value=str(type_), known=list(TYPE_FAMILIES))


def _gt(a: Any, b: Any) -> bool:
    try:
        return bool(a > b)
    except TypeError:
        return False

