"""Exported Prometheus rules: the expressions, the ``for`` durations, and the real promtool's verdict."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from shipyard.alerting import parse_rule
from shipyard.alerting._prometheus import prometheus_expr, prometheus_rules, render_prometheus_rules

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not found: install the Debian package 'prometheus' (scripts/services.sh does)")


@pytest.mark.parametrize(("text", "monitor", "expr"), [
    ("drift_share > 0.3 for 2 windows", "churn", 'shipyard_drift_share{monitor="churn"} > 0.3'),
    ("accuracy < 0.85", "churn", 'shipyard_model_metric{metric="accuracy",monitor="churn"} < 0.85'),
    ("p99_latency_ms > 200", "*", "shipyard_p99_latency_ms > 200"),
    ("error_rate >= 1e-05", "*", "shipyard_error_rate >= 1e-05"),
    ('feature_drift_score{feature="a\\"b"} != 0', "fraud",
     'shipyard_feature_drift_score{monitor="fraud",feature="a\\"b"} != 0'),
    ("rows == 0", "churn", 'shipyard_window_rows{monitor="churn"} == 0'),
])
def test_expressions_read_the_exported_gauges(text: str, monitor: str, expr: str) -> None:
    assert prometheus_expr(parse_rule(text, monitor=monitor)) == expr


def test_for_waits_until_the_nth_window_is_in() -> None:
    rules = [parse_rule("drift_share > 0.3", name="one", monitor="churn"),
             parse_rule("drift_share > 0.3 for 2 windows", name="two", monitor="churn"),
             parse_rule("drift_share > 0.3 for 3 windows", name="fast", monitor="quarter"),
             parse_rule("drift_share > 0.3 for 2 windows", name="unknown", monitor="new"),
             parse_rule("drift_share > 0.3 for 2 windows", name="every", monitor="*"),
             parse_rule("drift_share > 0.3 for 2 windows", name="off", monitor="churn", enabled=False)]
    data = prometheus_rules(rules, {"churn": 3600, "quarter": 900, "daily": 86400}, default_window_s=7200)
    got = {r["alert"]: r.get("for") for r in data["groups"][0]["rules"]}
    assert got == {"one": None, "two": "1h30m", "fast": "37m30s", "unknown": "3h", "every": "1d12h"}


def test_names_labels_and_annotations() -> None:
    rule = parse_rule("accuracy < 0.85", name="acc.low-1", monitor="churn", severity="critical",
                      description="Accuracy fell below the contract")
    [entry] = prometheus_rules([rule])["groups"][0]["rules"]
    assert entry["alert"] == "acc_low_1"
    assert entry["labels"] == {"severity": "critical", "shipyard_rule": "acc.low-1"}
    assert entry["annotations"]["description"] == "Accuracy fell below the contract"
    assert "{{ $value }}" in entry["annotations"]["summary"]
    assert prometheus_rules([parse_rule("x > 1", name="9th")])["groups"][0]["rules"][0]["alert"] == "_9th"


@needs_promtool
def test_promtool_accepts_the_exported_rules(tmp_path: Path) -> None:
    rules = [parse_rule("drift_share > 0.3 for 2 windows", name="drift", monitor="churn"),
             parse_rule("accuracy < 0.85", name="acc.low", monitor="churn@production", severity="critical"),
             parse_rule("p99_latency_ms > 200 for 5 windows", name="latency"),
             parse_rule("error_rate > 0.01", name="errors", severity="info", description='Say "why"'),
             parse_rule('feature_drift_score{feature="age\\\\x\\"y"} >= 0.2', name="age", monitor="m:1"),
             parse_rule("estimated_accuracy <= 0.7 for 1000 windows", name="9-estimate", monitor="*")]
    path = tmp_path / "rules.yml"
    path.write_text(render_prometheus_rules(rules, {"churn": 3600, "m:1": 60}))
    done = subprocess.run([str(PROMTOOL), "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 6 rules found" in done.stdout


@needs_promtool
def test_prometheus_fires_on_the_same_windows_as_the_engine(tmp_path: Path) -> None:
    """promtool's rule unit tests: hourly windows scraped every minute; the rule needs two windows over 0.3."""
    rule = parse_rule("drift_share > 0.3 for 2 windows", name="drift", monitor="churn")
    (tmp_path / "rules.yml").write_text(render_prometheus_rules([rule], {"churn": 3600}))
    labels = {"severity": "warning", "shipyard_rule": "drift", "monitor": "churn"}
    annotations = {"summary": "drift: drift_share is 0.6 (rule: drift_share > 0.3 for 2 windows)",
                   "description": "Shipyard alert rule 'drift': drift_share > 0.3 for 2 windows"}

    def case(values: str, checks: list[tuple[str, bool]]) -> dict[str, object]:
        return {"interval": "1m",
                "input_series": [{"series": 'shipyard_drift_share{monitor="churn"}', "values": values}],
                "alert_rule_test": [{"eval_time": at, "alertname": "drift",
                                     "exp_alerts": [{"exp_labels": labels, "exp_annotations": annotations}]
                                     if firing else []} for at, firing in checks]}

    tests = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": [
        # windows 0.1, 0.5, 0.6: the second window over the threshold is published at 2h
        case("0.1x59 0.5x59 0.6x59 0.6x59", [("1h30m", False), ("2h29m", False), ("2h31m", True)]),
        # 0.5 then 0.2: only one window over, never fires
        case("0.1x59 0.5x59 0.2x59 0.2x59", [("2h31m", False), ("3h30m", False)]),
    ]}
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests))
    done = subprocess.run([str(PROMTOOL), "test", "rules", "tests.yml"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
