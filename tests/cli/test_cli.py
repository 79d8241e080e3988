"""The ``shipyard`` command, run as a real subprocess on a home made in the test."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import shipyard
from shipyard import Config

SHIPYARD = str(Path(sys.executable).with_name("shipyard"))


def run_cli(
    home: Path, *args: str, columns: int | None = 200, **env: str
) -> subprocess.CompletedProcess[str]:
    """``shipyard *args`` with SHIPYARD_HOME=home and no other SHIPYARD_* variable."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_") and k != "COLUMNS"}
    clean |= {"SHIPYARD_HOME": str(home), **env}
    if columns:
        clean["COLUMNS"] = str(columns)
    return subprocess.run([SHIPYARD, *args], env=clean, cwd=home, capture_output=True, text=True, timeout=60)


@dataclass(frozen=True)
class Logged:
    home: Path
    good: str  # auc 0.9, lr 0.1
    poor: str  # auc 0.8, lr 0.2


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Logged:
    """Two finished runs in experiment "churn", logged with the Python API."""
    home = tmp_path_factory.mktemp("cli")
    ids = []
    with shipyard.Client(Config(home=home)) as client:
        for lr, auc in [(0.1, 0.9), (0.2, 0.8)]:
            run = client.create_run("churn")
            client.log_params(run.id, {"lr": lr, "depth": 6})
            client.log_metrics(run.id, {"auc": auc, "loss": round(1 - auc, 3)}, step=7)
            client.end_run(run.id)
            ids.append(run.id)
    return Logged(home, *ids)


def test_help_lists_every_command(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "--help")
    assert done.returncode == 0, done.stderr
    words = done.stdout.split()
    for command in ("experiments", "runs", "server", "db", "demo"):
        assert command in words


def test_no_arguments_shows_help_and_touches_no_database(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "runs")
    assert "list" in done.stdout.split() and "compare" in done.stdout.split()
    assert not (tmp_path / "shipyard.db").exists()


def test_experiments_list_shows_the_experiment(logged: Logged) -> None:
    done = run_cli(logged.home, "experiments", "list")
    assert done.returncode == 0, done.stderr
    assert "churn" in done.stdout and "Default" in done.stdout


def test_runs_list_shows_both_run_ids(logged: Logged) -> None:
    done = run_cli(logged.home, "runs", "list", "churn")
    assert done.returncode == 0, done.stderr
    assert logged.good in done.stdout and logged.poor in done.stdout


def test_runs_list_filter_keeps_only_matching_runs(logged: Logged) -> None:
    done = run_cli(logged.home, "runs", "list", "churn", "--filter", "metrics.auc > 0.85",
                   "--order-by", "metrics.auc DESC")
    assert done.returncode == 0, done.stderr
    assert logged.good in done.stdout
    assert logged.poor not in done.stdout


@pytest.mark.parametrize(("order", "first"), [("ASC", "poor"), ("DESC", "good")])
def test_runs_list_order_by_sorts_the_rows(logged: Logged, order: str, first: str) -> None:
    done = run_cli(logged.home, "runs", "list", "churn", "--order-by", f"metrics.auc {order}")
    assert done.returncode == 0, done.stderr
    second = "good" if first == "poor" else "poor"
    assert done.stdout.index(getattr(logged, first)) < done.stdout.index(getattr(logged, second))


def test_runs_list_with_a_bad_filter_is_one_error_line(logged: Logged) -> None:
    done = run_cli(logged.home, "runs", "list", "churn", "--filter", "metrics.auc >> 1")
    assert done.returncode == 1
    assert done.stderr.startswith("error: InvalidInput:") and "position" in done.stderr


def test_runs_show_prints_params_and_metrics(logged: Logged) -> None:
    done = run_cli(logged.home, "runs", "show", logged.good)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert logged.good in out and "FINISHED" in out
    assert "Params" in out and "lr" in out.split() and "0.1" in out.split() and "depth" in out.split()
    assert "Metrics" in out and "auc" in out.split() and "0.9" in out.split() and "7" in out.split()


def test_runs_compare_shows_both_runs_side_by_side(logged: Logged) -> None:
    done = run_cli(logged.home, "runs", "compare", logged.good, logged.poor)
    assert done.returncode == 0, done.stderr
    words = done.stdout.split()
    assert logged.good[:8] in words and logged.poor[:8] in words
    for value in ("0.1", "0.2", "0.9", "0.8", "lr", "auc"):
        assert value in words


@pytest.mark.parametrize("bad_id", ["0123456789abcdef0123456789abcdef", "not-a-run"])
def test_runs_show_of_a_bad_id_exits_1_with_one_error_line(logged: Logged, bad_id: str) -> None:
    done = run_cli(logged.home, "runs", "show", bad_id, columns=None)
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error:") and bad_id in lines[0]
    assert "Traceback" not in done.stderr


def test_long_error_stays_on_one_line_when_piped(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "server", "--host", "0.0.0.0", "--port", "1", columns=None)
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


@pytest.mark.parametrize("args", [["runs", "list", "--no-such-option"], ["runs", "show"], ["runs"]],
                         ids=["unknown-option", "missing-argument", "no-subcommand"])
def test_usage_error_exits_2_without_a_traceback(tmp_path: Path, args: list[str]) -> None:
    done = run_cli(tmp_path, *args)
    assert "Traceback" not in done.stderr
    assert done.returncode == 2


