"""Two-sample statistics equal scipy's reference implementations on the same data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats
from scipy.spatial.distance import jensenshannon as scipy_js

from shipyard.monitoring import _stats as stats

RTOL = 1e-9


def _pairs() -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(3)
    return [
        ("small-unequal", rng.normal(size=37), rng.normal(0.4, 1.2, size=53)),
        ("ties", rng.integers(0, 7, 400).astype(float), rng.integers(1, 9, 300).astype(float)),
        ("exact-limit", rng.normal(size=10_000), rng.normal(0.02, 1, size=9_000)),
        ("asymptotic", rng.normal(size=60_000), rng.normal(0.01, 1, size=45_000)),
        ("equal-size", rng.exponential(size=20_000), rng.exponential(1.05, size=20_000)),
        ("disjoint", rng.normal(size=500), rng.normal(100, 1, size=700)),
    ]


@pytest.mark.parametrize(("name", "a", "b"), _pairs(), ids=[p[0] for p in _pairs()])
def test_ks_equals_scipy_ks_2samp_auto(name: str, a: np.ndarray, b: np.ndarray) -> None:
    expected = scipy_stats.ks_2samp(a, b)
    d, p = stats.ks_2samp_sorted(np.sort(a), np.sort(b))
    assert d == pytest.approx(expected.statistic, rel=RTOL, abs=1e-15)
    assert p == pytest.approx(expected.pvalue, rel=RTOL, abs=1e-300)


@pytest.mark.parametrize(("name", "a", "b"), _pairs(), ids=[p[0] for p in _pairs()])
def test_wasserstein_equals_scipy(name: str, a: np.ndarray, b: np.ndarray) -> None:
    expected = scipy_stats.wasserstein_distance(a, b)
    assert stats.wasserstein_sorted(np.sort(a), np.sort(b)) == pytest.approx(expected, rel=RTOL)


@pytest.mark.parametrize(("name", "a", "b"), _pairs(), ids=[p[0] for p in _pairs()])
def test_compare_sorted_shares_one_sort_across_every_statistic(name: str, a: np.ndarray, b: np.ndarray) -> None:
    a, b = np.sort(a), np.sort(b)
    result = stats.compare_sorted(a, b)
    assert result.ks == pytest.approx(scipy_stats.ks_2samp(a, b).statistic, rel=RTOL)
    assert result.wasserstein == pytest.approx(scipy_stats.wasserstein_distance(a, b), rel=RTOL)
    edges = stats.quantile_edges(a)
    # Bins (-inf, e0], (e0, e1] … (e_last, inf): a value on a cut belongs to the bin below it.
    r = np.bincount(np.digitize(a, edges, right=True), minlength=edges.size + 1)
    c = np.bincount(np.digitize(b, edges, right=True), minlength=edges.size + 1)
    assert result.jensenshannon == pytest.approx(scipy_js(r, c, base=2), rel=RTOL)
    assert 0 <= result.jensenshannon <= 1 and result.psi >= 0


def test_ks_matches_scipy_on_many_small_tied_samples() -> None:
    rng = np.random.default_rng(11)
    for _ in range(300):
        n1, n2 = rng.integers(1, 40, 2)
        a = np.sort(rng.integers(0, 5, n1).astype(float))
        b = np.sort(rng.integers(0, 7, n2).astype(float))
        expected = scipy_stats.ks_2samp(a, b)
        d, p = stats.ks_2samp_sorted(a, b)
        assert d == pytest.approx(expected.statistic, abs=1e-12)
        assert p == pytest.approx(expected.pvalue, rel=RTOL)
        assert stats.wasserstein_sorted(a, b) == pytest.approx(scipy_stats.wasserstein_distance(a, b), rel=RTOL)


def test_jensenshannon_equals_scipy_base_2() -> None:
    rng = np.random.default_rng(5)
    for _ in range(50):
        p, q = rng.integers(0, 100, 8), rng.integers(0, 100, 8)
        p[0] += 1
        q[1] += 1
        assert stats.jensenshannon(p, q) == pytest.approx(scipy_js(p, q, base=2), rel=RTOL)
    assert stats.jensenshannon(np.array([1, 0]), np.array([0, 1])) == pytest.approx(1.0)
    assert stats.jensenshannon(np.array([3, 5]), np.array([6, 10])) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("table", [
    [[10, 20], [15, 5]],  # 2 x 2: Yates' correction, as scipy applies it
    [[10, 20, 30, 1], [15, 5, 30, 9]],
    [[1000, 2000, 3000], [1100, 1900, 3050]],
    [[5, 0, 7], [3, 0, 9]],  # a category empty on both sides is dropped
])
def test_chi2_homogeneity_equals_chi2_contingency(table: list[list[int]]) -> None:
    observed = np.array(table)
    expected = scipy_stats.chi2_contingency(observed[:, observed.sum(axis=0) > 0])
    statistic, p = stats.chi2_homogeneity(observed[0], observed[1])
    assert statistic == pytest.approx(expected.statistic, rel=RTOL)
    assert p == pytest.approx(expected.pvalue, rel=RTOL)


def test_chi2_of_a_single_category_is_no_evidence() -> None:
    assert stats.chi2_homogeneity(np.array([5]), np.array([9])) == (0.0, 1.0)


def test_chi2_goodness_of_fit_equals_chisquare() -> None:
    observed = np.array([16, 18, 16, 14, 12, 12])
    expected_counts = np.full(6, observed.sum() / 6)
    expected = scipy_stats.chisquare(observed, expected_counts)
    statistic, p = stats.chi2_goodness_of_fit(observed, expected_counts)
    assert statistic == pytest.approx(expected.statistic, rel=RTOL)
    assert p == pytest.approx(expected.pvalue, rel=RTOL)


def test_psi_floors_empty_bins_at_epsilon_and_is_zero_for_equal_shares() -> None:
    shares = np.array([0.2, 0.3, 0.5])
    assert stats.psi(shares, shares) == 0.0
    value = stats.psi(np.array([0.5, 0.5, 0.0]), np.array([0.4, 0.4, 0.2]))
    floor = stats.PSI_EPSILON
    by_hand = (0.4 - 0.5) * np.log(0.4 / 0.5) * 2 + (0.2 - floor) * np.log(0.2 / floor)
    assert value == pytest.approx(by_hand, rel=RTOL)


def test_quantile_edges_are_the_reference_deciles() -> None:
    values = np.sort(np.random.default_rng(1).normal(size=10_001))
    assert np.allclose(stats.quantile_edges(values), np.quantile(values, np.linspace(0, 1, 11)[1:-1]))
    assert stats.quantile_edges(np.zeros(50)).tolist() == [0.0]  # ties collapse to distinct cuts


def test_normalised_wasserstein_divides_by_the_reference_std_with_a_floor() -> None:
    assert stats.normalised_wasserstein(0.5, 2.0) == 0.25
    assert stats.normalised_wasserstein(0.5, 0.0) == 0.5 / stats.STD_FLOOR
