"""Properties of profile diffs, over generated tables: the same data diffs to zero, and the
profile path agrees with the exact statistics computed on the raw data.

Tables hold every kind of column a profile distinguishes: integers with ties and nulls
(0/1 flags among them), floats with ties, NaN and nulls (continuous, rounded, zero
inflated or constant), booleans, strings of few categories, and strings of more
categories than a profile keeps (:data:`~shipyard.datasets._profile.TOP_K`).

A reshuffled copy diffs to exactly zero while a column's quantile sketch is exact (up to
65,536 values); past that the sketch samples values by position, so row order moves
non-discrete columns' statistics by the sketch's rank error, far below any threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipyard.datasets import diff_profiles, profile_table
from shipyard.datasets._diff import PSI_LIMIT, ColumnShift
from shipyard.datasets._profile import TOP_K
from shipyard.monitoring import detect_drift

SETTINGS = settings(max_examples=100, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
NUMERIC = ("flag", "count", "amount")
CATEGORICAL = ("active", "plan")
HIGH_CARDINALITY = "customer"
STATISTICS = ("psi", "ks", "wasserstein", "js")


@dataclass(frozen=True)
class Shape:
    """How a generated table's columns are distributed; ``shift`` moves every one of them."""

    seed: int
    null_rate: float
    flag_rate: float
    levels: int
    amount: str
    plans: int
    customers: int

    def table(self, rows: int, *, shift: float = 0.0, seed: int | None = None) -> pa.Table:
        rng = np.random.default_rng(self.seed if seed is None else seed)

        def missing() -> np.ndarray:
            return rng.random(rows) < self.null_rate

        flag = (rng.random(rows) < min(self.flag_rate + shift / 3, 1.0)).astype(np.int64)
        count = rng.integers(0, self.levels, rows) + round(shift * self.levels)
        amount = {"continuous": rng.normal(100 * shift, 10, rows),
                  "rounded": np.round(rng.normal(shift, 1 + shift, rows), 1),
                  "zero_inflated": np.where(rng.random(rows) < 0.4, 0.0, rng.exponential(1 + shift, rows)),
                  "constant": np.full(rows, 5.0 + shift)}[self.amount]
        amount[rng.random(rows) < self.null_rate / 2] = np.nan  # NaN as well as nulls
        weights = np.arange(1, self.plans + 1, dtype=np.float64) ** (1 + 2 * shift)
        plan = np.array([f"plan-{i}" for i in range(self.plans)])[
            rng.choice(self.plans, rows, p=weights / weights.sum())]
        customer = np.char.add("c", (rng.integers(0, self.customers, rows) + int(shift * self.customers))
                               .astype(str))
        return pa.table({
            "flag": pa.array(flag, mask=missing()),
            "count": pa.array(count, mask=missing()),
            "amount": pa.array(amount, mask=missing()),
            "active": pa.array(rng.random(rows) < 0.5 + shift / 4, mask=missing()),
            "plan": pa.array(plan, mask=missing()),
            "customer": pa.array(customer, mask=missing()),
        })


shapes = st.builds(
    Shape, seed=st.integers(0, 2**32 - 1), null_rate=st.sampled_from([0.0, 0.05, 0.4]),
    flag_rate=st.floats(0.0, 1.0), levels=st.integers(1, 12),
    amount=st.sampled_from(["continuous", "rounded", "zero_inflated", "constant"]),
    plans=st.integers(1, 8), customers=st.integers(TOP_K + 1, 5 * TOP_K))


def shifts_of(diff: list[ColumnShift]) -> dict[str, ColumnShift]:
    return {c.name: c for c in diff}


def assert_all_zero(table: pa.Table, other: pa.Table) -> None:
    before, after = profile_table(table), profile_table(other)
    diff = diff_profiles(before, after)
    assert diff.shifted == [] and not diff.schema_changed and diff.rows == (table.num_rows, other.num_rows)
    for column in diff.columns:
        for name in STATISTICS:
            assert getattr(column, name) in (None, 0.0), (column.name, name, getattr(column, name))
        assert column.null_fraction[0] == column.null_fraction[1]
        assert column.new_categories == [] and column.lost_categories == []
    report = detect_drift(before, after, min_count=1)
    assert not report.drifted and report.drifted_columns == []
    for drift in report.columns.values():
        scores = {k: v for k, v in drift.scores.items() if not k.endswith("p_value")}
        assert all(v == 0.0 for v in scores.values()), (drift.column, scores)
        assert drift.statistic in (None, 0.0)


@SETTINGS
@given(shape=shapes, rows=st.integers(0, 600))
def test_a_profile_diffed_with_itself_is_zero_on_every_statistic(shape: Shape, rows: int) -> None:
    table = shape.table(rows)
    assert_all_zero(table, table)


@SETTINGS
@given(shape=shapes, rows=st.integers(1, 600), order=st.integers(0, 2**32 - 1))
def test_a_profile_diffed_with_a_reshuffled_copy_is_zero_on_every_statistic(shape: Shape, rows: int,
                                                                              order: int) -> None:
    table = shape.table(rows)
    assert_all_zero(table, table.take(np.random.default_rng(order).permutation(rows)))


