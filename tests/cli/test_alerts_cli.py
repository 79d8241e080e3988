"""``shipyard alerts``: rules, evaluation, listing, history and the Prometheus export, as a real subprocess."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from shipyard import Client, Config
from shipyard.errors import InvalidInput
from shipyard.testing.alerts import points
from tests.cli.test_cli import run_cli


def test_add_evaluate_list_history_and_export(tmp_path: Path) -> None:
    with Client(Config(home=tmp_path)) as client:  # a monitor that has not run yet takes rules
        client.registry_store.create_registered_model("churn")
        client.create_monitor("churn@production", window="15m", name="churn")
    added = run_cli(tmp_path, "alerts", "rule", "add", "drift_share > 0.3 for 2 windows", "--name", "drift",
                    "--monitor", "churn", "--severity", "critical", "--notify", "log", "--repeat", "4h")
    assert added.returncode == 0, added.stderr
    assert "rule drift: drift_share > 0.3 for 2 windows on churn (critical)" in added.stdout
    assert run_cli(tmp_path, "alerts", "rule", "add", "accuracy < 0.85", "--name", "acc").returncode == 0
    rules = run_cli(tmp_path, "alerts", "rules")
    assert "drift_share > 0.3 for 2 windows" in rules.stdout and "14400s" in rules.stdout and "acc" in rules.stdout

    with Client(Config(home=tmp_path)) as client:
        client.monitor_store.write_points(points("churn", "drift_share", [0.5, 0.6], window=15 * 60_000))
    evaluated = run_cli(tmp_path, "alerts", "evaluate")
    assert evaluated.returncode == 0, evaluated.stderr
    assert "[FIRING] drift (critical) on churn" in evaluated.stdout and "1 transitions" in evaluated.stdout

    listed = run_cli(tmp_path, "alerts", "list", "--state", "firing")
    assert "firing" in listed.stdout and "drift" in listed.stdout and "0.6" in listed.stdout

    out = tmp_path / "rules.yml"
    exported = run_cli(tmp_path, "alerts", "export", "--prometheus", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    data = yaml.safe_load(out.read_text())
    by_name = {r["alert"]: r for r in data["groups"][0]["rules"]}
    assert by_name["drift"]["expr"] == 'shipyard_drift_share{monitor="churn"} > 0.3'
    assert by_name["drift"]["for"] == "22m30s"  # two of churn's 15-minute windows, the second surely in
    assert by_name["acc"]["expr"] == 'shipyard_model_metric{metric="accuracy"} < 0.85'

    deleted = run_cli(tmp_path, "alerts", "rule", "delete", "drift")
    assert deleted.returncode == 0
    history = run_cli(tmp_path, "alerts", "history", "--rule", "drift").stdout
    assert "retired" in history and "notified" in history and "fired" in history

    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not found: install the Debian package 'prometheus' (scripts/services.sh does)")
    checked = subprocess.run([promtool, "check", "rules", str(out)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_mistakes_are_one_line_errors(tmp_path: Path) -> None:
    bad = run_cli(tmp_path, "alerts", "rule", "add", "drift_share >> 0.3")
    assert bad.returncode == 1 and "InvalidInput" in bad.stderr and "expected a number" in bad.stderr
    no_format = run_cli(tmp_path, "alerts", "export")
    assert no_format.returncode == 1 and "--prometheus" in no_format.stderr


def test_a_rule_on_a_monitor_that_does_not_exist_is_refused_naming_the_monitors(tmp_path: Path) -> None:
    with Client(Config(home=tmp_path)) as client:
        client.registry_store.create_registered_model("churn")
        client.create_monitor("churn@production", window="1h")
    refused = run_cli(tmp_path, "alerts", "rule", "add", "drift_share > 0.3", "--monitor", "nosuch@production")
    assert refused.returncode == 1 and "NotFound" in refused.stderr
    assert "--monitor 'nosuch@production'" in refused.stderr and "churn@production" in refused.stderr
    assert run_cli(tmp_path, "alerts", "rules").stdout.count("drift_share") == 0
    everywhere = run_cli(tmp_path, "alerts", "rule", "add", "drift_share > 0.3", "--monitor", "*")
    assert everywhere.returncode == 0, everywhere.stderr  # the wildcard needs no monitor


def test_a_rule_on_a_series_no_monitor_writes_is_refused_listing_the_series(tmp_path: Path) -> None:
    refused = run_cli(tmp_path, "alerts", "rule", "add", "nosuchseries > 0.3")
    assert refused.returncode == 1 and "InvalidInput" in refused.stderr
    assert "'nosuchseries'" in refused.stderr and "drift_share" in refused.stderr and "accuracy" in refused.stderr
    with Client(Config(home=tmp_path)) as client:
        client.registry_store.create_registered_model("prices")
        client.create_monitor("prices", window="1h", task="regression")
        with pytest.raises(InvalidInput) as caught:  # a regression monitor writes no accuracy
            client.create_alert_rule("accuracy < 0.8", monitor="prices")
        assert caught.value.context["field"] == "rule" and "rmse" in caught.value.message
        assert client.create_alert_rule("rmse > 3", monitor="prices").series == "rmse"
        assert client.create_alert_rule("estimated_accuracy < 0.8", monitor="*").monitor == "*"


def test_history_and_list_of_a_rule_that_does_not_exist_are_errors(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "alerts", "rule", "add", "error_rate > 0.1", "--name", "errors").returncode == 0
    for command in ("history", "list"):
        missing = run_cli(tmp_path, "alerts", command, "--rule", "nosuch")
        assert missing.returncode == 1 and "NotFound" in missing.stderr, command
        assert "'nosuch'" in missing.stderr and "errors" in missing.stderr, command
        assert run_cli(tmp_path, "alerts", command, "--rule", "errors").returncode == 0, command  # exists, quiet


def test_an_unknown_notifier_is_refused_naming_every_notifier_type_and_the_configured_ones(tmp_path: Path) -> None:
    (tmp_path / "shipyard.toml").write_text('[alerts.notifiers.team]\ntype = "slack"\nurl = "http://127.0.0.1:9/x"\n')
    refused = run_cli(tmp_path, "alerts", "rule", "add", "drift_share > 0.3", "--notify", "pager")  # cwd's toml
    assert refused.returncode == 1 and "'pager'" in refused.stderr
    assert "webhook, slack, email or log" in refused.stderr
    assert "'log', 'team'" in refused.stderr  # the configured ones
