"""Conventions every ``shipyard`` command keeps, checked by walking the whole command tree.

Commands run in this process through :func:`shipyard.cli.main` (stdout captured, so
not a terminal: the plain output a pipe gets), on a home filled in the test.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import shipyard
from shipyard import Config
from shipyard import features as sf
from shipyard.access import SqlAccessStore
from shipyard.cli.exit_codes import EPILOG, ExitCode
from shipyard.cli.main import main, walk
from shipyard.testing.alerts import points
from shipyard.testing.datasets import small_frame

# reStructuredText that reads as noise in a terminal: ``literal``, :role:`x`, .. directive::
_REST = re.compile(r"``|:(?:class|func|meth|mod|attr|data|exc|obj|ref):`|^\s*\.\. [\w-]+::", re.MULTILINE)
# Read-only commands that list or show something: each takes --json.
_LISTING = {"list", "show", "rules", "history"}

PIPELINE = """
from shipyard.pipelines import pipeline, step

@step
def numbers(n: int) -> list[int]:
    return list(range(n))

@pipeline
def counted(n: int = 3):
    return numbers(n)
"""


@dataclass(frozen=True)
class Ran:
    status: int
    out: str
    err: str


def shipyard_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str) -> Ran:
    """``shipyard *args`` in this process; stdout is captured, so it is not a terminal."""
    monkeypatch.setattr(sys, "argv", ["shipyard", *args])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    code = exited.value.code
    return Ran(code if isinstance(code, int) else (0 if code is None else 1), captured.out, captured.err)


@dataclass(frozen=True)
class Home:
    path: Path
    run_id: str
    pipeline_run_id: str


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    """One of everything a list or show command can show, made with the Python API."""
    path = tmp_path_factory.mktemp("conventions")
    x = np.random.default_rng(0).normal(size=(40, 3))
    frame = pd.DataFrame({"user_id": [1, 2], "event_ts": [pd.Timestamp("2026-01-01")] * 2, "spend": [1.0, 2.0]})
    frame.to_parquet(path / "stats.parquet")
    (path / "counted.py").write_text(PIPELINE)
    with shipyard.Client(Config(home=path)) as client:
        with shipyard.start_run("churn", client=client) as run:
            shipyard.log_metric("auc", 0.9)
            shipyard.log_model(LogisticRegression().fit(x, (x[:, 0] > 0).astype(int)), input_example=x[:3],
                               registered_model_name="churn")
        client.set_alias("churn", "production", 1)
        client.register_dataset("visits", small_frame())
        client.create_monitor("churn@production", window="1h", name="churn-monitor")
        client.create_alert_rule("drift_share > 0.3", name="drift")
        client.monitor_store.write_points(points("churn-monitor", "drift_share", [0.5], window=3_600_000))
        client.evaluate_alerts()
        user = sf.Entity("user", join_keys=["user_id"])
        client.feature_store.apply([user, sf.FeatureView(
            "stats", entities=[user], features={"spend": "float64"}, ttl="1d",
            source=sf.ParquetSource(str(path / "stats.parquet"), timestamp="event_ts"))])
        from shipyard.pipelines._loader import load_pipeline

        result = load_pipeline(str(path / "counted.py")).run({}, client=client, executor="inline")
        client.automation.apply_policy({"name": "churn-retrain", "model": "churn",
                                        "triggers": [{"type": "alert", "rule": "drift"}],
                                        "retrain": {"pipeline": "counted"},
                                        "evaluation": {"metrics": ["auc"], "data": "visits"}})
        client.backend.automation.create_run("churn-retrain")  # type: ignore[attr-defined]
        access = SqlAccessStore(client.backend.db)  # type: ignore[attr-defined]
        access.create_user("ana", "editor")
        access.create_token("ana", "laptop")
    return Home(path, run.id, result.run_id)


def _arguments(home: Home) -> dict[tuple[str, ...], list[str]]:
    """The arguments each list or show command is run with here."""
    return {
        ("alerts", "history"): [], ("alerts", "list"): [], ("alerts", "rules"): [],
        ("automation", "history"): ["churn-retrain"], ("automation", "list"): [],
        ("automation", "show"): ["churn-retrain"],
        ("data", "list"): [], ("data", "show"): ["visits@1"],
        ("experiments", "list"): [],
        ("features", "list"): [], ("features", "show"): ["stats"],
        ("models", "history"): ["churn"], ("models", "list"): [], ("models", "show"): ["churn"],
        ("monitor", "list"): [], ("monitor", "show"): ["churn-monitor"],
        ("pipelines", "list"): [], ("pipelines", "show"): [home.pipeline_run_id],
        ("runs", "list"): ["churn"], ("runs", "show"): [home.run_id],
        ("tokens", "list"): [], ("users", "list"): [],
    }


def _commands() -> list[tuple[str, ...]]:
    return [path for path, _ in walk()]


def test_walk_finds_every_command_group_and_leaf() -> None:
    paths = _commands()
    assert () in paths and ("models",) in paths and ("models", "show") in paths and ("serve",) in paths
    assert ("monitor", "labels", "upload") in paths and ("alerts", "rule", "add") in paths


@pytest.mark.parametrize("path", _commands(), ids=lambda p: " ".join(p) or "shipyard")
def test_every_command_answers_help_with_exit_0_and_no_rest_markup(
        path: tuple[str, ...], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    done = shipyard_cli(capsys, monkeypatch, *path, "--help")
    assert done.status == 0, done.err
    assert done.out.startswith("Usage: shipyard"), done.out
    assert not _REST.search(done.out), done.out
    assert not re.search(r"[│┃━─╭╰]", done.out), "help in a pipe is plain text"


def test_the_source_help_texts_have_no_rest_markup() -> None:
    """Docstrings and option help as written, before any renderer could hide markup."""
    found = []
    for path, command in walk():
        texts = [getattr(command, "help", None) or ""]
        texts += [getattr(param, "help", None) or "" for param in getattr(command, "params", [])]
        found += [(" ".join(path), text) for text in texts if _REST.search(text)]
    assert found == []


def test_every_listing_command_is_covered_here(home: Home) -> None:
    listing = {path for path in _commands() if path and path[-1] in _LISTING}
    assert listing == set(_arguments(home))


@pytest.mark.parametrize("path", sorted(_arguments(Home(Path(), "", ""))), ids=" ".join)
def test_every_list_and_show_command_prints_one_json_document(
        path: tuple[str, ...], home: Home, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPYARD_HOME", str(home.path))
    for key in ("SHIPYARD_URL", "SHIPYARD_DB", "SHIPYARD_ARTIFACTS", "SHIPYARD_ONLINE_STORE"):
        monkeypatch.delenv(key, raising=False)
    done = shipyard_cli(capsys, monkeypatch, *path, *_arguments(home)[path], "--json")
    assert done.status == 0, done.err
    document = json.loads(done.out)  # the whole of stdout is one document
    assert isinstance(document, dict) and document
    if path[-1] != "show":
        assert isinstance(document["items"], list) and document["items"], document


def test_json_keys_are_the_entities_fields(home: Home, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPYARD_HOME", str(home.path))
    shown = json.loads(shipyard_cli(capsys, monkeypatch, "models", "show", "churn@production", "--json").out)
    assert (shown["name"], shown["version"], shown["aliases"]) == ("churn", 1, ["production"])
    runs = json.loads(shipyard_cli(capsys, monkeypatch, "runs", "list", "churn", "--json").out)
    assert [r["id"] for r in runs["items"]] == [home.run_id] and runs["items"][0]["metrics"]["auc"]["value"] == 0.9


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    done = shipyard_cli(capsys, monkeypatch, "--version")
    assert (done.status, done.out) == (0, f"shipyard {shipyard.__version__}\n")


def test_top_level_help_documents_every_exit_code(capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    done = shipyard_cli(capsys, monkeypatch, "--help")
    text = " ".join(done.out.split())
    assert " ".join(EPILOG.split()) in text
    for code in ExitCode:
        assert f"{code.value} " in EPILOG


def test_readme_documents_the_same_exit_codes() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    for code in ExitCode:
        assert f"| {code.value} |" in section


def test_a_bare_group_prints_its_help_on_stdout_with_usage_status(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    done = shipyard_cli(capsys, monkeypatch, "models")
    assert done.status == ExitCode.USAGE
    assert "show" in done.out.split() and done.err == ""
