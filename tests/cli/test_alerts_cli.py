"""``shipyard alerts``: rules, evaluation, listing, history and the Prometheus export, as a real subprocess."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from shipyard import Client, Config
from shipyard.testing.alerts import points
from tests.cli.test_cli import run_cli


def test_add_evaluate_list_history_and_export(tmp_path: Path) -> None:
    added = run_cli(tmp_path, "alerts", "rule", "add", "drift_share > 0.3 for 2 windows", "--name", "drift",
                    "--monitor", "churn", "--severity", "critical", "--notify", "log", "--repeat", "4h")
    assert added.returncode == 0, added.stderr
    assert "rule drift: drift_share > 0.3 for 2 windows on churn (critical)" in added.stdout
    assert run_cli(tmp_path, "alerts", "rule", "add", "accuracy < 0.85", "--name", "acc").returncode == 0
    rules = run_cli(tmp_path, "alerts", "rules")
    assert "drift_share > 0.3 for 2 windows" in rules.stdout and "14400s" in rules.stdout and "acc" in rules.stdout

    with Client(Config(home=tmp_path)) as client:
        client.create_monitor("churn@production", window="15m", name="churn")
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
