"""Checking data against a contract: every violation, with its count and sample values.

Each rule is one or two vectorised Arrow kernels over the column (comparisons,
``is_in``, ``count_distinct``, RE2 regex matching); SQL checks run in DuckDB over
the same Arrow buffers, with file and network access switched off. Nothing loops
over rows in Python. On 1,000,000 rows x 30 rules this is several times faster than
pandera on the same pandas DataFrame (``benchmarks/datasets.py``), which is why
Shipyard ships its own validator rather than wrapping a library.

>>> import pyarrow as pa
>>> from shipyard.datasets._contract import Column, Contract
>>> report = validate(pa.table({"age": [30, -1, 200, None]}),
...                   Contract([Column("age", "int", nullable=False, min=0, max=120)]))
>>> [(v.rule, v.count, v.samples) for v in report.violations]
[('nullable', 1, [None]), ('min', 1, [-1]), ('max', 1, [200])]
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shipyard.datasets._contract import Check, Column, Contract
from shipyard.datasets._tables import as_table
from shipyard.datasets._text import counted
from shipyard.errors import InvalidInput

__all__ = ["ValidationReport", "Violation", "validate"]

_FAMILIES = {
    "int": pa.types.is_integer,
    "float": pa.types.is_floating,
    "number": lambda t: pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t),
    "string": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t),
    "bool": pa.types.is_boolean,
    "timestamp": pa.types.is_timestamp,
    "date": pa.types.is_date,
}


@dataclass(frozen=True)
class Violation:
    """One broken rule: which column, which rule, how many rows, and a few offending values.

    ``column`` is None for table-level rules (``min_rows``, ``max_rows``, checks);
    a check's samples are whole rows (dicts).
    """

    column: str | None
    rule: str
    count: int
    samples: list[Any] = field(default_factory=list)
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"column": self.column, "rule": self.rule, "count": self.count,
                "samples": [_jsonable(s) for s in self.samples], "message": self.message}


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of :func:`validate`: ``passed`` when ``violations`` is empty."""

    rows: int
    rules: int
    violations: list[Violation]

    @property
    def passed(self) -> bool:
        return not self.violations

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        if self.passed:
            return f"passed: {counted(self.rules, 'rule')} on {counted(self.rows, 'row')}"
        lines = [f"{counted(len(self.violations), 'violation')} of {counted(self.rules, 'rule')} "
                 f"on {counted(self.rows, 'row')}:"]
        for v in self.violations:
            samples = ", ".join(repr(_jsonable(s)) for s in v.samples[:5])
            lines.append(f"  {v.column or '<table>'}: {v.rule} x{v.count}  {v.message}"
                         + (f"  e.g. {samples}" if samples else ""))
        return "\n".join(lines)

    def raise_if_failed(self) -> ValidationReport:
        """Raise ``InvalidInput`` carrying this report unless it passed; else return it."""
        if not self.passed:
            raise InvalidInput(str(self), field="data", report=self.to_json())
        return self

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "rows": self.rows, "rules": self.rules,
                "violations": [v.to_json() for v in self.violations]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ValidationReport:
        return cls(int(data["rows"]), int(data["rules"]), [
            Violation(v["column"], v["rule"], int(v["count"]), list(v["samples"]), v.get("message", ""))
            for v in data["violations"]])


def validate(data: Any, contract: Contract, *, samples: int = 5) -> ValidationReport:
    """Check ``data`` (a DataFrame, Arrow table or dataset handle) against ``contract``.

    Every rule is evaluated, so the report lists every violation, each with at
    most ``samples`` distinct offending values.
    """
    table = as_table(data)
    rows = table.num_rows
    found: list[Violation] = []
    if contract.min_rows is not None and rows < contract.min_rows:
        found.append(Violation(None, "min_rows", rows, [],
                               f"{counted(rows, 'row')}, at least {contract.min_rows:,} required"))
    if contract.max_rows is not None and rows > contract.max_rows:
        found.append(Violation(None, "max_rows", rows, [],
                               f"{counted(rows, 'row')}, at most {contract.max_rows:,} allowed"))
    present = set(table.column_names)
    for spec in contract.columns:
        if spec.name not in present:
            found.append(Violation(spec.name, "present", rows, [], "column is missing"))
        else:
            found += _check_column(table.column(spec.name), spec, samples)
    if not contract.allow_extra_columns:
        listed = {c.name for c in contract.columns}
        found += [Violation(n, "unexpected", rows, [], "column is not in the contract")
                  for n in table.column_names if n not in listed]
    found += _run_checks(table, contract.checks, samples)
    return ValidationReport(rows, contract.rule_count, found)


