"""``shipyard tune PIPELINE_FILE``, and a search as a step of a pipeline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shipyard import Client, Config
from shipyard.cli.output import fmt_value
from shipyard.errors import InvalidInput
from shipyard.tuning import SearchFailed, pipeline_objective, tune, uniform
from tests.tuning import searched

ROOT = Path(__file__).resolve().parents[2]
SHIPYARD = str(Path(sys.executable).with_name("shipyard"))

PIPELINE_FILE = """
from tests.tuning.searched import train
"""

SPACE = """
alpha: {loguniform: [0.01, 1.0]}
depth: {randint: [2, 6]}
"""


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    return env | {"SHIPYARD_HOME": str(home), "PYTHONPATH": str(ROOT)}


def test_the_cli_tunes_a_pipeline_s_parameters_by_a_metric_its_steps_log(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "train.py").write_text(PIPELINE_FILE)
    (home / "space.yaml").write_text(SPACE)
    done = subprocess.run([SHIPYARD, "tune", "train.py:train", "--space", "space.yaml", "--metric", "score",
                           "--n-trials", "5", "--direction", "maximize", "--seed", "0", "--name", "cli", "--json"],
                          cwd=home, env=_env(home), capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    out = json.loads(done.stdout)
    assert out["complete"] == 5 and set(out["best_params"]) == {"alpha", "depth"}
    with Client(Config(home=home)) as client:
        trials = client.search_runs("train", filter=f"tags.`shipyard.tuning.search` = '{out['run_id']}'").items
        pipeline_runs = client.search_runs("train", filter="tags.`shipyard.kind` = 'pipeline'").items
        best = client.get_run(out["best_run_id"])
    assert len(trials) == 5 and len(pipeline_runs) == 5
    assert {r.tags["shipyard.tuning.trial_run"] for r in pipeline_runs} == {r.id for r in trials}
    assert best.metrics["score"].value == pytest.approx(out["best_value"])


def test_a_bad_space_file_is_refused_naming_the_parameter(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "train.py").write_text(PIPELINE_FILE)
    (home / "space.yaml").write_text("alpha: {uniform: [1.0, 0.5]}\n")
    done = subprocess.run([SHIPYARD, "tune", "train.py:train", "--space", "space.yaml", "--metric", "score"],
                          cwd=home, env=_env(home), capture_output=True, text=True, timeout=240)
    assert done.returncode != 0 and "space.alpha" in done.stderr and "inverted range" in done.stderr


def _tune_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    home.mkdir(exist_ok=True)
    (home / "train.py").write_text(PIPELINE_FILE)
    (home / "space.yaml").write_text(SPACE)
    return subprocess.run([SHIPYARD, "tune", "train.py:train", "--space", "space.yaml", *args],
                          cwd=home, env=_env(home), capture_output=True, text=True, timeout=240)


def test_a_metric_no_step_logged_fails_the_trial_naming_it_and_the_metrics_logged(tmp_path: Path) -> None:
    with Client(Config(home=tmp_path / "home", system_metrics=False)) as client:
        objective = pipeline_objective(searched.train, "auc", client=client)
        with pytest.raises(SearchFailed, match=r"InvalidInput: metric 'auc': .* \(metrics logged: 'score'\)"):
            tune(objective, {"alpha": uniform(0.01, 1.0)}, n_trials=2, metric="auc", client=client, name="typo")
        trials = client.search_runs("Default", filter="tags.`shipyard.kind` = 'trial'").items
    assert len(trials) == 2 and {r.status.value for r in trials} == {"FAILED"}
    assert not any("auc" in r.metrics for r in trials)


def test_the_cli_ends_non_zero_with_one_line_naming_a_mistyped_metric(tmp_path: Path) -> None:
    done = _tune_cli(tmp_path / "home", "--metric", "auc", "--n-trials", "2", "--name", "bad1")
    assert done.returncode != 0 and done.stdout == "", done.stdout + done.stderr
    assert "metric 'auc'" in done.stderr and "metrics logged: 'score'" in done.stderr
    assert "Traceback" not in done.stderr and "all 2 trials failed" in done.stderr


def test_with_no_metric_the_cli_scores_each_trial_by_the_pipeline_s_numeric_output(tmp_path: Path) -> None:
    done = _tune_cli(tmp_path / "home", "--n-trials", "2", "--direction", "maximize", "--name", "output", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    out = json.loads(done.stdout)
    assert out["complete"] == 2 and out["metric"] == "objective"
    alpha, depth = out["best_params"]["alpha"], out["best_params"]["depth"]
    assert out["best_value"] == pytest.approx(-((alpha - 0.3) ** 2) - (depth - 4) ** 2 * 0.01)


def test_the_cli_has_no_pruner_and_its_help_says_why(tmp_path: Path) -> None:
    help_text = subprocess.run([SHIPYARD, "tune", "--help"], env=_env(tmp_path), capture_output=True, text=True,
                               timeout=120).stdout
    assert "--pruner" in help_text and "nothing to prune" in " ".join(help_text.split())
    done = _tune_cli(tmp_path / "home", "--metric", "score", "--pruner", "median")
    assert done.returncode == 2 and "--pruner" in done.stderr


def test_the_cli_title_shows_the_best_value_formatted_like_other_metrics(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = _tune_cli(home, "--metric", "score", "--n-trials", "2", "--direction", "maximize", "--name", "shown")
    assert done.returncode == 0, done.stdout + done.stderr
    title = done.stdout.splitlines()[0]
    run_id = done.stdout.split("run ")[1].split()[0]
    with Client(Config(home=home)) as client:
        best = client.get_run(run_id).metrics["score"].value
    assert title == f"Best of 2 trials: score = {fmt_value(best)}" and len(fmt_value(best)) < len(repr(best))


def test_a_search_runs_as_a_pipeline_step_and_hands_its_best_parameters_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("SHIPYARD_HOME", str(home))  # the step's shipyard.tune uses the default client
    with Client(Config(home=home)) as client:
        result = searched.search_then_use.run({"n_trials": 6}, client=client, executor="inline")
        inner = client.search_runs("inner-search", filter="tags.`shipyard.kind` = 'search'").items
        trials = client.search_runs("inner-search", filter="tags.`shipyard.kind` = 'trial'").items
    assert result.status == "FINISHED" and len(inner) == 1 and len(trials) == 6
    assert result.output == round(float(inner[0].tags["best.x"]), 6)


def _experiments(home: Path) -> list[str]:
    with Client(Config(home=home)) as client:
        return [e.name for e in client.list_experiments() if e.name != "Default"]


def test_the_cli_refuses_a_fixed_param_the_pipeline_does_not_take_before_any_trial(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = _tune_cli(home, "--metric", "score", "--n-trials", "2", "--param", "nokey=1")
    assert done.returncode == 1 and done.stdout == "", done.stdout + done.stderr
    assert "'nokey'" in done.stderr and "parameters: alpha, depth" in done.stderr
    assert "Traceback" not in done.stderr and "SearchFailed" not in done.stderr
    assert _experiments(home) == []  # no search run, no trial


def test_the_cli_refuses_a_space_naming_a_parameter_the_pipeline_does_not_take_before_any_trial(
        tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "train.py").write_text(PIPELINE_FILE)
    (home / "space.yaml").write_text("alpha: {uniform: [0.1, 1.0]}\nnokey: {randint: [1, 3]}\n")
    done = subprocess.run([SHIPYARD, "tune", "train.py:train", "--space", "space.yaml", "--metric", "score",
                           "--n-trials", "2"], cwd=home, env=_env(home), capture_output=True, text=True, timeout=240)
    assert done.returncode == 1 and done.stdout == "", done.stdout + done.stderr
    assert "space.nokey" in done.stderr and "parameters: alpha, depth" in done.stderr
    assert "SearchFailed" not in done.stderr
    assert _experiments(home) == []


def test_a_pipeline_objective_refuses_parameters_its_pipeline_does_not_take(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"param\.nokey: pipeline 'train' has no parameter 'nokey' "
                                           r"\(parameters: alpha, depth\)"):
        pipeline_objective(searched.train, "score", {"nokey": 1})
    with Client(Config(home=tmp_path / "home", system_metrics=False)) as client:
        objective = pipeline_objective(searched.train, "score", {"depth": 3}, client=client)
        with pytest.raises(InvalidInput, match=r"space\.nokey: pipeline 'train' has no parameter 'nokey'"):
            tune(objective, {"alpha": uniform(0.1, 1.0), "nokey": uniform(0.0, 1.0)}, n_trials=2, metric="score",
                 client=client, name="unknown")
        assert [e.name for e in client.list_experiments() if e.name != "Default"] == []
        assert client.search_runs("Default", filter="tags.`shipyard.kind` = 'trial'").items == []
