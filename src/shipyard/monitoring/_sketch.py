"""Column sketches: bounded, mergeable summaries of one numeric or categorical column.

Built from a column's sorted finite values (numeric) or its value counts
(categorical); see :mod:`shipyard.monitoring._profile` for how windows use them.
Numeric histograms bin ``[e_i, e_i+1)``, the last bin closed, values outside the
edges counted in ``below``/``above`` (the convention of
:class:`~shipyard.datasets._sketches.Histogram`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from shipyard.datasets._sketches import Histogram, QuantileSketch, round_keeping_total
from shipyard.errors import InvalidInput

__all__ = ["BINS", "TOP_K", "CategoricalSketch", "ColumnSketch", "NumericSketch", "categorical", "edges_for",
           "merge_all", "merge_quantiles", "numeric_from_quantiles", "numeric_from_sorted", "quantile_pass",
           "quantile_points"]

#: Histogram bins of a numeric column (cut at the reference's quantiles).
BINS = 100
#: Categories a categorical sketch keeps with their own count.
TOP_K = 200
_POINTS = 257
_SAMPLE = 1 << 16


@dataclass(frozen=True)
class NumericSketch:
    """A numeric column. ``count`` excludes ``nulls`` (null, NaN and infinite values)."""

    count: int
    nulls: int
    min: float | None
    max: float | None
    mean: float | None
    m2: float | None
    histogram: Histogram
    quantiles: QuantileSketch
    kind: str = field(default="numeric", init=False)

    @property
    def rows(self) -> int:
        return self.count + self.nulls

    @property
    def std(self) -> float | None:
        """Population standard deviation (None when there are no values)."""
        return float(np.sqrt(max(self.m2, 0.0) / self.count)) if self.count and self.m2 is not None else None

    def merge(self, other: ColumnSketch) -> NumericSketch:
        if not isinstance(other, NumericSketch):
            raise InvalidInput("cannot merge a numeric column with a categorical one", field="profile")
        n = self.count + other.count
        if not other.count or not self.count:
            mine = self if self.count else other
            return NumericSketch(n, self.nulls + other.nulls, mine.min, mine.max, mine.mean, mine.m2,
                                 self.histogram.merge(other.histogram), self.quantiles.merge(other.quantiles))
        assert self.mean is not None and other.mean is not None and self.m2 is not None and other.m2 is not None
        delta = other.mean - self.mean
        return NumericSketch(
            n, self.nulls + other.nulls, min(self.min, other.min), max(self.max, other.max),  # type: ignore[type-var]
            self.mean + delta * other.count / n, self.m2 + other.m2 + delta * delta * self.count * other.count / n,
            self.histogram.merge(other.histogram), self.quantiles.merge(other.quantiles))

    def to_json(self) -> dict[str, Any]:
        return {"kind": "numeric", "count": self.count, "nulls": self.nulls, "min": self.min, "max": self.max,
                "mean": self.mean, "m2": self.m2, "histogram": self.histogram.to_json(),
                "quantiles": self.quantiles.to_json()}


@dataclass(frozen=True)
class CategoricalSketch:
    """A categorical column: value counts, most frequent first, the rest pooled in ``other``."""

    count: int
    nulls: int
    counts: tuple[tuple[str, int], ...] = ()
    other: int = 0
    kind: str = field(default="categorical", init=False)

    @property
    def rows(self) -> int:
        return self.count + self.nulls

    def merge(self, other: ColumnSketch) -> CategoricalSketch:
        if not isinstance(other, CategoricalSketch):
            raise InvalidInput("cannot merge a categorical column with a numeric one", field="profile")
        merged = dict(self.counts)
        for value, count in other.counts:
            merged[value] = merged.get(value, 0) + count
        return categorical(self.count + other.count, self.nulls + other.nulls, merged, self.other + other.other)

    def to_json(self) -> dict[str, Any]:
        return {"kind": "categorical", "count": self.count, "nulls": self.nulls,
                "counts": [list(pair) for pair in self.counts], "other": self.other}


ColumnSketch = NumericSketch | CategoricalSketch


def merge_all(sketches: Sequence[ColumnSketch]) -> ColumnSketch:
    """Many sketches of one column merged at once (what a day or a month of windows needs).

    The same result as merging them pairwise, in one pass: counts and moments add
    exactly (pooled mean and squared deviations), histograms on equal edges add, and
    the quantile sketches mix by :func:`merge_quantiles`.
    """
    if not sketches:
        raise InvalidInput("nothing to merge", field="profiles")
    if len(sketches) == 1:
        return sketches[0]
    labelled = [s for s in sketches if isinstance(s, CategoricalSketch)]
    if len(labelled) == len(sketches):
        return _merge_categorical(labelled)
    if not all(isinstance(s, NumericSketch) for s in sketches):
        raise InvalidInput("cannot merge a numeric column with a categorical one", field="profile")
    return _merge_numeric([s for s in sketches if isinstance(s, NumericSketch)])


def _merge_categorical(sketches: Sequence[CategoricalSketch]) -> CategoricalSketch:
    counts: dict[str, int] = {}
    for c in sketches:
        for value, count in c.counts:
            counts[value] = counts.get(value, 0) + count
    return categorical(sum(c.count for c in sketches), sum(c.nulls for c in sketches), counts,
                       sum(c.other for c in sketches))


def _merge_numeric(sketches: Sequence[NumericSketch]) -> NumericSketch:
    """Counts and moments pooled exactly, histograms and quantile sketches merged."""
    full = [s for s in sketches if s.count]
    nulls = sum(s.nulls for s in sketches)
    histogram = _merge_histograms([s.histogram for s in sketches])
    if not full:
        return NumericSketch(0, nulls, None, None, None, None, histogram, QuantileSketch(0, ()))
    n = np.array([s.count for s in full], dtype=np.float64)
    means = np.array([s.mean for s in full], dtype=np.float64)
    total = float(n.sum())
    mean = float(np.dot(n, means) / total)
    m2 = float(sum(s.m2 or 0.0 for s in full) + np.dot(n, (means - mean) ** 2))
    return NumericSketch(int(total), nulls, min(s.min for s in full), max(s.max for s in full),  # type: ignore[type-var]
                         mean, m2, histogram, merge_quantiles([s.quantiles for s in full]))


def _merge_histograms(histograms: Sequence[Histogram]) -> Histogram:
    """Bin counts added when every histogram has the same edges (the usual case: windows
    binned on one reference's edges), else merged pairwise by :meth:`Histogram.merge`."""
    first = histograms[0]
    if not all(h.edges == first.edges for h in histograms):
        merged = first
        for h in histograms[1:]:
            merged = merged.merge(h)
        return merged
    counts = np.sum([h.counts for h in histograms], axis=0) if first.counts else ()
    return Histogram(first.edges, tuple(np.asarray(counts, dtype=np.int64).tolist()),
                     sum(h.below for h in histograms), sum(h.above for h in histograms))


def merge_quantiles(sketches: Sequence[QuantileSketch]) -> QuantileSketch:
    """The 257-point sketch of the count-weighted mixture of quantile sketches' CDFs.

    Each sketch is piecewise linear: ``n / 256`` values spread evenly between each pair
    of neighbouring points (all at one value where the points are equal). The mixture
    is integrated exactly over the sorted breakpoints of all sketches, so merging
    720 sketches costs one sort of their points rather than 720 pairwise merges.
    """
    parts = [q for q in sketches if q.n and q.points]
    if len(parts) <= 1:
        return parts[0] if parts else QuantileSketch(0, ())
    total = float(sum(q.n for q in parts))
    points = [np.asarray(q.points, dtype=np.float64) for q in parts]
    low = np.concatenate([p[:-1] for p in points])
    high = np.concatenate([p[1:] for p in points])
    mass = np.concatenate([np.full(p.size - 1, q.n / (p.size - 1)) for p, q in zip(points, parts, strict=True)])
    spread = high > low
    density = mass[spread] / (high[spread] - low[spread])
    where = np.concatenate([low[spread], high[spread], low[~spread]])
    slope = np.concatenate([density, -density, np.zeros(int((~spread).sum()))])
    jump = np.concatenate([np.zeros(2 * density.size), mass[~spread]])
    order = np.argsort(where, kind="stable")
    where, slope, jump = where[order], np.cumsum(slope[order]), jump[order]
    between = slope[:-1] * np.diff(where)  # mass between neighbouring breakpoints
    cdf = np.maximum.accumulate(np.cumsum(np.concatenate(([jump[0]], between + jump[1:]))) / total)
    result = np.interp(np.linspace(0, 1, _POINTS), cdf, where)
    result[0], result[-1] = where[0], where[-1]
    return QuantileSketch(int(total), tuple(result.tolist()))


def categorical(count: int, nulls: int, counts: Mapping[str, int], other: int = 0) -> CategoricalSketch:
    """A sketch of these value counts: the :data:`TOP_K` most frequent kept, the rest added to ``other``."""
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    kept = ordered[:TOP_K]
    other += sum(c for _, c in ordered[TOP_K:])
    return CategoricalSketch(count, nulls, tuple(kept), other)




def quantile_points(ordered: np.ndarray, points: int = _POINTS) -> np.ndarray:
    """The values at ranks 0, 1/(points-1) … 1 of sorted ``ordered`` (linear interpolation, as np.quantile)."""
    position = np.linspace(0, ordered.size - 1, points)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, ordered.size - 1)
    weight = position - low
    return ordered[low] * (1 - weight) + ordered[high] * weight


