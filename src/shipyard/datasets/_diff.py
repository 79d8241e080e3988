"""What changed between two profiles: schema changes and per-column distribution shifts.

Shift measures, computed from the stored sketches alone (no data is read), with the
definitions :func:`shipyard.monitoring.detect_drift` uses on raw data, so the two agree
within the sketches' error (see :class:`~shipyard.datasets._sketches.QuantileSketch`):

* numeric: the Kolmogorov-Smirnov statistic (largest gap between the two CDFs), the
  Wasserstein distance (area between the CDFs) and the population stability index
  (PSI) over :data:`PSI_BINS` bins cut at the old column's deciles,
  ``(-inf, d1], (d1, d2] … (d9, inf)``, each share floored at :data:`PSI_EPSILON`.
  Exact when both columns are discrete (both profiles list every value's count);
  otherwise read off the two quantile sketches, both sides the same way, so a
  profile compared with itself gives 0 on every measure either way;
* categorical: the Jensen-Shannon distance (base 2, in [0, 1]) between the category
  frequencies, categories beyond the top ones pooled as "other" (both lists cut to
  the same depth first, see :func:`~shipyard.datasets._sketches.top_depth`);
* every column: the change of its null fraction.

A column is flagged ``shifted`` when PSI > 0.2, KS > 0.1, JS > 0.1, or its null
fraction moved by more than 5 points: conventional thresholds, shown, not enforced.

>>> import pyarrow as pa
>>> from shipyard.datasets._profiling import profile_table
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

from shipyard.datasets._profile import ColumnProfile, Profile
from shipyard.datasets._sketches import QuantileSketch, top_depth

__all__ = ["PSI_BINS", "PSI_EPSILON", "ColumnShift", "ProfileDiff", "diff_profiles"]

PSI_LIMIT, KS_LIMIT, JS_LIMIT, NULL_LIMIT = 0.2, 0.1, 0.1, 0.05
#: PSI bins and share floor: those of :mod:`shipyard.monitoring._stats`, so that both report one PSI.
PSI_BINS, PSI_EPSILON = 10, 1e-4


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
        if a.top_complete and b.top_complete and a.top and b.top:
            base |= _discrete(a.top, b.top)
        elif a.quantiles and b.quantiles and a.quantiles.n and b.quantiles.n:
            base |= {"ks": a.quantiles.ks(b.quantiles), "wasserstein": a.quantiles.wasserstein(b.quantiles),
                     "psi": _psi(a.quantiles, b.quantiles)}
    elif a.kind == "categorical" and a.top is not None and b.top is not None:
        base["js"] = _js(a, b)
        old_values, new_values = {v for v, _ in a.top}, {v for v, _ in b.top}
        if a.top_complete and b.top_complete:
            base["new_categories"] = sorted(new_values - old_values, key=str)
            base["lost_categories"] = sorted(old_values - new_values, key=str)
    return ColumnShift(**base)


def _psi(old: QuantileSketch, new: QuantileSketch) -> float:
    """PSI over the old sketch's deciles, both sides' shares read off their own sketches."""
    cuts = np.unique([old.quantile(q) for q in np.linspace(0, 1, PSI_BINS + 1)[1:-1]])
    return _psi_of(*(np.diff(np.concatenate(([0.0], s.cdf(cuts), [1.0]))) for s in (old, new)))


def _psi_of(expected: np.ndarray, actual: np.ndarray) -> float:
    expected, actual = np.maximum(expected, PSI_EPSILON), np.maximum(actual, PSI_EPSILON)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _discrete(old: tuple[tuple[Any, int], ...], new: tuple[tuple[Any, int], ...]) -> dict[str, float]:
    """KS, Wasserstein and PSI of two columns given every value's count: exact, as on the raw data."""

    def sorted_counts(top: tuple[tuple[Any, int], ...]) -> tuple[np.ndarray, np.ndarray]:
        values = np.array([v for v, _ in top], dtype=np.float64)
        order = np.argsort(values)
        return values[order], np.cumsum(np.array([c for _, c in top], dtype=np.int64)[order])

    (values_a, cum_a), (values_b, cum_b) = sorted_counts(old), sorted_counts(new)

    def cdf(values: np.ndarray, cum: np.ndarray, x: np.ndarray) -> np.ndarray:
        below = np.searchsorted(values, x, side="right")
        return np.where(below > 0, cum[np.maximum(below - 1, 0)], 0) / cum[-1]

    grid = np.union1d(values_a, values_b)
    gap = np.abs(cdf(values_a, cum_a, grid) - cdf(values_b, cum_b, grid))
    # The old side's deciles as on the sorted raw values: linear between order statistics.
    position = np.linspace(0, cum_a[-1] - 1, PSI_BINS + 1)[1:-1]
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, cum_a[-1] - 1)
    weight = position - low

    def order_statistic(k: np.ndarray) -> np.ndarray:
        return values_a[np.searchsorted(cum_a, k, side="right")]

    cuts = np.unique(order_statistic(low) * (1 - weight) + order_statistic(high) * weight)
    shares = [np.diff(np.concatenate(([0.0], cdf(v, c, cuts), [1.0]))) for v, c in ((values_a, cum_a),
                                                                                     (values_b, cum_b))]
    return {"ks": float(gap.max()), "wasserstein": float(np.dot(gap[:-1], np.diff(grid))),
            "psi": _psi_of(*shares)}


def _js(a: ColumnProfile, b: ColumnProfile) -> float:
    depth = top_depth((a.top or (), a.top_complete), (b.top or (), b.top_complete))
    top_a, top_b = (a.top or ())[:depth], (b.top or ())[:depth]
    keys = sorted({v for v, _ in (*top_a, *top_b)}, key=str)

    def frequencies(top: tuple[tuple[Any, int], ...], count: int) -> np.ndarray:
        counts = dict(top)
        listed = np.array([counts.get(k, 0) for k in keys], dtype=np.float64)
        total = max(count, 1)
        return np.append(listed, max(total - listed.sum(), 0)) / total  # the rest: "other"

    p, q = frequencies(top_a, a.count), frequencies(top_b, b.count)
    m = (p + q) / 2

    def kl(x: np.ndarray) -> float:
        mask = x > 0
        return float(np.sum(x[mask] * np.log2(x[mask] / m[mask])))

    return math.sqrt(max((kl(p) + kl(q)) / 2, 0.0))
