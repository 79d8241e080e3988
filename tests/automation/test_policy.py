"""Automation policies: read from YAML, JSON or Python by one strict set of rules, errors by dotted field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipyard.automation import (
    AlertTrigger,
    AutomationPolicy,
    Canary,
    Evaluation,
    Guards,
    ManualTrigger,
    MonitorTrigger,
    Retrain,
    Rollout,
    ScheduleTrigger,
)
from shipyard.errors import InvalidInput
from tests.automation.conftest import POLICY, policy


def refused(data: Any) -> str:
    """The field the policy ``data`` is refused for."""
    with pytest.raises(InvalidInput) as info:
        AutomationPolicy.from_json(data)
    return str(info.value.field)  # type: ignore[attr-defined]


def test_a_full_policy_reads_from_yaml_with_every_part() -> None:
    read = AutomationPolicy.from_yaml(yaml.safe_dump(POLICY))
    assert (read.name, read.model) == ("churn-retrain", "churn")
    assert read.triggers[0] == AlertTrigger("churn-drift")
    assert read.triggers[1] == MonitorTrigger("churn-monitor", "accuracy", below=0.85, for_windows=3)
    assert read.triggers[2] == ScheduleTrigger("0 3 * * 1") and read.triggers[4] == ManualTrigger()
    assert read.retrain.params == {"n": 5, "grid": [0.1, 0.2]} and read.retrain.training_window_s == 30 * 86400
    assert read.retrain.labelled_data is not None and read.retrain.labelled_data.since_s == 7 * 86400
    assert read.evaluation.data == "churn-holdout@latest" and read.evaluation.test == "mcnemar"
    assert read.rollout.canary == Canary(10.0, 1800, 500) and read.rollout.shadow.requests == 1000
    assert read.guards == Guards(6 * 3600, 2, 2 * 3600, True)
    assert read.gates.max_latency_p99_ms == 50.0


def test_the_json_form_reads_back_as_an_equal_policy() -> None:
    read = AutomationPolicy.from_json(POLICY)
    again = AutomationPolicy.from_json(read.to_json())
    assert again == read and again.to_json() == read.to_json()
    assert read.to_json()["guards"]["cooldown"] == "6h"  # durations as written, not seconds


def test_a_minimal_policy_takes_the_documented_defaults(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nmodel: churn\ntriggers: [{type: manual}]\nretrain: {pipeline: train}\n"
                    "evaluation: {metrics: [auc], data: holdout}\n")
    read = AutomationPolicy.load(path)
    assert read.enabled and read.rollout.canary == Canary(10.0, 3600, None) and read.guards == Guards()
    assert read.evaluation.test == "paired_bootstrap" and read.evaluation.alpha == 0.05


def test_a_policy_built_in_python_is_checked_by_the_same_rules() -> None:
    built = AutomationPolicy("p", "churn", (AlertTrigger("drift"),), Retrain("train"),
                             Evaluation(("auc",), data="ds:holdout"))
    assert built.evaluation.data == "holdout" and built == AutomationPolicy.from_json(built.to_json())
    with pytest.raises(InvalidInput) as info:
        AutomationPolicy("p", "churn", (AlertTrigger("drift"),), Retrain("train"), Evaluation(("auc",), data="h"),
                         rollout=Rollout(canary=Canary(percent=150)))
    assert info.value.field == "rollout.canary.percent"  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput) as info:
        AutomationPolicy("p", "churn", (MonitorTrigger("m", "accuracy"),), Retrain("train"),
                         Evaluation(("auc",), data="h"))
    assert info.value.field == "triggers[0].above"  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput) as info:
        AutomationPolicy("p", "churn", ("manual",), Retrain("train"), Evaluation(("auc",), data="h"))  # type: ignore[arg-type]
    assert info.value.field == "triggers[0]"  # type: ignore[attr-defined]


@pytest.mark.parametrize(("change", "field"), [
    ({"colour": "blue"}, "colour"),
    ({"rollout": {"canary": {"percnt": 10}}}, "rollout.canary.percnt"),
    ({"guards": {"cooldown": "6h", "max_retrains": 2}}, "guards.max_retrains"),
    ({"triggers": [{"type": "alert", "rule": "x", "severity": "high"}]}, "triggers[0].severity"),
    ({"retrain": {"pipeline": "p", "labelled_data": {"dataset": "d", "days": 7}}}, "retrain.labelled_data.days"),
])
def test_an_unknown_key_is_refused_naming_its_dotted_path(change: dict[str, Any], field: str) -> None:
    assert refused(policy(**change)) == field


@pytest.mark.parametrize(("change", "field"), [
    ({"name": 7}, "name"),
    ({"enabled": "yes"}, "enabled"),
    ({"triggers": {"type": "manual"}}, "triggers"),
    ({"rollout": {"canary": {"percent": "ten"}}}, "rollout.canary.percent"),
    ({"rollout": {"canary": {"percent": True}}}, "rollout.canary.percent"),
    ({"rollout": {"shadow": {"requests": 1.5}}}, "rollout.shadow.requests"),
    ({"rollout": {"shadow": []}}, "rollout.shadow"),
    ({"guards": {"cooldown": "soon"}}, "guards.cooldown"),
    ({"guards": {"require_approval": 1}}, "guards.require_approval"),
    ({"evaluation": {"metrics": "auc", "data": "h"}}, "evaluation.metrics"),
    ({"evaluation": {"metrics": ["auc", 3], "data": "h"}}, "evaluation.metrics[1]"),
    ({"retrain": {"pipeline": "p", "params": {"when": {1, 2}}}}, "retrain.params.when"),
    ({"triggers": [{"type": "manual"}, {"type": "alert", "rule": 5}]}, "triggers[1].rule"),
    ({"triggers": [{"type": "monitor", "monitor": "m", "series": "s", "above": 1, "labels": {"f": 2}}]},
     "triggers[0].labels.f"),
])
def test_a_value_of_the_wrong_type_is_refused_naming_its_dotted_path(change: dict[str, Any], field: str) -> None:
    assert refused(policy(**change)) == field


@pytest.mark.parametrize("percent", [150, 100.5, -5, 0])
def test_a_canary_percent_outside_0_to_100_is_refused(percent: float) -> None:
    data = policy(rollout={"canary": {"percent": percent, "duration": "1h"}})
    with pytest.raises(InvalidInput, match="rollout.canary.percent") as info:
        AutomationPolicy.from_json(data)
    assert info.value.field == "rollout.canary.percent"  # type: ignore[attr-defined]


@pytest.mark.parametrize("percent", [0.5, 10, 100])
def test_a_canary_percent_within_0_to_100_is_kept(percent: float) -> None:
    read = AutomationPolicy.from_json(policy(rollout={"canary": {"percent": percent}}))
    assert read.rollout.canary is not None and read.rollout.canary.percent == percent


@pytest.mark.parametrize(("change", "field"), [
    ({"triggers": []}, "triggers"),
    ({"triggers": [{"type": "webhook"}]}, "triggers[0].type"),
    ({"triggers": [{"type": "monitor", "monitor": "m", "series": "s", "above": 1, "below": 0}]}, "triggers[0].above"),
    ({"triggers": [{"type": "schedule", "cron": "every monday"}]}, "triggers[0].cron"),
    ({"triggers": [{"type": "schedule", "cron": "0 3 * * *", "timezone": "Mars/Olympus"}]}, "triggers[0].timezone"),
    ({"triggers": [{"type": "dataset", "dataset": "churn@3"}]}, "triggers[0].dataset"),
    ({"name": "churn retrain"}, "name"),
    ({"model": ""}, "model"),
    ({"evaluation": {"metrics": [], "data": "h"}}, "evaluation.metrics"),
    ({"evaluation": {"metrics": ["auc"], "data": "h", "test": "t-test"}}, "evaluation.test"),
    ({"evaluation": {"metrics": ["auc"], "data": "h", "alpha": 0}}, "evaluation.alpha"),
    ({"evaluation": {"metrics": ["auc"]}, "retrain": {"pipeline": "p"}}, "evaluation.data"),
    ({"guards": {"max_retrains_per_day": 0}}, "guards.max_retrains_per_day"),
    ({"rollout": {"shadow": {"requests": -1}}}, "rollout.shadow.requests"),
    ({"retrain": {"pipeline": "p", "labelled_data": {"dataset": "d", "model": "a b"}}}, "retrain.labelled_data.model"),
    ({"retrain": {"pipeline": "p", "params": {"lr": float("nan")}}}, "retrain.params.lr"),
    ({"triggers": [{"type": []}]}, "triggers[0].type"),
    ({"gates": {"max_latency_p99_ms": 0}}, "gates.max_latency_p99_ms"),
])
def test_contradictions_and_values_out_of_range_are_refused_naming_the_field(change: dict[str, Any],
                                                                              field: str) -> None:
    assert refused(policy(**change)) == field


def test_a_missing_required_part_is_refused_naming_it() -> None:
    data = policy()
    del data["retrain"]
    assert refused(data) == "retrain"
    data = policy()
    del data["evaluation"]["metrics"]
    assert refused(data) == "evaluation.metrics"
    assert refused(["not", "a", "mapping"]) == "policy"


def test_yaml_that_does_not_parse_is_invalid_input() -> None:
    with pytest.raises(InvalidInput) as info:
        AutomationPolicy.from_yaml("name: [unclosed")
    assert info.value.field == "policy"  # type: ignore[attr-defined]


def test_a_canary_can_be_turned_off_and_the_rollout_goes_straight_on() -> None:
    read = AutomationPolicy.from_json(policy(rollout={"shadow": {"requests": 100}, "canary": None}))
    assert read.rollout.canary is None and read.to_json()["rollout"]["canary"] is None
    assert AutomationPolicy.from_json(read.to_json()) == read


def test_references_list_every_name_with_its_field() -> None:
    refs = AutomationPolicy.from_json(POLICY).references
    assert ("model", "churn", "model") in refs
    assert ("alert_rule", "churn-drift", "triggers[0].rule") in refs
    assert ("monitor", "churn-monitor", "triggers[1].monitor") in refs
    assert ("dataset", "churn-holdout", "triggers[3].dataset") in refs
    assert ("pipeline", "train_churn", "retrain.pipeline") in refs
    assert ("monitor", "churn-monitor", "retrain.labelled_data.monitor") in refs
    assert ("dataset", "churn-holdout@latest", "evaluation.data") in refs


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                 max_size=3), max_leaves=8)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found += [(*path, key), *_paths(item, (*path, key))]
    return found


@settings(max_examples=400, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(st.sampled_from(_paths(POLICY)), _JSON)
def test_any_json_value_anywhere_is_read_back_equal_or_refused_as_invalid_input(path: tuple[Any, ...],
                                                                               value: Any) -> None:
    data = policy()
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    try:
        read = AutomationPolicy.from_json(data)
    except InvalidInput:
        return
    assert AutomationPolicy.from_json(read.to_json()) == read
