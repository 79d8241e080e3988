"""The alert rule language: what parses, what it means, and how bad rules are refused."""

from __future__ import annotations

import math

import pytest

from shipyard.alerting import AlertRule, parse_rule
from shipyard.errors import InvalidInput


@pytest.mark.parametrize(("text", "series", "op", "threshold", "windows", "labels"), [
    ("drift_share > 0.3 for 2 windows", "drift_share", ">", 0.3, 2, {}),
    ("accuracy < 0.85", "accuracy", "<", 0.85, 1, {}),
    ("p99_latency_ms > 200", "p99_latency_ms", ">", 200.0, 1, {}),
    ("error_rate > 0.01", "error_rate", ">", 0.01, 1, {}),
    ('feature_drift_score{feature="age"} > 0.2', "feature_drift_score", ">", 0.2, 1, {"feature": "age"}),
    ("f1>=0.7 for 1 window", "f1", ">=", 0.7, 1, {}),
    ("  rmse   <=   -1.5e-3   for   10   windows  ", "rmse", "<=", -0.0015, 10, {}),
    ('x{ a = "1" , b="q\\"uote\\\\" } == 1', "x", "==", 1.0, 1, {"a": "1", "b": 'q"uote\\'}),
    ("dataset_drift != 0", "dataset_drift", "!=", 0.0, 1, {}),
    ("y{} < .5", "y", "<", 0.5, 1, {}),
])
def test_conditions_parse(text: str, series: str, op: str, threshold: float, windows: int,
                          labels: dict[str, str]) -> None:
    rule = parse_rule(text)
    assert (rule.series, rule.op, rule.threshold, rule.for_windows, dict(rule.labels)) == (
        series, op, threshold, windows, labels)
    assert rule.name == series and rule.monitor == "*" and rule.severity == "warning"
    assert parse_rule(rule.condition) == rule  # the canonical text reads back to the same rule


@pytest.mark.parametrize(("text", "expected"), [
    ("", "needs a condition"),
    ("   ", "needs a condition"),
    ("> 0.3", "starts with a series name"),
    ("9lives > 1", "starts with a series name"),
    ("drift_share 0.3", "expected a comparator"),
    ("drift_share => 0.3", "expected a comparator"),
    ("drift_share >> 0.3", "expected a number"),
    ("drift_share = 0.3", "expected a comparator"),
    ("drift_share > high", "expected a number"),
    ("drift_share > 0.3x", "expected a number"),
    ("drift_share > nan", "expected a number"),
    ("drift_share > inf", "expected a number"),
    ("drift_share > 1e999", "finite"),
    ("drift_share > 0.3 for two windows", "for N windows"),
    ("drift_share > 0.3 for 2", "for N windows"),
    ("drift_share > 0.3 for 2 hours", "for N windows"),
    ("drift_share > 0.3 for 0 windows", "1 to 1000"),
    ("drift_share > 0.3 for 1001 windows", "1 to 1000"),
    ("drift_share > 0.3 and more", "may end with 'for N windows'"),
    ("score{feature=age} > 1", "double-quoted value"),
    ('score{feature="age" > 1', "expected ',' or '}'"),
    ('score{feature=="age"} > 1', "expected '='"),
    ('score{="age"} > 1', "expected a label name"),
    ('score{a="1",a="2"} > 1', "given twice"),
])
def test_bad_conditions_say_what_was_expected(text: str, expected: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_rule(text)
    assert caught.value.context["field"] == "rule"
    assert expected in caught.value.message


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"severity": "urgent"}, "severity"),
    ({"name": "has space"}, "name"),
    ({"name": ""}, "name"),
    ({"monitor": "bad monitor"}, "monitor"),
    ({"notify": ["ok", "not ok"]}, "notify"),
    ({"repeat_interval": "soon"}, "repeat_interval"),
    ({"repeat_interval": 0}, "repeat_interval"),
])
def test_bad_options_name_their_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_rule("accuracy < 0.8", **kwargs)  # type: ignore[arg-type]
    assert caught.value.context["field"] == field


def test_options_are_kept() -> None:
    rule = parse_rule("accuracy < 0.8", name="acc.low", monitor="churn@production", severity="critical",
                      notify="slack, oncall", repeat_interval="4h", description="Accuracy fell")
    assert rule.notify == ("slack", "oncall") and rule.repeat_interval_ms == 4 * 3_600_000
    assert (rule.name, rule.monitor, rule.severity, rule.description) == (
        "acc.low", "churn@production", "critical", "Accuracy fell")
    assert AlertRule.from_json(rule.to_json()) == rule


@pytest.mark.parametrize(("op", "value", "holds"), [
    (">", 0.31, True), (">", 0.3, False), (">=", 0.3, True), ("<", 0.29, True), ("<", 0.3, False),
    ("<=", 0.3, True), ("==", 0.3, True), ("==", 0.31, False), ("!=", 0.31, True), ("!=", 0.3, False),
])
def test_comparators(op: str, value: float, holds: bool) -> None:
    assert parse_rule(f"s {op} 0.3").holds(value) is holds


def test_no_value_never_holds() -> None:
    rule = parse_rule("s != 0")
    assert not rule.holds(None) and not rule.holds(math.nan)


def test_a_rule_from_json_checks_its_fields() -> None:
    with pytest.raises(InvalidInput) as caught:
        AlertRule.from_json({"name": "r", "condition": "accuracy < 0.8", "severity": "loud"})
    assert caught.value.context["field"] == "severity"
    with pytest.raises(InvalidInput) as caught:
        AlertRule.from_json({"name": "r", "series": "accuracy", "op": "~", "threshold": 1})
    assert caught.value.context["field"] == "rule"
    with pytest.raises(InvalidInput):
        AlertRule.from_json({"name": "r", "series": "accuracy", "op": "<", "threshold": "high"})
    with pytest.raises(InvalidInput):
        AlertRule.from_json(["not", "an", "object"])  # type: ignore[arg-type]
