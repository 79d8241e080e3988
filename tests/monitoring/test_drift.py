"""detect_drift: known shifts are flagged and controls are not, at every size; every odd
window gets a clear status; options, inputs and the report's JSON form."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import shipyard
from shipyard.datasets import DatasetVersion, profile_table
from shipyard.errors import InvalidInput
from shipyard.monitoring import DriftReport, WindowProfile, detect_drift

SHIFTED = ["mean_shift", "variance", "category_mix"]
CONTROLS = ["control_num", "control_cat"]
BASE_MIX = [0.4, 0.3, 0.2, 0.1]


def make(n: int, seed: int, *, shifted: bool) -> pd.DataFrame:
    """Generated data; with ``shifted`` the first three columns move, the controls never do."""
    rng = np.random.default_rng(seed)
    letters = np.array(["a", "b", "c", "d"])
    return pd.DataFrame({
        "mean_shift": rng.normal(0.5 if shifted else 0.0, 1.0, n),
        "variance": rng.normal(0.0, 2.0 if shifted else 1.0, n),
        "category_mix": letters[rng.choice(4, n, p=[0.25] * 4 if shifted else BASE_MIX)],
        "control_num": rng.gamma(2.0, 3.0, n),
        "control_cat": letters[rng.choice(4, n, p=BASE_MIX)],
    })


def _no_nan(report: DriftReport) -> None:
    json.dumps(report.to_dict(), allow_nan=False)  # raises on NaN or infinity anywhere


# Fixed seeds: at n ≤ 1,000 the p-value tests flag an unshifted column with
# probability 0.05 by design; these seeds are representative draws.
@pytest.mark.parametrize("n", [1_000, 10_000, 100_000])
@pytest.mark.parametrize("path", ["exact", "sketch"])
def test_shifted_columns_are_flagged_and_controls_are_not(n: int, path: str) -> None:
    reference, current = make(n, 1, shifted=False), make(n, 2, shifted=True)
    ref = WindowProfile.of(reference) if path == "sketch" else reference
    report = detect_drift(ref, current)
    assert report.method == path
    assert sorted(report.drifted_columns) == sorted(SHIFTED)
    assert report.drift_share == pytest.approx(3 / 5) and report.drifted
    small = n <= 1_000
    assert report.columns["mean_shift"].test == ("ks" if small else "wasserstein")
    assert report.columns["category_mix"].test == ("chi2" if small else "jensenshannon")
    _no_nan(report)


@pytest.mark.parametrize("n", [1_000, 100_000])
def test_unshifted_data_is_not_flagged(n: int) -> None:
    report = detect_drift(make(n, 3, shifted=False), make(n, 4, shifted=False))
    assert report.drifted_columns == [] and report.drift_share == 0.0 and not report.drifted


def test_a_million_rows_flag_exactly_the_shifted_columns() -> None:
    report = detect_drift(make(1_000_000, 5, shifted=False), make(1_000_000, 6, shifted=True))
    assert sorted(report.drifted_columns) == sorted(SHIFTED)
    assert report.columns["mean_shift"].statistic == pytest.approx(0.5, abs=0.02)  # in reference stds
    assert report.columns["control_num"].statistic < 0.01


def test_statistics_are_scipys_on_the_same_data() -> None:
    from scipy import stats as scipy_stats
    from scipy.spatial.distance import jensenshannon

    reference, current = make(800, 7, shifted=False), make(600, 8, shifted=True)
    report = detect_drift(reference, current)
    ks = scipy_stats.ks_2samp(reference["mean_shift"], current["mean_shift"])
    column = report.columns["mean_shift"]
    assert (column.statistic, column.p_value) == (pytest.approx(ks.statistic, rel=1e-9),
                                                  pytest.approx(ks.pvalue, rel=1e-9))
    wd = scipy_stats.wasserstein_distance(reference["variance"], current["variance"])
    assert report.columns["variance"].scores["wasserstein"] == pytest.approx(wd, rel=1e-9)
    counts = pd.crosstab(np.r_[np.zeros(800), np.ones(600)],
                         np.r_[reference["category_mix"], current["category_mix"]]).to_numpy()
    chi2 = scipy_stats.chi2_contingency(counts)
    mix = report.columns["category_mix"]
    assert (mix.statistic, mix.p_value) == (pytest.approx(chi2.statistic, rel=1e-9),
                                            pytest.approx(chi2.pvalue, rel=1e-9))
    assert mix.scores["jensenshannon"] == pytest.approx(jensenshannon(counts[0], counts[1], base=2), rel=1e-9)


def test_sketch_statistics_approximate_the_exact_ones() -> None:
    reference, current = make(200_000, 9, shifted=False), make(150_000, 10, shifted=True)
    exact = detect_drift(reference, current)
    ref = WindowProfile.of(reference)
    sketched = detect_drift(ref, WindowProfile.of(current, reference=ref))
    for name in ("mean_shift", "variance", "control_num"):
        e, s = exact.columns[name].scores, sketched.columns[name].scores
        assert s["ks"] == pytest.approx(e["ks"], abs=0.01)
        assert s["wasserstein_normed"] == pytest.approx(e["wasserstein_normed"], abs=0.01)
        assert s["psi"] == pytest.approx(e["psi"], abs=0.01, rel=0.05)
    for name in ("category_mix", "control_cat"):  # category counts are exact in a sketch
        assert sketched.columns[name].scores == pytest.approx(exact.columns[name].scores, rel=1e-9)


def test_a_day_of_merged_hourly_windows_compares_like_the_whole_day() -> None:
    reference = WindowProfile.of(make(50_000, 11, shifted=False))
    day = make(24_000, 12, shifted=True)
    hours = [WindowProfile.of(day.iloc[h * 1000:(h + 1) * 1000], reference=reference) for h in range(24)]
    merged = hours[0]
    for hour in hours[1:]:
        merged = merged.merge(hour)
    whole = WindowProfile.of(day, reference=reference)
    a, b = detect_drift(reference, merged), detect_drift(reference, whole)
    assert a.drifted_columns == b.drifted_columns
    for name in a.columns:  # histogram-based statistics are exact under merging
        assert a.columns[name].scores["psi"] == pytest.approx(b.columns[name].scores["psi"], rel=1e-9)
        assert a.columns[name].scores["jensenshannon"] == pytest.approx(
            b.columns[name].scores["jensenshannon"], rel=1e-9)


@pytest.mark.parametrize("path", ["exact", "sketch"])
def test_odd_windows_get_a_clear_status_never_an_exception_or_nan(path: str) -> None:
    reference = pd.DataFrame({
        "x": np.random.default_rng(0).normal(size=500), "nulls": np.full(500, np.nan), "const": np.full(500, 3.0),
        "moved": np.full(500, 3.0), "gone": np.arange(500.0), "cat": ["a", "b"] * 250, "kind": np.arange(500.0),
    })
    current = pd.DataFrame({
        "x": reference["x"].to_numpy()[100:], "nulls": np.full(400, np.nan), "const": np.full(400, 3.0),
        "moved": np.full(400, 4.0), "new": np.arange(400.0), "cat": [None] * 400, "kind": ["u", "v"] * 200,
    })
    ref = WindowProfile.of(reference) if path == "sketch" else reference
    report = detect_drift(ref, current)
    status = {name: c.status for name, c in report.columns.items()}
    assert status == {"x": "ok", "nulls": "all_null", "const": "constant", "moved": "ok", "gone": "missing_in_current",
                      "cat": "all_null", "kind": "kind_changed", "new": "missing_in_reference"}
    assert report.columns["const"].statistic == 0.0 and not report.columns["const"].drifted
    moved = report.columns["moved"]  # a constant reference that changed value has drifted
    assert moved.drifted and math.isfinite(moved.statistic)
    assert report.columns["nulls"].statistic is None and not report.columns["nulls"].drifted
    assert (report.columns["cat"].current_count, report.columns["cat"].current_missing) == (0, 400)
    assert report.drift_share == pytest.approx(1 / 3)  # moved, out of x, const, moved
    _no_nan(report)


@pytest.mark.parametrize("rows", [0, 1])
@pytest.mark.parametrize("path", ["exact", "sketch"])
def test_empty_and_one_row_windows(rows: int, path: str) -> None:
    reference = make(2_000, 13, shifted=False)
    ref = WindowProfile.of(reference) if path == "sketch" else reference
    report = detect_drift(ref, make(2_000, 14, shifted=True).iloc[:rows])
    expected = "empty" if rows == 0 else "too_few_rows"
    assert {c.status for c in report.columns.values()} == {expected}
    assert report.drift_share == 0.0 and not report.drifted and report.drifted_columns == []
    _no_nan(report)


def test_tests_thresholds_and_share_are_overridable_per_column() -> None:
    reference, current = make(5_000, 15, shifted=False), make(5_000, 16, shifted=True)
    report = detect_drift(reference, current, tests={"mean_shift": "psi", "control_num": "ks"},
                          thresholds={"variance": 5.0}, share_threshold=0.9)
    assert report.columns["mean_shift"].test == "psi" and report.columns["mean_shift"].threshold == 0.1
    assert report.columns["mean_shift"].drifted and report.columns["mean_shift"].p_value is None
    assert report.columns["control_num"].test == "ks" and report.columns["control_num"].p_value is not None
    assert report.columns["variance"].threshold == 5.0 and not report.columns["variance"].drifted
    assert report.drift_share == pytest.approx(2 / 5) and not report.drifted


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"tests": {"category_mix": "ks"}}, "tests.category_mix"),
    ({"tests": {"mean_shift": "chi2"}}, "tests.mean_shift"),
    ({"tests": {"nope": "psi"}}, "tests.nope"),
    ({"thresholds": {"mean_shift": -1}}, "thresholds.mean_shift"),
    ({"thresholds": {"mean_shift": float("nan")}}, "thresholds.mean_shift"),
    ({"columns": ["nope"]}, "columns"),
    ({"columns": "mean_shift"}, "columns"),
    ({"share_threshold": 0}, "share_threshold"),
    ({"min_count": 0}, "min_count"),
])
def test_bad_options_raise_invalid_input_naming_the_field(kwargs: dict, field: str) -> None:
    frame = make(100, 17, shifted=False)
    with pytest.raises(InvalidInput) as caught:
        detect_drift(frame, frame, **kwargs)
    assert caught.value.field == field


def test_unsupported_inputs_raise_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        detect_drift(42, make(10, 0, shifted=False))


def test_prediction_drift_is_reported_apart_from_the_features() -> None:
    reference, current = make(3_000, 18, shifted=False), make(3_000, 19, shifted=False)
    reference["prediction"] = np.random.default_rng(0).random(3_000)
    current["prediction"] = np.random.default_rng(1).random(3_000) ** 3  # the model's outputs moved
    report = detect_drift(reference, current, prediction_column="prediction")
    assert "prediction" not in report.columns and report.drift_share == 0.0
    assert report.prediction is not None and report.prediction.drifted and report.prediction.column == "prediction"
    only = detect_drift(reference, current, columns=["control_num"], prediction_column="prediction")
    assert list(only.columns) == ["control_num"] and only.prediction.drifted


def test_columns_limits_the_comparison() -> None:
    report = detect_drift(make(500, 20, shifted=False), make(500, 21, shifted=True), columns=["variance"])
    assert list(report.columns) == ["variance"] and report.drifted


def test_arrow_polars_and_stored_profiles_are_accepted() -> None:
    polars = pytest.importorskip("polars")
    reference, current = make(4_000, 22, shifted=False), make(4_000, 23, shifted=True)
    table = pa.Table.from_pandas(reference)
    assert sorted(detect_drift(table, polars.from_pandas(current)).drifted_columns) == sorted(SHIFTED)
    stored = profile_table(table)
    by_profile = detect_drift(stored, current)
    assert by_profile.method == "sketch" and sorted(by_profile.drifted_columns) == sorted(SHIFTED)
    version = DatasetVersion("churn", 3, "0" * 64, "parquet", 1, 1, 4_000, None, stored)
    assert detect_drift(version, current).drifted_columns == by_profile.drifted_columns
    with pytest.raises(InvalidInput):
        detect_drift(DatasetVersion("blobs", 1, "0" * 64, "files", 1, 1), current)


def test_report_round_trips_through_json() -> None:
    reference = make(800, 24, shifted=False)
    current = make(800, 25, shifted=True).drop(columns=["control_cat"])
    reference["prediction"], current["prediction"] = 0.5, 0.5
    report = detect_drift(reference, current, prediction_column="prediction")
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert DriftReport.from_dict(data) == report
    assert data["drifted_columns"] == report.drifted_columns
    with pytest.raises(InvalidInput):
        DriftReport.from_dict({"columns": "nope"})


def test_reachable_from_the_top_level_namespace() -> None:
    frame = make(200, 26, shifted=False)
    assert shipyard.monitoring.detect_drift(frame, frame).drift_share == 0.0
