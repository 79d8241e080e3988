"""Two-sample statistics, vectorised, each equal to scipy's reference implementation.

Numeric samples are compared once they are sorted: :func:`compare_sorted` reads the
Kolmogorov–Smirnov statistic, the Wasserstein distance and the population stability
index off the two sorted samples (one ``searchsorted`` of one into the other for KS,
paired order statistics for Wasserstein, a few cut points for PSI), so the costly
step (sorting, which releases the GIL) happens once per column.
Categorical samples are compared through their category counts.

* KS: :func:`ks_2samp_sorted` equals ``scipy.stats.ks_2samp`` (two-sided,
  ``method="auto"``): the exact p-value when both samples hold at most 10,000
  values, else Smirnov's asymptotic distribution ``kstwo.sf(d, round(n·m/(n+m)))``.
* Wasserstein: :func:`wasserstein_sorted` equals ``scipy.stats.wasserstein_distance``
  (the area between the two CDFs); :func:`normalised_wasserstein` divides it by the
  reference's population standard deviation, floored at :data:`STD_FLOOR` so a
  constant reference still gives a finite score.
* PSI: :func:`psi` over :data:`PSI_BINS` bins cut at the reference's quantiles
  (deciles), the outer bins open-ended; a bin's share is floored at
  :data:`PSI_EPSILON` before the logarithm, so an empty bin adds a large but
  finite term.
* Jensen–Shannon: :func:`jensenshannon` equals
  ``scipy.spatial.distance.jensenshannon(p, q, base=2)``, in [0, 1].
* chi²: :func:`chi2_homogeneity` equals ``scipy.stats.chi2_contingency`` on the 2 × k
  table of counts (with Yates' correction when k = 2, as scipy does);
  :func:`chi2_goodness_of_fit` equals ``scipy.stats.chisquare``.

>>> import numpy as np
>>> a = np.sort(np.arange(100.0)); b = np.sort(np.arange(100.0) + 50)
>>> round(wasserstein_sorted(a, b), 6)
50.0
>>> round(jensenshannon(np.array([1, 0]), np.array([0, 1])), 6)
1.0
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

__all__ = [
    "EXACT_KS_LIMIT",
    "PSI_BINS",
    "PSI_EPSILON",
    "STD_FLOOR",
    "NumericStats",
    "chi2_goodness_of_fit",
    "chi2_homogeneity",
    "compare_sorted",
    "jensenshannon",
    "ks_2samp_sorted",
    "ks_pvalue",
    "normalised_wasserstein",
    "psi",
    "quantile_edges",
    "wasserstein_sorted",
]

#: scipy's ``method="auto"`` computes the exact KS p-value up to this many values per sample.
EXACT_KS_LIMIT = 10_000
PSI_BINS = 10
PSI_EPSILON = 1e-4
STD_FLOOR = 1e-3


@dataclass(frozen=True)
class NumericStats:
    """Every statistic of one numeric column pair (``wasserstein`` is not normalised)."""

    ks: float
    ks_p_value: float | None  # None when not asked for (it costs milliseconds on large samples)
    wasserstein: float
    psi: float
    jensenshannon: float


def _merged_cdfs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct values of ``a ∪ b`` and both empirical CDFs at each (``side="right"``).

    Both inputs are sorted and NaN-free. The merge places each value of ``a`` by one
    ``searchsorted`` into ``b`` (sorted needles: cache friendly) instead of sorting
    the concatenation again.
    """
    n1, n2 = a.size, b.size
    n = n1 + n2
    where_a = np.searchsorted(b, a, side="left")
    where_a += np.arange(n1, dtype=where_a.dtype)
    from_a = np.zeros(n, dtype=bool)
    from_a[where_a] = True
    merged = np.empty(n, dtype=np.float64)
    merged[where_a] = a
    merged[~from_a] = b
    # The CDF at a value counts every copy of it, so read the counts at the last
    # element of each run of equal values.
    ends = np.flatnonzero(merged[1:] != merged[:-1])
    ends = np.append(ends, n - 1)
    count_a = np.cumsum(from_a, dtype=np.int64)[ends]
    cdf_a = count_a / n1
    cdf_b = (ends + 1 - count_a) / n2
    return merged[ends], cdf_a, cdf_b