def sketch_error(values: pa.ChunkedArray) -> tuple[float, float]:
    """The bound on the gap between a column's sketched and empirical CDFs, and its range."""
    finite = values.to_numpy(zero_copy_only=False).astype(np.float64)
    finite = finite[np.isfinite(finite)]
    return 1 / finite.size + 1 / 256, float(np.ptp(finite))


@SETTINGS
@given(shape=shapes, rows=st.tuples(st.integers(200, 1500), st.integers(200, 1500)),
       shift=st.sampled_from([0.0, 0.0, 0.1, 0.5, 1.0]))
def test_profile_statistics_agree_with_the_exact_ones_on_raw_data(shape: Shape, rows: tuple[int, int],
                                                                  shift: float) -> None:
    """The profile path (``diff_profiles``, and ``detect_drift`` on two profiles) against
    ``detect_drift`` on the raw tables, for two samples of one distribution and for a
    shifted one.

    Tolerances:

    * discrete numeric columns (at most TOP_K distinct values, so both profiles list
      every value's count): ``diff_profiles``' KS, Wasserstein and PSI equal the exact
      ones to 1e-9;
    * other numeric columns are read off quantile sketches. With ``δ = 1/n + 1/256``
      per side (``n`` its non-missing values) a sketch's CDF is within δ of the
      empirical one (the sketch is the piecewise-linear quantile function through the
      order statistics, read at 257 ranks), hence on both profile paths KS is within
      ``δ_a + δ_b`` and Wasserstein within ``δ_a · range_a + δ_b · range_b`` (the area
      between a sketched CDF and the empirical one is at most δ times the range);
    * PSI off sketches: each decile share is within about 2δ, but PSI's logarithm has
      no uniform bound (a decile the new data leaves empty adds about 0.69 exactly,
      while a sketch, linear between neighbouring values, gives it a share of about
      δ). So, empirically for these families of shifts with at least 200 rows a
      side: up to an exact PSI of 0.5, within ``0.1 + 0.5 · exact``; beyond it, the
      profile's PSI flags the column too (above ``PSI_LIMIT``). ``detect_drift`` on
      profiles bins PSI on the reference's histogram, another cut of the same
      deciles, so its PSI is only pinned to 0 on the same data (the other tests);
    * categorical columns with at most TOP_K categories: JS, chi² and PSI equal to
      1e-9 (category counts are exact). Past TOP_K a profile keeps only the top
      categories, so only zero on the same data is asserted (the other tests).

    A column constant on both sides has no statistics on the exact path: its profile
    statistics must then be 0.
    """
    old, new = shape.table(rows[0]), shape.table(rows[1], shift=shift, seed=shape.seed + 1)
    exact = detect_drift(old, new, min_count=1)
    before, after = profile_table(old), profile_table(new)
    diffed = shifts_of(diff_profiles(before, after).columns)
    sketched = detect_drift(before, after, min_count=1)
    for name in NUMERIC:
        truth, column = exact.columns[name], diffed[name]
        if truth.status == "constant":
            assert column.ks == column.wasserstein == column.psi == 0.0
            continue
        if truth.status != "ok":  # a side with no values: nothing to compare
            continue
        scores = truth.scores
        if before[name].top_complete and after[name].top_complete:
            for key in ("ks", "wasserstein", "psi"):
                assert math.isclose(getattr(column, key), scores[key], rel_tol=1e-9, abs_tol=1e-12), (name, key)
        else:
            assert column.psi is not None
            if scores["psi"] <= 0.5:
                assert abs(column.psi - scores["psi"]) <= 0.1 + 0.5 * scores["psi"], (name, column.psi, scores)
            else:
                assert column.psi > PSI_LIMIT, (name, column.psi, scores)
        (delta_a, range_a), (delta_b, range_b) = sketch_error(old.column(name)), sketch_error(new.column(name))
        for ks in (column.ks, sketched.columns[name].scores["ks"]):
            assert ks is not None and abs(ks - scores["ks"]) <= delta_a + delta_b, (name, ks, scores)
        for distance in (column.wasserstein, sketched.columns[name].scores["wasserstein"]):
            assert distance is not None
            assert abs(distance - scores["wasserstein"]) <= delta_a * range_a + delta_b * range_b + 1e-9, \
                (name, distance, scores)
    for name in CATEGORICAL:
        truth, column = exact.columns[name], diffed[name]
        if truth.status == "ok":
            assert column.js is not None and math.isclose(column.js, truth.scores["jensenshannon"], abs_tol=1e-9)
            for key, value in truth.scores.items():
                assert math.isclose(sketched.columns[name].scores[key], value, rel_tol=1e-9, abs_tol=1e-9), key
        elif truth.status == "constant":
            assert column.js in (None, 0.0)
    assert diffed[HIGH_CARDINALITY].js is not None


@SETTINGS
@given(shape=shapes, rows=st.integers(300, 1500))
def test_a_clearly_shifted_table_is_flagged_on_both_paths(shape: Shape, rows: int) -> None:
    old, new = shape.table(rows), shape.table(rows, shift=1.0, seed=shape.seed + 1)
    diffed = shifts_of(diff_profiles(profile_table(old), profile_table(new)).columns)
    exact = detect_drift(old, new, tests={"amount": "psi", "count": "psi"})
    # Counts move by their whole range; a continuous amount by ten standard deviations.
    for name in ("count", "amount") if shape.amount in ("continuous", "constant") else ("count",):
        assert diffed[name].shifted and exact.columns[name].drifted, name
