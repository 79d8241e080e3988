"""``shipyard models …``: list, show, register, alias with a policy, history, rollback, card, convert."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import shipyard
from shipyard import Config
from tests.cli.test_cli import run_cli


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Model "churn" with versions 1 (auc 0.9) and 2 (auc 0.7), logged with the Python API."""
    home = tmp_path_factory.mktemp("models-cli")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 4))
    y = (x[:, 0] > 0).astype(int)
    with shipyard.Client(Config(home=home)) as client:
        for auc in (0.9, 0.7):
            with shipyard.start_run("churn", client=client):
                shipyard.log_metric("auc", auc)
                shipyard.log_model(LogisticRegression().fit(x, y), input_example=x[:3],
                                   registered_model_name="churn")
    return home


def test_list_and_show_the_registered_versions(home: Path) -> None:
    listed = run_cli(home, "models", "list")
    assert listed.returncode == 0, listed.stderr
    assert "churn" in listed.stdout
    shown = run_cli(home, "models", "show", "churn")
    assert "auc=0.9" in shown.stdout and "auc=0.7" in shown.stdout and "sklearn" in shown.stdout


def test_policy_refusal_force_history_and_rollback(home: Path, tmp_path: Path) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"rules": [{"type": "min_metric", "metric": "auc", "threshold": 0.8}]}))
    assert run_cli(home, "models", "policy", "churn", str(policy)).returncode == 0
    assert run_cli(home, "models", "alias", "churn", "production", "1").returncode == 0
    refused = run_cli(home, "models", "alias", "churn", "production", "2")
    assert refused.returncode == 3 and "PromotionRefused" in refused.stderr and "auc >= 0.8" in refused.stderr
    forced = run_cli(home, "models", "alias", "churn", "production", "2", "--force", "--reason", "hotfix")
    assert forced.returncode == 0 and "forced" in forced.stdout
    history = run_cli(home, "models", "history", "churn")
    assert "set_alias (forced)" in history.stdout and "hotfix" in history.stdout
    back = run_cli(home, "models", "rollback", "churn", "--alias", "production")
    assert back.returncode == 0 and "version 1" in back.stdout
    assert "rollback" in run_cli(home, "models", "history", "churn").stdout


def test_card_renders_markdown_and_html(home: Path, tmp_path: Path) -> None:
    run_cli(home, "models", "alias", "churn", "champion", "1")
    card = run_cli(home, "models", "card", "churn@champion")
    assert card.returncode == 0 and "# Model card: churn v1" in card.stdout
    out = tmp_path / "card.html"
    assert run_cli(home, "models", "card", "models:/churn/1", "--html", "-o", str(out)).returncode == 0
    assert out.read_text().startswith("<!doctype html>")


def test_convert_registers_an_onnx_version(home: Path) -> None:
    done = run_cli(home, "models", "convert", "models:/churn/1", "--to", "onnx")
    assert done.returncode == 0, done.stderr
    assert "(onnx)" in done.stdout


def test_register_from_a_folder_without_a_model_fails_with_one_line(home: Path, tmp_path: Path) -> None:
    done = run_cli(home, "models", "register", str(tmp_path), "other")
    assert done.returncode == 1
    assert done.stderr.strip().startswith("error: InvalidInput") and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [["show", "chrun"], ["show", "chrun@production"], ["history", "chrun"],
                                  ["show", "churn/99"]],
                         ids=["show-name", "show-alias", "history", "show-version"])
def test_a_missing_model_is_one_error_line_not_an_empty_table(home: Path, args: list[str]) -> None:
    done = run_cli(home, "models", *args)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("error: NotFound: ") and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_show_accepts_a_name_with_an_alias_as_card_does(home: Path) -> None:
    run_cli(home, "models", "alias", "churn", "champion", "1")
    done = run_cli(home, "models", "show", "churn@champion")
    assert done.returncode == 0, done.stderr
    assert "auc=0.9" in done.stdout and "auc=0.7" not in done.stdout


def test_a_malformed_policy_file_is_one_error_line(home: Path, tmp_path: Path) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text("{rules: [")
    done = run_cli(home, "models", "policy", "churn", str(policy))
    assert done.returncode == 1 and done.stderr.startswith("error: InvalidInput: ") and "policy.json" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


@pytest.mark.parametrize(("version", "says"), [("-1", "a version is a whole number of at least 1; got -1"),
                                               ("0", "version")])
def test_a_version_below_1_is_a_usage_error_about_the_version(home: Path, version: str, says: str) -> None:
    done = run_cli(home, "models", "alias", "churn", "production", version)
    assert done.returncode == 2
    assert says in done.stderr and "No such option" not in done.stderr, done.stderr