def ks_pvalue(statistic: float, n1: int, n2: int, *, exact_from: tuple[np.ndarray, np.ndarray] | None = None
              ) -> float:
    """The two-sided KS p-value as ``scipy.stats.ks_2samp(method="auto")`` computes it.

    ``exact_from`` (the two samples) is needed for the exact path (both ≤ 10,000 values).
    """
    from scipy import stats

    if exact_from is not None and max(n1, n2) <= EXACT_KS_LIMIT:
        with warnings.catch_warnings():
            # Where the exact computation fails (tiny statistics of tied samples), scipy
            # switches to the asymptotic p-value itself and says so: that is its answer.
            warnings.filterwarnings("ignore", "ks_2samp: Exact calculation unsuccessful", RuntimeWarning)
            return float(stats.ks_2samp(exact_from[0], exact_from[1]).pvalue)
    big, small = max(float(n1), float(n2)), min(float(n1), float(n2))
    en = big * small / (big + small)
    return float(np.clip(stats.kstwo.sf(statistic, np.round(en)), 0.0, 1.0))


def _ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """sup |F_a - F_b| of two sorted samples, from one ``searchsorted`` of ``a`` into ``b``.

    F_a - F_b peaks at a value of ``a``; F_b - F_a either there (when ``b`` has ties
    at that value) or just below it, where it equals the value at the previous data
    point: the same candidates scipy evaluates at every data point.
    """
    n1, n2 = a.size, b.size
    below_b = np.searchsorted(b, a, side="right")  # b values ≤ a_i
    changes = np.flatnonzero(a[1:] != a[:-1])
    if changes.size == n1 - 1:  # no ties within a: every value is its own run
        last, first, at_last = np.arange(1, n1 + 1), None, below_b
    else:
        last = np.append(changes + 1, n1)
        first = np.concatenate(([0], changes + 1))
        at_last = below_b[last - 1]
    gap = last / n1
    gap -= at_last / n2
    tied = (at_last > 0) & (b[np.maximum(at_last - 1, 0)] == a[last - 1])
    if first is None and not tied.any():
        # Continuous case: just below a_i, F_b - F_a = -gap_i + 1/n1.
        return float(max(gap.max(), 1.0 / n1 - gap.min(), 0.0))
    strictly = at_last
    if tied.any():  # b values equal to a_i: count those strictly below it separately
        strictly = at_last.copy()
        strictly[tied] = np.searchsorted(b, a[last - 1][tied], side="left")
    start = first if first is not None else last - 1
    return float(max(gap.max(), -gap.min(), (strictly / n2 - start / n1).max(), 0.0))


def ks_2samp_sorted(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(statistic, p-value) of the two-sided two-sample KS test on sorted samples."""
    d = _ks_statistic(a, b)
    return d, ks_pvalue(d, a.size, b.size, exact_from=(a, b))


def wasserstein_sorted(a: np.ndarray, b: np.ndarray) -> float:
    """The first Wasserstein distance between two sorted samples.

    Equal sizes pair the order statistics (the mean absolute difference of the
    quantile functions); otherwise the area between the CDFs on the merged values.
    """
    if a.size == b.size:
        return float(np.mean(np.abs(a - b)))
    values, cdf_a, cdf_b = _merged_cdfs(a, b)
    return float(np.dot(np.abs(cdf_a[:-1] - cdf_b[:-1]), np.diff(values)))


def normalised_wasserstein(distance: float, reference_std: float) -> float:
    """``distance`` in units of the reference's standard deviation (floored at :data:`STD_FLOOR`)."""
    return distance / max(reference_std, STD_FLOOR)


def quantile_edges(sorted_reference: np.ndarray, bins: int = PSI_BINS) -> np.ndarray:
    """The distinct interior cut points at the reference's ``1/bins … (bins-1)/bins`` quantiles."""
    n = sorted_reference.size
    if n == 0:
        return np.empty(0)
    position = np.linspace(0, n - 1, bins + 1)[1:-1]
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, n - 1)
    weight = position - low
    cuts = sorted_reference[low] * (1 - weight) + sorted_reference[high] * weight
    return np.unique(cuts)