def _type_ok(type_: pa.DataType, wanted: str) -> bool:
    if pa.types.is_dictionary(type_):
        type_ = type_.value_type
    test = _FAMILIES.get(wanted)
    return test(type_) if test is not None else str(type_) == wanted


def _check_column(column: pa.ChunkedArray, spec: Column, k: int) -> list[Violation]:
    out: list[Violation] = []
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if spec.type is not None and not _type_ok(column.type, spec.type):
        out.append(Violation(spec.name, "type", len(column), [str(column.type)],
                             f"type is {column.type}, expected {spec.type}"))
        return out + ([_nulls(column, spec, k)] if not spec.nullable and column.null_count else [])
    if not spec.nullable:
        missing = _nulls(column, spec, k)
        if missing.count:
            out.append(missing)
    if spec.min is not None:
        out += _where(column, spec, "min", pc.less(column, _scalar(spec.min, column, spec)), k,
                      f"values below {spec.min!r}")
    if spec.max is not None:
        out += _where(column, spec, "max", pc.greater(column, _scalar(spec.max, column, spec)), k,
                      f"values above {spec.max!r}")
    if spec.allowed is not None:
        allowed = _value_set(spec.allowed, column, spec)
        outside = pc.and_(pc.invert(pc.is_in(column, value_set=allowed)), pc.is_valid(column))
        out += _where(column, spec, "allowed", outside, k, f"values not in {list(spec.allowed)[:10]!r}")
    if spec.pattern is not None:
        try:
            matched = pc.match_substring_regex(column, f"^(?:{spec.pattern})$")
        except (pa.ArrowException, TypeError) as exc:
            raise InvalidInput(f"column {spec.name!r}: cannot apply pattern {spec.pattern!r}: {exc}",
                               field=spec.name) from None
        out += _where(column, spec, "pattern", pc.invert(matched), k, f"values not matching {spec.pattern!r}")
    if spec.unique:
        out += _duplicates(column, spec, k)
    return out


def _nulls(column: pa.ChunkedArray, spec: Column, k: int) -> Violation:
    count = column.null_count
    if pa.types.is_floating(column.type):
        count += pc.sum(pc.is_nan(column)).as_py() or 0
    return Violation(spec.name, "nullable", count, [None] if count else [], "missing values")


def _where(column: pa.ChunkedArray, spec: Column, rule: str, bad: Any, k: int, message: str) -> list[Violation]:
    count = pc.sum(bad).as_py() or 0
    if not count:
        return []
    offending = pc.filter(column, bad)
    return [Violation(spec.name, rule, count, _distinct(offending, k), message)]


def _distinct(values: pa.ChunkedArray, k: int) -> list[Any]:
    seen: list[Any] = []
    for value in values.slice(0, 1000).to_pylist():
        if value not in seen:
            seen.append(value)
            if len(seen) == k:
                break
    return seen


def _duplicates(column: pa.ChunkedArray, spec: Column, k: int) -> list[Violation]:
    present = pc.drop_null(column) if column.null_count else column
    kind = present.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_temporal(kind):
        # Sorting numbers (numpy, GIL released) beats hashing them: 1M int64 in ~60 ms.
        values = np.concatenate([c.to_numpy(zero_copy_only=False) for c in present.chunks]) \
            if present.num_chunks != 1 else present.chunk(0).to_numpy(zero_copy_only=False)
        ordered = np.sort(values, kind="stable")
        repeated = ordered[1:][ordered[1:] == ordered[:-1]]
        if not repeated.size:
            return []
        samples = pa.array(np.unique(repeated)[:k]).cast(kind).to_pylist()
        return [Violation(spec.name, "unique", int(repeated.size), samples, "repeated values")]
    counted = pc.value_counts(present)
    counts = counted.field("counts")
    many = pc.greater(counts, 1)
    if not pc.any(many).as_py():
        return []
    extra = int(pc.sum(pc.subtract(pc.filter(counts, many), 1)).as_py())
    values = pc.filter(counted.field("values"), many).slice(0, k).to_pylist()
    return [Violation(spec.name, "unique", extra, values, "repeated values")]


