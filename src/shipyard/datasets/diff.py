"""What changed between two profiles: schema changes and per-column distribution shifts.

Shift measures, computed from the stored sketches alone (no data is read):

* numeric: the population stability index (PSI) over the old histogram's bins
  (the new distribution's share of each bin read from its quantile sketch), the
  Kolmogorov-Smirnov statistic (largest gap between the two CDFs) and the
  Wasserstein distance (mean absolute gap between the quantile functions);
* categorical: the Jensen-Shannon distance (base 2, in [0, 1]) between the category
  frequencies (categories beyond the top ones pooled as "other");
* every column: the change of its null fraction.

A column is flagged ``shifted`` when PSI > 0.2, KS > 0.1, JS > 0.1, or its null
fraction moved by more than 5 points: conventional thresholds, shown, not enforced.

>>> import pyarrow as pa
>>> from shipyard.datasets.profiling import profile_table
>>> old = profile_table(pa.table({"x": [1.0, 2.0, 3.0, 4.0]}))
>>> new = profile_table(pa.table({"x": [1.0, 2.0, 3.0, 4.0], "y": ["a"] * 4}))
>>> diff_profiles(old, new).added
['y']
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shipyard.datasets.profile import ColumnProfile, Profile

__all__ = ["ColumnShift", "ProfileDiff", "diff_profiles"]

PSI_LIMIT, KS_LIMIT, JS_LIMIT, NULL_LIMIT = 0.2, 0.1, 0.1, 0.05
_EPS = 1e-6


@dataclass(frozen=True)
class ColumnShift:
    """How one column present in both profiles moved."""

    name: str
    kind: str
    null_fraction: tuple[float, float]
    mean: tuple[float | None, float | None] = (None, None)
    std: tuple[float | None, float | None] = (None, None)
    distinct: tuple[int | None, int | None] = (None, None)
    psi: float | None = None
    ks: float | None = None
    wasserstein: float | None = None
    js: float | None = None
    new_categories: list[Any] = field(default_factory=list)
    lost_categories: list[Any] = field(default_factory=list)

    @property
    def shifted(self) -> bool:
        return bool((self.psi or 0) > PSI_LIMIT or (self.ks or 0) > KS_LIMIT or (self.js or 0) > JS_LIMIT
                    or abs(self.null_fraction[1] - self.null_fraction[0]) > NULL_LIMIT)

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if v not in (None, [], (None, None))}
        out["shifted"] = self.shifted
        return out


@dataclass(frozen=True)
class ProfileDiff:
    """Schema changes (added, removed, retyped columns) and the shifts of shared columns."""

    rows: tuple[int, int]
    added: list[str]
    removed: list[str]
    retyped: list[tuple[str, str, str]]
    columns: list[ColumnShift]

    @property
    def schema_changed(self) -> bool:
        return bool(self.added or self.removed or self.retyped)

    @property
    def shifted(self) -> list[str]:
        return [c.name for c in self.columns if c.shifted]

    def to_json(self) -> dict[str, Any]:
        return {"rows": list(self.rows), "added": self.added, "removed": self.removed,
                "retyped": [list(r) for r in self.retyped], "columns": [c.to_json() for c in self.columns]}


def diff_profiles(old: Profile, new: Profile) -> ProfileDiff:
    """Compare ``new`` with ``old`` column by column."""
    before, after = {c.name: c for c in old}, {c.name: c for c in new}
    added = [n for n in after if n not in before]
    removed = [n for n in before if n not in after]
    retyped = [(n, before[n].type, after[n].type) for n in before if n in after and before[n].type != after[n].type]
    shifts = [_shift(before[n], after[n]) for n in before if n in after and before[n].kind == after[n].kind]
    return ProfileDiff((old.rows, new.rows), added, removed, retyped, shifts)


def _shift(a: ColumnProfile, b: ColumnProfile) -> ColumnShift:
    base: dict[str, Any] = {"name": a.name, "kind": a.kind, "null_fraction": (a.null_fraction, b.null_fraction),
                            "distinct": (a.distinct, b.distinct)}
    if a.kind == "numeric":
        base |= {"mean": (a.mean, b.mean), "std": (a.std, b.std)}
        if a.quantiles and b.quantiles and a.quantiles.n and b.quantiles.n:
            grid = np.union1d(a.quantiles.points, b.quantiles.points)
            base["ks"] = float(np.max(np.abs(a.quantiles.cdf(grid) - b.quantiles.cdf(grid))))
            ranks = np.linspace(0, 1, 257)
            qa = np.interp(ranks, np.linspace(0, 1, len(a.quantiles.points)), a.quantiles.points)
            qb = np.interp(ranks, np.linspace(0, 1, len(b.quantiles.points)), b.quantiles.points)
            base["wasserstein"] = float(np.trapezoid(np.abs(qa - qb), ranks))
            if a.histogram and len(a.histogram.edges) > 1 and a.histogram.total:
                base["psi"] = _psi(a, b)
    elif a.kind == "categorical" and a.top is not None and b.top is not None:
        base["js"] = _js(a, b)
        old_values, new_values = {v for v, _ in a.top}, {v for v, _ in b.top}
        if a.top_complete and b.top_complete:
            base["new_categories"] = sorted(new_values - old_values, key=str)
            base["lost_categories"] = sorted(old_values - new_values, key=str)
    return ColumnShift(**base)


def _psi(a: ColumnProfile, b: ColumnProfile) -> float:
    assert a.histogram is not None and b.quantiles is not None
    hist = a.histogram
    expected = np.array([hist.below, *hist.counts, hist.above], dtype=np.float64) / hist.total
    cdf = b.quantiles.cdf(np.asarray(hist.edges))
    actual = np.concatenate(([cdf[0]], np.diff(cdf), [1.0 - cdf[-1]]))
    expected, actual = np.maximum(expected, _EPS), np.maximum(actual, _EPS)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _js(a: ColumnProfile, b: ColumnProfile) -> float:
    keys = sorted({v for v, _ in (*(a.top or ()), *(b.top or ()))}, key=str)

    def frequencies(c: ColumnProfile) -> np.ndarray:
        counts = dict(c.top or ())
        listed = np.array([counts.get(k, 0) for k in keys], dtype=np.float64)
        total = max(c.count, 1)
        return np.append(listed, max(total - listed.sum(), 0)) / total

    p, q = frequencies(a), frequencies(b)
    m = (p + q) / 2

    def kl(x: np.ndarray) -> float:
        mask = x > 0
        return float(np.sum(x[mask] * np.log2(x[mask] / m[mask])))

    return math.sqrt(max((kl(p) + kl(q)) / 2, 0.0))