def _bin_shares(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Shares of the bins ``(-inf, e0], (e0, e1] … (e_last, inf)``."""
    below = np.searchsorted(sorted_values, edges, side="right")
    counts = np.diff(np.concatenate(([0], below, [sorted_values.size])))
    return counts / max(sorted_values.size, 1)


def psi(reference_shares: np.ndarray, current_shares: np.ndarray, epsilon: float = PSI_EPSILON) -> float:
    """Population stability index ``Σ (c - r) · ln(c / r)`` with shares floored at ``epsilon``."""
    r = np.maximum(np.asarray(reference_shares, dtype=np.float64), epsilon)
    c = np.maximum(np.asarray(current_shares, dtype=np.float64), epsilon)
    return float(np.sum((c - r) * np.log(c / r)))


def jensenshannon(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen–Shannon distance (base 2) between two count or probability vectors."""
    from scipy.special import rel_entr

    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    p = p / p.sum()
    q = q / q.sum()
    m = (p + q) / 2.0
    js = (float(np.sum(rel_entr(p, m))) + float(np.sum(rel_entr(q, m)))) / math.log(2)
    return math.sqrt(max(js, 0.0) / 2.0)


def chi2_homogeneity(reference_counts: np.ndarray, current_counts: np.ndarray) -> tuple[float, float]:
    """(statistic, p-value) of the chi² test that both count vectors share one distribution.

    Categories empty on both sides are dropped first (scipy refuses zero expected counts).
    """
    from scipy.special import chdtrc

    observed = np.vstack([reference_counts, current_counts]).astype(np.float64)
    observed = observed[:, observed.sum(axis=0) > 0]
    dof = observed.shape[1] - 1
    if dof <= 0 or (observed.sum(axis=1) == 0).any():
        return 0.0, 1.0
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / observed.sum()
    if dof == 1:  # Yates' continuity correction, as chi2_contingency applies it
        gap = expected - observed
        observed = observed + np.sign(gap) * np.minimum(0.5, np.abs(gap))
    statistic = float(np.sum((observed - expected) ** 2 / expected))
    return statistic, float(chdtrc(dof, statistic))


def chi2_goodness_of_fit(observed: np.ndarray, expected: np.ndarray) -> tuple[float, float]:
    """(statistic, p-value) of Pearson's chi² test of ``observed`` against ``expected`` counts."""
    from scipy.special import chdtrc

    observed = np.asarray(observed, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    statistic = float(np.sum((observed - expected) ** 2 / expected))
    return statistic, float(chdtrc(observed.size - 1, statistic))


def compare_sorted(reference: np.ndarray, current: np.ndarray, *, bins: int = PSI_BINS,
                   ks_p_value: bool = True) -> NumericStats:
    """KS (with its p-value unless ``ks_p_value`` is False), Wasserstein, PSI and
    Jensen–Shannon (on the PSI bins) of two sorted, NaN-free samples."""
    d = _ks_statistic(reference, current)
    edges = quantile_edges(reference, bins)
    shares_r, shares_c = _bin_shares(reference, edges), _bin_shares(current, edges)
    return NumericStats(
        ks=d, ks_p_value=ks_pvalue(d, reference.size, current.size, exact_from=(reference, current))
        if ks_p_value else None,
        wasserstein=wasserstein_sorted(reference, current), psi=psi(shares_r, shares_c),
        jensenshannon=jensenshannon(shares_r, shares_c))
