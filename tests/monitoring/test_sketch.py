"""Column sketches: histogram edges, counts on given edges, and sketches rebuilt from quantiles."""

from __future__ import annotations

import numpy as np
import pytest

from shipyard.datasets._sketches import QuantileSketch
from shipyard.monitoring import _sketch as sketch


def test_continuous_values_are_cut_at_their_percentiles() -> None:
    values = np.sort(np.random.default_rng(0).normal(size=100_001))
    edges = sketch.edges_for(values)
    assert len(edges) == sketch.BINS + 1 and edges[0] == values[0] and edges[-1] == values[-1]
    assert np.allclose(edges, np.quantile(values, np.linspace(0, 1, sketch.BINS + 1)))


def test_discrete_values_get_a_bin_each_and_a_constant_one_bin() -> None:
    values = np.sort(np.repeat([1.0, 2.0, 5.0], [10, 500, 3]))
    assert sketch.edges_for(values) == (1.0, 2.0, 5.0, 6.0)
    counted = sketch.numeric_from_sorted(values, 0)
    assert counted.histogram.counts == (10, 500, 3) and counted.histogram.below == counted.histogram.above == 0
    assert sketch.edges_for(np.full(7, 4.0)) == (4.0, 5.0)
    assert sketch.edges_for(np.empty(0)) == ()


def test_values_outside_given_edges_are_counted_below_and_above() -> None:
    values = np.sort(np.array([-5.0, 0.0, 0.5, 1.0, 1.0, 2.0, 9.0]))
    counted = sketch.numeric_from_sorted(values, 2, edges=(0.0, 1.0, 2.0))
    h = counted.histogram
    assert (h.below, h.counts, h.above) == (1, (2, 3), 1)  # [0, 1) and [1, 2], the last bin closed
    assert (counted.count, counted.nulls, counted.min, counted.max) == (7, 2, -5.0, 9.0)


def test_an_empty_column_keeps_its_missing_count_and_the_edges() -> None:
    empty = sketch.numeric_from_sorted(np.empty(0), 4, edges=(0.0, 1.0))
    assert (empty.count, empty.nulls, empty.mean, empty.std) == (0, 4, None, None)
    assert empty.histogram.counts == (0,)


def test_a_sketch_rebuilt_from_quantiles_spreads_the_count_over_its_bins() -> None:
    values = np.random.default_rng(1).exponential(size=50_000)
    quantiles = QuantileSketch.of(values)
    rebuilt = sketch.numeric_from_quantiles(values.size, 3, float(values.mean()), float(values.var() * values.size),
                                            quantiles)
    assert sum(rebuilt.histogram.counts) == values.size and rebuilt.nulls == 3
    shares = np.asarray(rebuilt.histogram.counts) / values.size
    assert shares == pytest.approx(np.full(shares.size, 1 / shares.size), abs=2e-3)


def test_numeric_merge_combines_moments_exactly() -> None:
    rng = np.random.default_rng(2)
    a, b = np.sort(rng.normal(size=1000)), np.sort(rng.normal(3, 2, size=500))
    edges = sketch.edges_for(np.sort(np.concatenate([a, b])))
    merged = sketch.numeric_from_sorted(a, 1, edges).merge(sketch.numeric_from_sorted(b, 2, edges))
    both = np.concatenate([a, b])
    assert (merged.count, merged.nulls, merged.min, merged.max) == (1500, 3, both.min(), both.max())
    assert merged.mean == pytest.approx(both.mean()) and merged.std == pytest.approx(both.std())
    assert sum(merged.histogram.counts) == 1500


def test_a_discrete_sketch_rebuilt_from_quantiles_keeps_a_bin_per_value() -> None:
    values = np.repeat([0.0, 1.0], [730, 270])  # a 0/1 flag: its 101 quantiles are only 0 and 1
    rebuilt = sketch.numeric_from_quantiles(values.size, 0, float(values.mean()), float(values.var() * values.size),
                                            QuantileSketch.of(values))
    h = rebuilt.histogram
    assert h.edges[0] == 0.0 and 1.0 in h.edges and h.edges[-1] > 1.0
    shares = dict(zip(h.edges, np.asarray(h.counts) / values.size, strict=False))
    resolution = 1 / 256 + 1 / values.size
    assert shares[0.0] == pytest.approx(0.73, abs=resolution) and shares[1.0] == pytest.approx(0.27, abs=resolution)
    exact = sketch.numeric_from_quantiles(values.size, 0, None, None, QuantileSketch.of(values),
                                          values=[(1, 270), (0, 730)])  # every value's count: exact bins
    assert exact.histogram.edges == (0.0, 1.0, 2.0) and exact.histogram.counts == (730, 270)
    assert (exact.min, exact.max) == (0.0, 1.0)
