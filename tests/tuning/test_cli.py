"""``shipyard tune PIPELINE_FILE``, and a search as a step of a pipeline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shipyard import Client, Config
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