def test_runs_list_keeps_run_ids_whole_in_a_narrow_terminal(logged: Logged) -> None:
    done = run_cli(logged.home, "runs", "list", "churn", columns=80)
    assert done.returncode == 0, done.stderr
    assert logged.good in done.stdout and logged.poor in done.stdout


def test_db_upgrade_then_current_on_a_fresh_postgresql(tmp_path: Path, pg_url: str) -> None:
    from shipyard.store import head_revision

    before = run_cli(tmp_path, "db", "current", SHIPYARD_DB=pg_url)
    assert (before.returncode, before.stdout.strip()) == (0, "empty"), before.stderr
    upgraded = run_cli(tmp_path, "db", "upgrade", SHIPYARD_DB=pg_url)
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"empty -> {head_revision()}" in upgraded.stdout
    current = run_cli(tmp_path, "db", "current", SHIPYARD_DB=pg_url)
    assert (current.returncode, current.stdout.strip()) == (0, head_revision()), current.stderr
    again = run_cli(tmp_path, "db", "upgrade", SHIPYARD_DB=pg_url)
    assert again.returncode == 0, again.stderr
    assert not (tmp_path / "shipyard.db").exists()  # SHIPYARD_DB was used, not the home's SQLite


def test_piped_tables_are_plain_aligned_lines_never_wrapped_or_cut(logged: Logged) -> None:
    done = run_cli(logged.home, "runs", "list", "churn", columns=40)
    assert done.returncode == 0, done.stderr
    assert not any(c in done.stdout for c in "│┃━─┏┗╭╰"), done.stdout
    lines = done.stdout.splitlines()
    assert lines[1].split() == ["run", "id", "name", "status", "started", "auc", "loss"]
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert set(rows) == {logged.good, logged.poor}  # one whole line per run, however narrow the terminal
    assert rows[logged.good][-2:] == ["0.9", "0.1"]


def test_a_run_param_that_looks_like_markup_is_shown_as_written(tmp_path: Path) -> None:
    with shipyard.Client(Config(home=tmp_path)) as client:
        run = client.create_run("markup")
        client.log_param(run.id, "layers", "[bold]")
        client.end_run(run.id)
    done = run_cli(tmp_path, "runs", "show", run.id)
    assert "[bold]" in done.stdout.split()


def test_scheduler_once_says_nothing_was_due(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "scheduler", "--once")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "nothing due"


def test_db_upgrade_says_what_it_did_and_when_the_schema_is_current(tmp_path: Path) -> None:
    from shipyard.store import head_revision

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    upgraded = run_cli(fresh, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.startswith(f"upgraded empty -> {head_revision()}")
    again = run_cli(fresh, "db", "upgrade")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"schema is current ({head_revision()})")
    assert "->" not in again.stdout


@pytest.mark.parametrize("args", [
    ["runs", "compare", "0123456789abcdef0123456789abcdef"],
    ["server", "--log-level", "loud"],
    ["server", "--port", "99999"],
    ["data", "validate", "churn@1", "no-such-contract.yaml"],
], ids=["compare-one-run", "unknown-log-level", "port-out-of-range", "missing-contract-file"])
def test_bad_arguments_are_usage_errors_without_a_traceback(tmp_path: Path, args: list[str]) -> None:
    done = run_cli(tmp_path, *args)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and done.stderr.strip().splitlines()[-1].startswith("Error: ")


def _one_error_line(done: subprocess.CompletedProcess[str], kind: str) -> str:
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: {kind}: "), lines[0]
    return lines[0]


def test_a_definitions_file_that_fails_to_import_is_one_error_line_naming_the_line(tmp_path: Path) -> None:
    (tmp_path / "defs.py").write_text("import pandas\nimport no_such_module_here\n")
    line = _one_error_line(run_cli(tmp_path, "features", "apply", str(tmp_path / "defs.py")), "InvalidInput")
    assert "ModuleNotFoundError" in line and "no_such_module_here" in line and "defs.py, line 2" in line


def test_a_pipeline_file_with_a_syntax_error_is_one_error_line(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("def broken(:\n    pass\n")
    line = _one_error_line(run_cli(tmp_path, "run", str(tmp_path / "train.py")), "InvalidInput")
    assert "SyntaxError" in line and "train.py, line 1" in line


def test_a_tag_without_a_value_is_an_error_not_dropped(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("a,b\n1,2\n")
    line = _one_error_line(run_cli(tmp_path, "data", "add", "d", str(tmp_path / "d.csv"), "--tag", "team"),
                           "InvalidInput")
    assert "'team'" in line


def test_listing_the_versions_of_a_missing_dataset_is_an_error(tmp_path: Path) -> None:
    assert "'nope'" in _one_error_line(run_cli(tmp_path, "data", "list", "nope"), "NotFound")


def test_running_a_misspelt_monitor_is_an_error_not_a_run_of_nothing(tmp_path: Path) -> None:
    assert "'nope'" in _one_error_line(run_cli(tmp_path, "monitor", "run", "nope"), "NotFound")


def test_a_file_that_cannot_be_written_is_one_error_line(logged: Logged, tmp_path: Path) -> None:
    done = run_cli(logged.home, "alerts", "export", "--prometheus", "--out", str(tmp_path / "missing" / "r.yml"))
    assert "No such file or directory" in _one_error_line(done, "FileNotFoundError")
