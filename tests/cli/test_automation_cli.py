"""``shipyard automation`` and ``shipyard monitor export-labelled``, as a real subprocess."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from shipyard import Client, Config
from shipyard.automation import SqlAutomationStore
from shipyard.serving import InferenceLogConfig
from shipyard.serving._inference_log import Entry, InferenceLog, RunSink
from shipyard.timeutil import now_ms
from tests.automation.conftest import POLICY, make_world, policy
from tests.cli.test_cli import run_cli

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_policy() -> str:
    """The policy YAML of the README's "Continuous training" section."""
    section = README.read_text(encoding="utf-8").split("## Continuous training", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert found is not None, "the section shows a policy"
    return found.group(1)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    with Client(Config(home=tmp_path)) as client:
        make_world(client, tmp_path)
    return tmp_path


def awaiting_run(home: Path, resume: str = "shadow") -> str:
    """A run of churn-retrain that waits for a person's approval."""
    with Client(Config(home=home)) as client:
        store = client.backend.automation
        assert isinstance(store, SqlAutomationStore)
        run = store.create_run("churn-retrain", {"trigger": {"type": "manual"}})
        for state in ("retraining", "evaluating", "gated"):
            store.transition(run.id, state)
        store.transition(run.id, "awaiting_approval", resume_state=resume)
    return run.id


def test_apply_list_show_and_history(home: Path) -> None:
    path = home / "churn-retrain.yaml"
    path.write_text(yaml.safe_dump(POLICY))
    applied = run_cli(home, "automation", "apply", str(path))
    assert applied.returncode == 0, applied.stderr
    assert "policy churn-retrain: version 1 applied" in applied.stdout
    assert "unchanged (version 1)" in run_cli(home, "automation", "apply", str(path)).stdout
    path.write_text(yaml.safe_dump(policy(guards={"cooldown": "12h"})))
    assert "version 2 applied" in run_cli(home, "automation", "apply", str(path)).stdout

    listed = run_cli(home, "automation", "list")
    assert "churn-retrain" in listed.stdout and "train_churn" in listed.stdout and "alert churn-drift" in listed.stdout
    items = json.loads(run_cli(home, "automation", "list", "--json").stdout)["items"]
    assert [(p["name"], p["version"], p["policy"]["guards"]["cooldown"]) for p in items] == [
        ("churn-retrain", 2, "12h")]

    shown = json.loads(run_cli(home, "automation", "show", "churn-retrain", "--version", "1", "--json").stdout)
    assert shown["version"] == 1 and shown["policy"]["guards"]["cooldown"] == "6h"
    assert [v["version"] for v in shown["versions"]] == [2, 1]
    assert [e["action"] for e in shown["audit"]] == ["apply_policy", "apply_policy"]
    text = run_cli(home, "automation", "show", "churn-retrain").stdout
    assert "version 2 of 2" in text and "cooldown: 12h" in text

    run_id = awaiting_run(home)
    history = run_cli(home, "automation", "history", "churn-retrain")
    assert run_id in history.stdout and "awaiting_approval (then shadow)" in history.stdout
    runs = json.loads(run_cli(home, "automation", "history", "churn-retrain", "--json").stdout)["items"]
    assert [(r["id"], r["state"], r["policy_version"]) for r in runs] == [(run_id, "awaiting_approval", 2)]
    assert json.loads(run_cli(home, "automation", "history", "churn-retrain", "--state", "promoted",
                              "--json").stdout)["items"] == []
    unknown = run_cli(home, "automation", "history", "nope")
    assert unknown.returncode == 1 and "NotFound" in unknown.stderr


def test_approve_and_reject_runs_awaiting_approval_only(home: Path) -> None:
    path = home / "p.yaml"
    path.write_text(yaml.safe_dump(POLICY))
    assert run_cli(home, "automation", "apply", str(path)).returncode == 0
    first, second = awaiting_run(home, "canary"), awaiting_run(home)
    approved = run_cli(home, "automation", "approve", first, "--reason", "offline numbers are fine")
    assert approved.returncode == 0, approved.stderr
    assert f"run {first} of churn-retrain: approved, now canary" in approved.stdout
    again = run_cli(home, "automation", "approve", first, "--reason", "twice")
    assert again.returncode == 1 and "Conflict" in again.stderr and "canary" in again.stderr
    rejected = run_cli(home, "automation", "reject", second, "--reason", "freeze week")
    assert rejected.returncode == 0 and "rejected" in rejected.stdout
    no_reason = run_cli(home, "automation", "approve", first)
    assert no_reason.returncode == 2  # a usage mistake: --reason is required
    audit = json.loads(run_cli(home, "automation", "show", "churn-retrain", "--json").stdout)["audit"]
    assert [(e["action"], e["reason"]) for e in audit[:2]] == [("reject", "freeze week"),
                                                              ("approve", "offline numbers are fine")]


def test_a_bad_policy_is_one_line_naming_the_field_and_stores_nothing(home: Path) -> None:
    path = home / "bad.yaml"
    path.write_text(yaml.safe_dump(policy(rollout={"canary": {"percent": 150}})))
    bad = run_cli(home, "automation", "apply", str(path))
    assert bad.returncode == 1 and "InvalidInput" in bad.stderr and "rollout.canary.percent" in bad.stderr
    path.write_text(yaml.safe_dump(policy(retrain={"pipeline": "train_fraud"})))
    missing = run_cli(home, "automation", "apply", str(path))
    assert missing.returncode == 1 and "NotFound" in missing.stderr and "retrain.pipeline" in missing.stderr
    assert json.loads(run_cli(home, "automation", "list", "--json").stdout)["items"] == []


def test_the_readme_policy_applies(home: Path) -> None:
    path = home / "churn-retrain.yaml"
    path.write_text(readme_policy())
    applied = run_cli(home, "automation", "apply", str(path))
    assert applied.returncode == 0, applied.stderr
    shown = json.loads(run_cli(home, "automation", "show", "churn-retrain", "--json").stdout)
    assert shown["policy"]["rollout"]["canary"] == {"percent": 10.0, "duration": "30m", "labelled_requests": 500}
    assert shown["policy"]["guards"]["require_approval"] is True


def test_export_labelled_registers_the_labelled_answers_as_a_dataset_version(tmp_path: Path) -> None:
    with Client(Config(home=tmp_path)) as client:
        make_world(client, tmp_path)
        log = InferenceLog(InferenceLogConfig(flush_interval_s=60), RunSink(client, run_name="serving-w1"))
        for i in range(4):
            log.record(Entry(now_ms(), f"q{i}", "churn", "1", "production", 2.0, 200, 1,
                             pd.DataFrame({"age": [40.0 + i]}), {"predict": np.asarray([i % 2])}, None, None))
        log.close()
        client.log_labels(pd.DataFrame({"request_id": ["q0", "q1", "q2"], "label": [0, 1, 1]}), model="churn")
    done = run_cli(tmp_path, "monitor", "export-labelled", "churn@production", "--since", "1h",
                   "--to", "ds:churn-labelled")
    assert done.returncode == 0, done.stderr
    assert "exported 3 labelled rows of churn@production as churn-labelled@1" in done.stdout
    with Client(Config(home=tmp_path)) as client:
        frame = client.get_dataset("churn-labelled@1").to_pandas()
        assert frame["label"].tolist() == [0, 1, 1] and frame["age"].tolist() == [40.0, 41.0, 42.0]
        into = {str(e.src) for e in client.dataset_lineage("churn-labelled@1").upstream
                if str(e.dst) == "dataset:churn-labelled@1"}
        assert into == {"model_version:churn/1", "monitor:churn-monitor"}
    empty = run_cli(tmp_path, "monitor", "export-labelled", "churn@staging", "--to", "ds:x")
    assert empty.returncode == 1 and "NotFound" in empty.stderr