def edges_for(ordered: np.ndarray, bins: int = BINS) -> tuple[float, ...]:
    """Histogram edges for sorted finite values: their quantiles at 0, 1/bins … 1 (distinct).

    When ties make fewer distinct quantiles and the column holds at most ``bins``
    distinct values, each value gets its own bin instead (the last edge is one
    smallest gap above the largest value), so discrete columns keep exact counts.
    """
    if ordered.size == 0:
        return ()
    cuts = np.unique(quantile_points(ordered, bins + 1))
    if cuts.size < bins + 1:
        distinct = ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]
        if distinct.size <= bins:
            cuts = _value_edges(distinct)
    if cuts.size == 1:
        cuts = np.append(cuts, cuts[0] + 1.0)
    return tuple(cuts.astype(np.float64).tolist())


def _value_edges(distinct: np.ndarray) -> np.ndarray:
    """Edges giving each of these sorted distinct values its own bin (the last edge one
    smallest gap above the largest value)."""
    gap = float(np.min(np.diff(distinct))) if distinct.size > 1 else 1.0
    return np.append(distinct, distinct[-1] + gap)


def _counts(ordered: np.ndarray, edges: tuple[float, ...]) -> Histogram:
    if len(edges) < 2:
        return Histogram(edges, ())
    cuts = np.asarray(edges)
    at = np.searchsorted(ordered, cuts, side="left")
    top = int(np.searchsorted(ordered, cuts[-1], side="right"))
    counts = np.diff(np.append(at[:-1], top))
    return Histogram(edges, tuple(counts.tolist()), int(at[0]), int(ordered.size - top))


