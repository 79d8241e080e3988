"""Profiles: per-column statistics of a table, mergeable and serialisable to JSON.

A :class:`Profile` holds one :class:`ColumnProfile` per column. Every field either
adds (counts), combines exactly (min, max, mean and the sum of squared deviations
``m2`` by Chan's formula, HyperLogLog registers, histograms with equal edges) or
combines within a stated error (quantiles, histograms with different edges,
top categories of columns with more than :data:`TOP_K` distinct values), so
``a.merge(b)`` describes the concatenation of the two tables. See
:mod:`shipyard.datasets._sketches` for the sketches and their errors.

Column kinds: ``numeric`` (integers, floats, decimals), ``categorical`` (strings,
booleans, dictionaries), ``temporal`` (dates, times, timestamps: counts, min, max
and distinct only) and ``other`` (counts only). :func:`profile_columns` computes a
profile with Arrow compute kernels and numpy, one column per task in a thread pool
(both release the GIL); see :mod:`shipyard.datasets._profiling`.

>>> import pyarrow as pa
>>> from shipyard.datasets._profiling import profile_table
>>> p = profile_table(pa.table({"x": [1.0, 2.0, None], "plan": ["a", "b", "a"]}))
>>> p["x"].nulls, p["x"].mean, p["plan"].top
(1, 1.5, (('a', 2), ('b', 1)))
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from shipyard.datasets._sketches import Histogram, HyperLogLog, QuantileSketch
from shipyard.errors import InvalidInput

__all__ = ["KINDS", "TOP_K", "ColumnProfile", "Profile"]

#: How many categories (by frequency) a categorical column keeps with exact counts.
TOP_K = 100
KINDS = ("numeric", "categorical", "temporal", "other")
_FORMAT = 1


@dataclass(frozen=True)
class ColumnProfile:
    """Statistics of one column. ``count`` excludes nulls (and, for floats, NaN).

    ``top`` holds ``(value, count)`` pairs, most frequent first: the :data:`TOP_K`
    most frequent categories of a categorical column, and every value of a numeric
    column with at most :data:`TOP_K` distinct finite values (a discrete column,
    whose statistics are then exact). ``top_complete`` says every value is listed.
    """

    name: str
    type: str
    kind: str
    count: int = 0
    nulls: int = 0
    nan: int = 0
    min: Any = None
    max: Any = None
    mean: float | None = None
    m2: float | None = None
    hll: HyperLogLog | None = None
    distinct_exact: int | None = None
    histogram: Histogram | None = None
    quantiles: QuantileSketch | None = None
    top: tuple[tuple[Any, int], ...] | None = None
    top_complete: bool = False

    @property
    def rows(self) -> int:
        return self.count + self.nulls + self.nan

    @property
    def null_fraction(self) -> float:
        return (self.nulls + self.nan) / self.rows if self.rows else 0.0

    @property
    def std(self) -> float | None:
        """Population standard deviation."""
        if self.m2 is None or not self.count:
            return None
        return math.sqrt(max(self.m2, 0.0) / self.count)

    @property
    def distinct(self) -> int | None:
        """Number of distinct non-null values: exact when known, else the HLL estimate."""
        if self.distinct_exact is not None:
            return self.distinct_exact
        if self.hll is None:
            return None
        return min(self.hll.estimate(), self.count)

    def quantile(self, q: float) -> float | None:
        return self.quantiles.quantile(q) if self.quantiles and self.quantiles.n else None

    def merge(self, other: ColumnProfile) -> ColumnProfile:
        """The profile of this column's values followed by ``other``'s."""
        if other.kind != self.kind:
            raise InvalidInput(
                f"cannot merge column {self.name!r}: {self.kind} ({self.type}) and {other.kind} ({other.type})",
                field=self.name)
        n = self.count + other.count
        mean, m2 = self.mean, self.m2
        if self.mean is not None and other.mean is not None and self.m2 is not None and other.m2 is not None:
            delta = other.mean - self.mean
            mean = self.mean + delta * other.count / n if n else None
            m2 = self.m2 + other.m2 + delta * delta * self.count * other.count / n if n else None
        elif other.mean is not None:
            mean, m2 = other.mean, other.m2
        top, complete, exact = _merge_top(self, other)
        return ColumnProfile(
            self.name, self.type, self.kind, n, self.nulls + other.nulls, self.nan + other.nan,
            _pick(min, self.min, other.min), _pick(max, self.max, other.max), mean, m2,
            _merge(self.hll, other.hll), exact, _merge(self.histogram, other.histogram),
            _merge(self.quantiles, other.quantiles), top, complete)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "kind": self.kind, "count": self.count,
                               "nulls": self.nulls, "nan": self.nan}
        for key in ("min", "max", "mean", "m2", "distinct_exact"):
            value = getattr(self, key)
            if value is not None:
                out[key] = _encode_number(value)
        if self.hll is not None:
            out["hll"] = self.hll.to_json()
            out["distinct"] = self.distinct
        if self.histogram is not None:
            out["histogram"] = self.histogram.to_json()
        if self.quantiles is not None:
            out["quantiles"] = self.quantiles.to_json()
        if self.top is not None:
            out["top"] = [[value, count] for value, count in self.top]
            out["top_complete"] = self.top_complete
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ColumnProfile:
        try:
            return cls(
                data["name"], data["type"], data["kind"], int(data["count"]), int(data["nulls"]),
                int(data.get("nan", 0)), _decode_number(data.get("min")), _decode_number(data.get("max")),
                _decode_number(data.get("mean")), _decode_number(data.get("m2")),
                HyperLogLog.from_json(data["hll"]) if "hll" in data else None, data.get("distinct_exact"),
                Histogram.from_json(data["histogram"]) if "histogram" in data else None,
                QuantileSketch.from_json(data["quantiles"]) if "quantiles" in data else None,
                tuple((v, int(c)) for v, c in data["top"]) if "top" in data else None,
                bool(data.get("top_complete", False)))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"malformed column profile: {exc}", field="profile") from None


@dataclass(frozen=True)
class Profile:
    """The profile of a table: its row count and one :class:`ColumnProfile` per column."""

    rows: int
    columns: tuple[ColumnProfile, ...] = field(default_factory=tuple)

    def __getitem__(self, name: str) -> ColumnProfile:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def __iter__(self) -> Iterator[ColumnProfile]:
        return iter(self.columns)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def merge(self, other: Profile) -> Profile:
        """The profile of both tables concatenated.

        A column missing from one side counts as all-null there. Columns of the same
        name must have the same kind, else :class:`InvalidInput`.
        """
        merged = []
        theirs = {c.name: c for c in other.columns}
        for mine in self.columns:
            if mine.name in theirs:
                merged.append(mine.merge(theirs.pop(mine.name)))
            else:
                merged.append(replace(mine, nulls=mine.nulls + other.rows))
        merged += [replace(c, nulls=c.nulls + self.rows) for c in theirs.values()]
        return Profile(self.rows + other.rows, tuple(merged))

    def to_json(self) -> dict[str, Any]:
        return {"format": _FORMAT, "rows": self.rows, "columns": [c.to_json() for c in self.columns]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Profile:
        if not isinstance(data, dict) or "rows" not in data:
            raise InvalidInput("malformed profile: expected an object with 'rows' and 'columns'", field="profile")
        return cls(int(data["rows"]), tuple(ColumnProfile.from_json(c) for c in data.get("columns", [])))


def _pick(fn: Any, a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    try:
        return fn(a, b)
    except TypeError:  # e.g. an int and a str from columns that changed type
        return a


def _merge(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return a.merge(b)


def _merge_top(a: ColumnProfile, b: ColumnProfile) -> tuple[tuple[tuple[Any, int], ...] | None, bool, int | None]:
    """Add category counts. Exact (``complete``) only when both sides listed every category."""
    if a.top is None and b.top is None:
        return None, False, None
    counts: dict[Any, int] = {}
    for value, count in (*(a.top or ()), *(b.top or ())):
        counts[value] = counts.get(value, 0) + count
    complete = a.top_complete and b.top_complete and len(counts) <= TOP_K
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[:TOP_K]
    exact = len(counts) if a.top_complete and b.top_complete else None
    return tuple(ordered), complete, exact


def _encode_number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def _decode_number(value: Any) -> Any:
    if value in ("NaN", "Infinity", "-Infinity"):
        return float(value.replace("Infinity", "inf"))
    return value
