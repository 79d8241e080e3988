"""Contracts in Python and YAML, inference, and validation reports listing every violation."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from shipyard.datasets import Check, Column, Contract, infer_contract, validate
from shipyard.errors import InvalidInput


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame({
        "id": [1, 2, 3, 3, 5],
        "age": [30, -4, 45, 130, None],
        "plan": ["basic", "pro", "gold", "pro", None],
        "email": ["a@x.io", "b@x.io", "nope", "c@x.io", "d@x.io"],
        "when": pd.to_datetime(["2026-01-01", "2026-02-01", "2025-12-01", "2026-03-01", "2026-04-01"]),
        "spend": [1.0, 0.0, 5.0, 2.0, 3.0],
    })


def test_every_rule_reports_column_rule_count_and_samples(frame: pd.DataFrame) -> None:
    contract = Contract(
        [Column("id", "int", unique=True), Column("age", "number", nullable=False, min=0, max=120),
         Column("plan", "string", allowed=["basic", "pro"]), Column("email", pattern=r"[^@]+@[^@]+\.io"),
         Column("when", "timestamp", min="2026-01-01"), Column("spend", "string"), Column("missing")],
        min_rows=10, checks=[Check("paid_spend", expr="plan <> 'pro' OR spend > 0"),
                             Check("python", fn=lambda t: np.asarray(t.column("id")) < 5)])
    report = validate(frame, contract)
    found = {(v.column, v.rule): (v.count, v.samples) for v in report.violations}
    assert found[("id", "unique")] == (1, [3])
    assert found[("age", "nullable")] == (1, [None])
    assert found[("age", "min")] == (1, [-4.0]) and found[("age", "max")] == (1, [130.0])
    assert found[("plan", "allowed")] == (1, ["gold"])
    assert found[("email", "pattern")] == (1, ["nope"])
    assert found[("when", "min")][0] == 1
    assert found[("spend", "type")] == (5, ["double"])
    assert found[("missing", "present")][0] == 5
    assert found[(None, "min_rows")][0] == 5
    assert found[(None, "paid_spend")][0] == 1 and found[(None, "paid_spend")][1][0]["id"] == 2
    assert found[(None, "python")][0] == 1
    assert not report.passed and "paid_spend" in str(report)
    assert report.to_json()["violations"][0].keys() == {"column", "rule", "count", "samples", "message"}
    with pytest.raises(InvalidInput):
        report.raise_if_failed()


def test_contracts_round_trip_through_yaml_and_count_rules() -> None:
    contract = Contract([Column("age", "integer", nullable=False, min=0, max=120),
                         Column("plan", allowed=["a", "b"]), Column("id", unique=True)],
                        min_rows=1, max_rows=10, checks=[Check("c", expr="age > 1")], allow_extra_columns=False)
    assert contract["age"].type == "int"
    assert Contract.from_yaml(contract.to_yaml()) == contract
    assert contract.rule_count == 4 + 1 + 1 + 2 + 1 + 1
    with pytest.raises(InvalidInput):
        Contract([Column("a"), Column("a")])
    with pytest.raises(InvalidInput):
        Contract.from_yaml("columns: {a: {typo: 1}}")
    with pytest.raises(InvalidInput):
        Contract([], checks=[Check("py", fn=lambda t: True)]).to_yaml()
    with pytest.raises(InvalidInput):
        Column("a", min=5, max=1)


def test_an_inferred_contract_passes_its_data_and_catches_drifted_data(frame: pd.DataFrame) -> None:
    contract = infer_contract(frame)
    assert validate(frame, contract).passed
    assert contract["plan"].allowed == ("basic", "gold", "pro") and contract["age"].nullable
    drifted = frame.assign(spend=frame.spend * 10, plan="platinum")
    rules = {(v.column, v.rule) for v in validate(drifted, contract).violations}
    assert rules == {("spend", "max"), ("plan", "allowed")}


def test_validate_accepts_pandas_polars_and_arrow(frame: pd.DataFrame) -> None:
    contract = Contract([Column("age", min=0)])
    for data in (frame, pl.from_pandas(frame), pa.Table.from_pandas(frame)):
        assert [v.rule for v in validate(data, contract).violations] == ["min"]
    with pytest.raises(InvalidInput):
        validate([1, 2, 3], contract)


def test_broken_rules_are_invalid_input_not_crashes(frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput):
        validate(frame, Contract([Column("age", min="old")]))
    with pytest.raises(InvalidInput):
        validate(frame, Contract(checks=[Check("bad", expr="no_such_column > 1")]))
    with pytest.raises(InvalidInput):
        validate(frame, Contract(checks=[Check("io", expr="(SELECT count(*) FROM read_csv('/etc/passwd')) > 0")]))
    assert validate(frame.assign(d=dt.date(2026, 1, 1)), Contract([Column("d", "date", min="2025-01-01")])).passed


@pytest.mark.parametrize("wrong", ["intt", "strng", "timestamp[", "5"])
def test_an_unknown_column_type_is_refused_naming_the_column_the_value_and_the_known_types(wrong: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Contract.from_yaml(f"columns:\n  id: {{type: int}}\n  age: {{type: {wrong!r}}}\n")
    message = str(caught.value)
    assert f"column 'age': unknown type {wrong!r}" in message
    assert "known types: int, float, number, string, bool, timestamp, date" in message
    assert caught.value.context["field"] == "age"
    with pytest.raises(InvalidInput, match="unknown type 5"):
        Contract.from_dict({"columns": {"age": {"type": 5}}})
    with pytest.raises(InvalidInput, match="did you mean 'int'"):
        Column("age", "intt")


def test_known_types_families_aliases_and_exact_arrow_types_are_accepted(frame: pd.DataFrame) -> None:
    exact = ["int32", "float64", "large_string", "timestamp[us]", "timestamp[us, tz=UTC]", "date32[day]",
             "decimal128(10, 2)", "list<item: int64>", "halffloat"]
    for type_ in [*("int", "float", "number", "string", "bool", "timestamp", "date"), *exact]:
        assert Contract.from_dict({"columns": {"x": {"type": type_}}})["x"].type == type_
    assert Column("x", "integer").type == "int"
    for field in pa.Table.from_pandas(frame, preserve_index=False).schema:  # every type Arrow writes for the data
        assert validate(frame, Contract((Column(field.name, str(field.type)),))).passed


def test_a_report_with_one_violation_says_violation_not_violations(frame: pd.DataFrame) -> None:
    report = validate(frame, Contract((Column("age", max=200),), min_rows=6))
    assert str(report).splitlines()[0] == "1 violation of 2 rules on 5 rows:"
    assert "5 rows, at least 6 required" in str(report)
    assert str(validate(frame.head(1), Contract((Column("id"),)))) == "passed: 1 rule on 1 row"