def numeric_from_sorted(ordered: np.ndarray, missing: int, edges: tuple[float, ...] | None = None,
                        bins: int = BINS) -> NumericSketch:
    """The sketch of sorted finite values (``missing`` others were null, NaN or infinite).

    Binned on ``edges`` when given (a reference's), else on :func:`edges_for` the values.
    """
    n = int(ordered.size)
    if edges is None:
        edges = edges_for(ordered, bins)
    if n == 0:
        return NumericSketch(0, missing, None, None, None, None, _counts(ordered, edges), QuantileSketch(0, ()))
    mean = float(ordered.mean())
    m2 = float(np.var(ordered)) * n
    quantiles = QuantileSketch(n, tuple(quantile_points(ordered).tolist()))
    return NumericSketch(n, missing, float(ordered[0]), float(ordered[-1]), mean, m2, _counts(ordered, edges),
                         quantiles)


def numeric_from_quantiles(count: int, nulls: int, mean: float | None, m2: float | None,
                           quantiles: QuantileSketch, bins: int = BINS,
                           values: Sequence[tuple[float, int]] | None = None) -> NumericSketch:
    """A sketch rebuilt from a quantile sketch and moments (a stored dataset profile's column).

    Given ``values``, every distinct value with its count (a discrete column's profile
    lists them), each value gets its own bin with its exact count, as
    :func:`edges_for` bins a column of at most ``bins`` distinct values. Otherwise the
    edges are the sketch's quantiles, one bin per distinct point where ties leave
    fewer (so a 0/1 flag keeps a bin per value rather than one for all), and each bin
    ``[e_i, e_i+1)`` gets the count its CDF reads (values at an edge belong to the bin
    starting there, as :func:`numeric_from_sorted` counts them).
    """
    if not quantiles.n or not quantiles.points:
        return NumericSketch(0, nulls + count, None, None, None, None, Histogram((), ()), QuantileSketch(0, ()))
    if values and len(values) <= bins and sum(c for _, c in values) == count:
        ordered = sorted((float(v), int(c)) for v, c in values)
        edges = tuple(float(e) for e in _value_edges(np.array([v for v, _ in ordered])))
        return NumericSketch(count, nulls, ordered[0][0], ordered[-1][0], mean, m2,
                             Histogram(edges, tuple(c for _, c in ordered)), quantiles)
    cuts = np.unique([quantiles.quantile(q) for q in np.linspace(0, 1, bins + 1)])
    if cuts.size < bins + 1:
        distinct = np.unique(quantiles.points)
        if distinct.size <= bins:
            cuts = _value_edges(distinct)
    if cuts.size == 1:
        cuts = np.append(cuts, cuts[0] + 1.0)
    edges = tuple(float(e) for e in cuts)
    shares = quantiles.cdf(np.asarray(edges[1:-1]), side="left")
    cumulative = np.concatenate(([0.0], shares, [1.0])) * count
    counts = round_keeping_total(np.diff(cumulative))
    return NumericSketch(count, nulls, quantiles.points[0], quantiles.points[-1], mean, m2,
                         Histogram(edges, tuple(int(c) for c in counts)), quantiles)


def quantile_pass(batches: Iterable[pa.RecordBatch], rows: int, bins: int = BINS) -> dict[str, ColumnSketch]:
    """Edges for the numeric columns of a stream of batches, from a bounded uniform sample.

    Returns empty sketches carrying only the edges, to pass as a profile's reference.
    """
    from shipyard.monitoring._frames import kind_of, sorted_finite

    rng = np.random.default_rng(0)
    samples: dict[str, list[np.ndarray]] = {}
    for batch in batches:
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            if kind_of(column.type) != "numeric":
                continue
            ordered, _ = sorted_finite(column)
            take = ordered.size if rows <= _SAMPLE else max(1, round(_SAMPLE * len(column) / rows))
            picked = ordered if take >= ordered.size else ordered[np.sort(rng.integers(0, ordered.size, take))]
            samples.setdefault(name, []).append(picked)
    out: dict[str, ColumnSketch] = {}
    for name, parts in samples.items():
        edges = edges_for(np.sort(np.concatenate(parts)), bins)
        out[name] = NumericSketch(0, 0, None, None, None, None, Histogram(edges, (0,) * max(len(edges) - 1, 0)),
                                  QuantileSketch(0, ()))
    return out