def _scalar(value: Any, column: pa.ChunkedArray, spec: Column) -> pa.Scalar:
    """A bound as an Arrow scalar the column can be compared with (dates may be ISO strings)."""
    type_ = column.type
    try:
        if pa.types.is_timestamp(type_) or pa.types.is_date(type_):
            if isinstance(value, str):
                value = (dt.date.fromisoformat(value) if pa.types.is_date(type_)
                         else dt.datetime.fromisoformat(value))
            return pa.scalar(value).cast(type_)
        if pa.types.is_integer(type_) or pa.types.is_floating(type_) or pa.types.is_decimal(type_):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{value!r} is not a number")
            return pa.scalar(value)
        return pa.scalar(value).cast(type_)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise InvalidInput(f"column {spec.name!r} ({type_}) cannot be compared with {value!r}: {exc}",
                           field=spec.name) from None


def _value_set(values: Sequence[Any], column: pa.ChunkedArray, spec: Column) -> pa.Array:
    try:
        return pa.array(list(values), type=column.type)
    except (pa.ArrowException, TypeError, ValueError):
        try:
            return pa.array(list(values)).cast(column.type)
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise InvalidInput(f"allowed values of {spec.name!r} do not fit its type {column.type}: {exc}",
                               field=spec.name) from None


def _run_checks(table: pa.Table, checks: Sequence[Check], k: int) -> list[Violation]:
    out: list[Violation] = []
    sql = [c for c in checks if c.expr is not None]
    connection = None
    if sql:
        import duckdb

        connection = duckdb.connect()
        connection.register("data", table)
        connection.execute("SET enable_external_access = false")
    for check in checks:
        if check.expr is not None:
            assert connection is not None
            out += _sql_check(connection, check, k)
        else:
            out += _python_check(table, check, k)
    if connection is not None:
        connection.close()
    return out


def _sql_check(connection: Any, check: Check, k: int) -> list[Violation]:
    import duckdb

    where = f"WHERE NOT coalesce(({check.expr}), false)"
    try:
        count = connection.execute(f"SELECT count(*) FROM data {where}").fetchone()[0]
        rows = []
        if count:
            cursor = connection.execute(f"SELECT * FROM data {where} LIMIT {int(k)}")
            names = [d[0] for d in cursor.description]
            rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    except duckdb.Error as exc:
        raise InvalidInput(f"check {check.name!r} cannot run: {exc}", field="checks", check=check.name) from None
    return [Violation(None, check.name, int(count), rows, f"rows failing {check.expr}")] if count else []


def _python_check(table: pa.Table, check: Check, k: int) -> list[Violation]:
    assert check.fn is not None
    result = check.fn(table)
    if isinstance(result, (bool, np.bool_)):
        return [] if result else [Violation(None, check.name, table.num_rows, [], "check returned False")]
    if isinstance(result, (pa.Array, pa.ChunkedArray)):
        good = np.asarray(pc.fill_null(result, False).to_numpy(zero_copy_only=False), dtype=bool)
    else:
        good = np.asarray(result, dtype=bool)
    if good.shape != (table.num_rows,):
        raise InvalidInput(f"check {check.name!r} returned "
                           f"{counted(good.shape[0], 'value') if good.ndim else 'a scalar'} "
                           f"for {counted(table.num_rows, 'row')}", field="checks", check=check.name)
    bad = np.flatnonzero(~good)
    if not bad.size:
        return []
    return [Violation(None, check.name, int(bad.size), table.take(bad[:k]).to_pylist(), "rows failing the check")]


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
