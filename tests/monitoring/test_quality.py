"""check_quality: missing rates, type errors, out-of-range values, unseen categories and
schema changes, from a contract, a signature and a reference profile."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from shipyard.datasets import Column, Contract
from shipyard.errors import InvalidInput
from shipyard.models import ColumnSpec, Signature
from shipyard.monitoring import QualityReport, WindowProfile, check_quality


def reference() -> WindowProfile:
    rng = np.random.default_rng(0)
    return WindowProfile.of(pd.DataFrame({"age": rng.uniform(18, 90, 1000), "plan": rng.choice(["basic", "pro"], 1000),
                                          "spend": rng.gamma(2, 10, 1000)}))


def kinds(report: QualityReport) -> dict[tuple[str | None, str], int]:
    return {(i.column, i.kind): i.count for i in report.issues}


def test_clean_data_passes_with_its_missing_rates() -> None:
    data = pd.DataFrame({"age": [30.0, np.nan, 40.0, 50.0], "plan": ["basic", None, "pro", "pro"],
                         "spend": [1.0, 2.0, 3.0, 4.0]})
    report = check_quality(data, reference=reference())
    assert report.passed and report.violations == 0
    assert report.missing_rates == {"age": 0.25, "plan": 0.25, "spend": 0.0}


def test_reference_flags_out_of_range_values_unseen_categories_and_schema_changes() -> None:
    data = pd.DataFrame({"age": [30.0, 150.0, -3.0], "plan": ["basic", "team", "gold"], "coupon": ["x", "y", "z"]})
    report = check_quality(data, reference=reference())
    assert kinds(report) == {("age", "out_of_range"): 2, ("plan", "unseen_category"): 2,
                             ("spend", "missing_column"): 3, ("coupon", "new_column"): 3}
    unseen = next(i for i in report.issues if i.kind == "unseen_category")
    assert sorted(unseen.examples) == ["gold", "team"] and unseen.source == "reference"
    assert report.missing_columns == ("spend",) and report.new_columns == ("coupon",)
    assert report.violations == 2 + 2 + 1 + 1


def test_contract_rules_become_issues() -> None:
    contract = Contract([Column("age", "float", nullable=False, min=0, max=120),
                         Column("plan", "string", allowed=("basic", "pro")), Column("spend", "float")])
    data = pd.DataFrame({"age": [30.0, None, 130.0], "plan": ["basic", "team", "pro"], "spend": ["1", "2", "x"]})
    report = check_quality(data, contract=contract)
    assert kinds(report) == {("age", "null_values"): 1, ("age", "out_of_range"): 1, ("plan", "unseen_category"): 1,
                             ("spend", "type_error"): 3}
    assert all(i.source == "contract" for i in report.issues)


def test_signature_type_errors_count_only_the_offending_values() -> None:
    signature = Signature([ColumnSpec("age", "float64"), ColumnSpec("n", "int64"), ColumnSpec("plan", "string"),
                           ColumnSpec("flag", "bool"), ColumnSpec("extra", "float64", optional=True),
                           ColumnSpec("spend", "float64")])
    data = pd.DataFrame({"age": ["31", " 4.5e1", "old", None], "n": [1.0, 2.5, 3.0, np.nan],
                         "plan": ["a", "b", "c", "d"], "flag": ["yes", "no", "yes", "no"]})
    report = check_quality(data, signature=signature)
    assert kinds(report) == {("age", "type_error"): 1, ("n", "type_error"): 1, ("flag", "type_error"): 4,
                             ("spend", "missing_column"): 4}
    assert next(i for i in report.issues if i.column == "age").examples == ("old",)
    assert report.missing_columns == ("spend",)  # "extra" is optional


def test_mixed_python_types_in_a_column_are_type_errors_not_a_crash() -> None:
    data = pd.DataFrame({"age": [30, 41, "unknown", 25.5, None]})
    report = check_quality(data)
    issue = report.issues[0]
    assert (issue.column, issue.kind, issue.count, issue.source) == ("age", "type_error", 2, "data")
    assert report.missing_rates["age"] == pytest.approx(0.2)


def test_an_empty_window_has_no_missing_rate_and_no_nan() -> None:
    report = check_quality(pd.DataFrame({"age": pd.Series([], dtype=float)}), reference=reference())
    assert report.rows == 0 and report.missing_rates == {"age": None}
    json.dumps(report.to_dict(), allow_nan=False)


def test_report_round_trips_through_json() -> None:
    data = pd.DataFrame({"age": [30.0, 150.0], "plan": ["basic", "team"]})
    report = check_quality(data, reference=reference())
    assert QualityReport.from_dict(json.loads(json.dumps(report.to_dict()))) == report
    with pytest.raises(InvalidInput):
        QualityReport.from_dict({"rows": 1})


def test_a_tensor_signature_is_refused() -> None:
    signature = Signature([ColumnSpec("input", "float32", shape=(-1, 3))], kind="tensor")
    with pytest.raises(InvalidInput) as caught:
        check_quality(pd.DataFrame({"a": [1]}), signature=signature)
    assert caught.value.field == "signature"
