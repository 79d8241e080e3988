"""Every drift statistic of one column pair, from raw values (exact) or from sketches.

:func:`compare_numeric` and :func:`compare_categorical` take the raw columns and give
the statistics of :mod:`shipyard.monitoring._stats`, equal to scipy's.
:func:`compare_sketches` takes two column sketches and approximates them:

* KS: the largest gap between the two quantile sketches' CDFs
  (:meth:`~shipyard.datasets._sketches.QuantileSketch.ks`); its p-value from
  Smirnov's asymptotic distribution;
* Wasserstein: the area between the two quantile functions (piecewise linear
  through the 257 sketch points), integrated exactly;
* PSI and Jensen–Shannon: on the reference histogram's bins grouped into
  :data:`~shipyard.monitoring._stats.PSI_BINS` groups of about equal reference mass
  (reference deciles when the bins are its percentiles); exact counts when both
  windows were binned on the same edges, else both sides' shares of the reference
  bins are read off their quantile sketches, the same way on each side;
* categorical: exact on the kept category counts, values pooled in ``other`` on
  either side counted as one more category; both sides' lists are first cut to the
  same depth (:func:`~shipyard.datasets._sketches.top_depth`), so sketches of the same
  data kept with different top-k still compare equal.

Two sketches of the same data give 0 on every statistic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from shipyard.datasets._sketches import top_depth
from shipyard.monitoring import _stats as stats
from shipyard.monitoring._frames import category_counts, sorted_finite
from shipyard.monitoring._sketch import CategoricalSketch, ColumnSketch, NumericSketch

__all__ = ["Comparison", "compare_categorical", "compare_numeric", "compare_sketches"]

_OTHER = "\x00other"


@dataclass(frozen=True)
class Comparison:
    """Counts of both sides and the statistics computed (empty when there was too little data)."""

    kind: str
    reference_count: int
    reference_missing: int
    current_count: int
    current_missing: int
    constant: bool = False
    scores: dict[str, float] = field(default_factory=dict)


def compare_numeric(reference: pa.ChunkedArray, current: pa.ChunkedArray, min_count: int,
                    ks_p_value: Callable[[int], bool] = lambda n: True) -> Comparison:
    """Exact statistics of two numeric columns (each sorted once, shared by every statistic).

    ``ks_p_value(n)`` says whether to compute the KS p-value, given the smaller count.
    """
    ref, ref_missing = sorted_finite(reference)
    cur, cur_missing = sorted_finite(current)
    base = Comparison("numeric", ref.size, ref_missing, cur.size, cur_missing)
    if min(ref.size, cur.size) < min_count:
        return base
    if ref[0] == ref[-1] == cur[0] == cur[-1]:
        return _constant(base)
    result = stats.compare_sorted(ref, cur, ks_p_value=ks_p_value(min(ref.size, cur.size)))
    std = float(np.std(ref))
    scores = {"ks": result.ks, "wasserstein": result.wasserstein,
              "wasserstein_normed": stats.normalised_wasserstein(result.wasserstein, std), "psi": result.psi,
              "jensenshannon": result.jensenshannon}
    if result.ks_p_value is not None:
        scores["ks_p_value"] = result.ks_p_value
    return _with(base, **scores)


def compare_categorical(reference: pa.ChunkedArray, current: pa.ChunkedArray, min_count: int,
                        ks_p_value: Callable[[int], bool] | None = None) -> Comparison:
    """Exact statistics of two categorical columns, from their value counts."""
    ref_names, ref_counts, ref_nulls = category_counts(reference)
    cur_names, cur_counts, cur_nulls = category_counts(current)
    return _categorical_scores(dict(zip(ref_names, ref_counts.tolist(), strict=True)), ref_nulls,
                               dict(zip(cur_names, cur_counts.tolist(), strict=True)), cur_nulls, min_count)


def _categorical_scores(ref: dict[str, int], ref_missing: int, cur: dict[str, int], cur_missing: int,
                        min_count: int) -> Comparison:
    base = Comparison("categorical", sum(ref.values()), ref_missing, sum(cur.values()), cur_missing)
    if min(base.reference_count, base.current_count) < min_count:
        return base
    names = list(ref) + [name for name in cur if name not in ref]
    if len(names) == 1:
        return _constant(base)
    r = np.array([ref.get(n, 0) for n in names], dtype=np.float64)
    c = np.array([cur.get(n, 0) for n in names], dtype=np.float64)
    chi2, chi2_p = stats.chi2_homogeneity(r, c)
    return _with(base, chi2=chi2, chi2_p_value=chi2_p, jensenshannon=stats.jensenshannon(r, c),
                 psi=stats.psi(r / r.sum(), c / c.sum()))


def compare_sketches(reference: ColumnSketch, current: ColumnSketch, min_count: int,
                     ks_p_value: Callable[[int], bool] = lambda n: True) -> Comparison:
    """Approximate statistics of two sketches of the same kind (see the module docstring)."""
    if isinstance(reference, CategoricalSketch) and isinstance(current, CategoricalSketch):
        depth = top_depth((reference.counts, not reference.other), (current.counts, not current.other))
        ref, ref_other = _cut(reference, depth)
        cur, cur_other = _cut(current, depth)
        if ref_other or cur_other:
            ref[_OTHER], cur[_OTHER] = ref_other, cur_other
        return _categorical_scores(ref, reference.nulls, cur, current.nulls, min_count)
    assert isinstance(reference, NumericSketch) and isinstance(current, NumericSketch)
    base = Comparison("numeric", reference.count, reference.nulls, current.count, current.nulls)
    if min(reference.count, current.count) < min_count:
        return base
    if reference.min == reference.max == current.min == current.max:
        return _constant(base)
    d, distance = reference.quantiles.ks(current.quantiles), reference.quantiles.wasserstein(current.quantiles)
    r_shares, c_shares = _grouped_shares(reference, current)
    scores = {"ks": d, "wasserstein": distance,
              "wasserstein_normed": stats.normalised_wasserstein(distance, reference.std or 0.0),
              "psi": stats.psi(r_shares, c_shares), "jensenshannon": stats.jensenshannon(r_shares, c_shares)}
    if ks_p_value(min(reference.count, current.count)):
        scores["ks_p_value"] = stats.ks_pvalue(d, reference.count, current.count)
    return _with(base, **scores)


def _grouped_shares(reference: NumericSketch, current: NumericSketch) -> tuple[np.ndarray, np.ndarray]:
    """Both sides' shares of the reference bins grouped into about-equal reference mass."""
    hist = reference.histogram
    edges = np.asarray(hist.edges)
    ref_counts = np.asarray(hist.counts, dtype=np.float64)
    ref_counts[0] += hist.below
    ref_counts[-1] += hist.above
    if current.histogram.edges == hist.edges:
        cur_hist = current.histogram
        cur_counts = np.asarray(cur_hist.counts, dtype=np.float64)
        cur_counts[0] += cur_hist.below
        cur_counts[-1] += cur_hist.above
    else:
        # Binned on other edges: both sides' shares of the bins [e_i, e_i+1) (the outer
        # ones open) off their quantile sketches, so that neither side's estimate is
        # compared with the other's exact counts.
        ref_counts, cur_counts = (np.diff(np.concatenate(([0.0], q.cdf(edges[1:-1], side="left"), [1.0])))
                                  for q in (reference.quantiles, current.quantiles))
    # Group bins where the reference's cumulative share crosses k / PSI_BINS.
    cumulative = np.cumsum(ref_counts) / ref_counts.sum()
    group = np.minimum(np.floor(cumulative * stats.PSI_BINS - 1e-9).astype(np.int64), stats.PSI_BINS - 1)
    group = np.maximum.accumulate(np.maximum(group, 0))
    r = np.bincount(group, weights=ref_counts)
    c = np.bincount(group, weights=cur_counts, minlength=r.size)
    keep = (r > 0) | (c > 0)
    return r[keep] / r.sum(), c[keep] / max(c.sum(), 1.0)


def _cut(sketch: CategoricalSketch, depth: int | None) -> tuple[dict[str, int], int]:
    """The sketch's first ``depth`` category counts, and its ``other`` with the rest added."""
    kept = dict(sketch.counts[:depth])
    return kept, sketch.other + sum(count for _, count in sketch.counts[len(kept):])


def _constant(base: Comparison) -> Comparison:
    """Both sides hold one and the same value: no statistic moves."""
    return Comparison(base.kind, base.reference_count, base.reference_missing, base.current_count,
                      base.current_missing, constant=True)


def _with(base: Comparison, **scores: float) -> Comparison:
    return Comparison(base.kind, base.reference_count, base.reference_missing, base.current_count,
                      base.current_missing, scores=scores)
