"""``shipyard run`` and ``shipyard pipelines …`` as real subprocesses on a home made in the test."""

from __future__ import annotations

import json
import time
from pathlib import Path

from shipyard import Client, Config
from tests.cli.test_cli import run_cli

ROOT = Path(__file__).resolve().parents[2]

PIPELINE_FILE = """
from shipyard.pipelines import pipeline, step

@step
def numbers(n: int) -> list[int]:
    print(f"making {n} numbers")
    return list(range(n))

@step
def total(xs: list[int], fail: bool) -> int:
    if fail:
        raise RuntimeError("asked to fail")
    return sum(xs)

@pipeline
def summed(n: int = 4, fail: bool = False):
    return total(numbers(n), fail)
"""


def setup_home(tmp_path: Path) -> tuple[Path, Path]:
    home = tmp_path / "home"
    home.mkdir()
    path = home / "summed.py"
    path.write_text(PIPELINE_FILE)
    return home, path


def test_run_list_show_and_logs(tmp_path: Path) -> None:
    home, path = setup_home(tmp_path)
    done = run_cli(home, "run", str(path), "-p", "n=5", "--no-live", "--executor", "inline")
    assert done.returncode == 0, done.stderr
    assert "numbers: done" in done.stdout and "FINISHED" in done.stdout
    with Client(Config(home=home)) as client:
        run_id = client.search_runs("summed", filter="tags.`shipyard.kind` = 'pipeline'").items[0].id
    listed = run_cli(home, "pipelines", "list")
    assert "summed" in listed.stdout and run_id in listed.stdout
    shown = run_cli(home, "pipelines", "show", run_id)
    assert "numbers" in shown.stdout and "done" in shown.stdout
    defined = run_cli(home, "pipelines", "show", "summed")
    assert "numbers" in defined.stdout and "Recent runs" in defined.stdout
    logs = run_cli(home, "pipelines", "logs", run_id, "numbers")
    assert "making 5 numbers" in logs.stdout


def test_a_failed_step_shows_its_traceback_and_inputs(tmp_path: Path) -> None:
    home, path = setup_home(tmp_path)
    done = run_cli(home, "pipelines", "run", f"{path}:summed", "-p", "fail=true", "--no-live", "-e", "local",
                   "--processes", "1", PYTHONPATH=str(ROOT))
    assert done.returncode == 1
    assert "RuntimeError: asked to fail" in done.stdout and "xs <- numbers" in done.stdout
    assert "PipelineFailed" in done.stderr
    with Client(Config(home=home)) as client:
        run_id = client.search_runs("summed", filter="tags.`shipyard.kind` = 'pipeline'").items[0].id
    shown = run_cli(home, "pipelines", "show", run_id)
    assert "step total failed" in shown.stdout and "raise RuntimeError" in shown.stdout
    assert "xs <- numbers" in shown.stdout


def test_schedule_then_the_scheduler_runs_it(tmp_path: Path) -> None:
    home, path = setup_home(tmp_path)
    assert run_cli(home, "run", str(path), "--no-live", "-e", "inline").returncode == 0
    # A daily fire two minutes ago (well inside the scheduler's 5-minute grace), the schedule
    # made a minute before it: exactly one fire is due now, and the next is a day away, so
    # however the two ticks below fall across minute boundaries, the outcome is the same.
    fire = (int(time.time()) // 60 - 2) * 60
    at = time.gmtime(fire)
    made = run_cli(home, "pipelines", "schedule", "summed", "--cron", f"{at.tm_min} {at.tm_hour} * * *",
                   "-e", "inline", "-p", "n=3")
    assert made.returncode == 0, made.stderr
    with Client(Config(home=home)) as client:
        experiment = client.get_experiment_by_name("summed")
        [key] = [k for k in experiment.tags if k.startswith("shipyard.schedule.")]
        schedule = json.loads(experiment.tags[key])
        schedule["created_at"] = (fire - 60) * 1000
        client.tracking_store.set_experiment_tag(experiment.id, key, json.dumps(schedule))
    ticked = run_cli(home, "scheduler", "--once")
    assert ticked.returncode == 0, ticked.stderr
    label = time.strftime("%Y-%m-%dT%H:%M:%SZ", at)
    assert f"{label}: ran (run " in ticked.stdout
    again = run_cli(home, "scheduler", "--once")
    assert again.returncode == 0 and ": ran" not in again.stdout and ": missed" not in again.stdout
    shown = run_cli(home, "pipelines", "show", "summed")
    assert schedule["id"] in shown.stdout and "FINISHED" in shown.stdout


RUNS_WHEN_IMPORTED = PIPELINE_FILE + """
print("imported")
result = summed.run({"n": 3}, executor="inline")
print(result.output)
"""


def _pipeline_runs(home: Path) -> list[object]:
    with Client(Config(home=home)) as client:
        if "summed" not in {e.name for e in client.list_experiments()}:
            return []
        return list(client.search_runs("summed", filter="tags.`shipyard.kind` = 'pipeline'").items)


def test_run_refuses_a_file_that_runs_its_pipeline_when_imported_before_running_any_of_it(tmp_path: Path) -> None:
    home, path = setup_home(tmp_path)
    path.write_text(RUNS_WHEN_IMPORTED)
    line = RUNS_WHEN_IMPORTED.splitlines().index('result = summed.run({"n": 3}, executor="inline")') + 1
    done = run_cli(home, "run", str(path), "--no-live")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert f"summed.py runs a pipeline when imported (line {line}: summed.run(...))" in done.stderr
    assert 'if __name__ == "__main__":' in done.stderr
    assert "imported" not in done.stdout and done.stdout == ""  # none of the file ran
    assert _pipeline_runs(home) == []


def test_run_refuses_a_pipeline_started_by_a_top_level_call_before_it_starts(tmp_path: Path) -> None:
    home, path = setup_home(tmp_path)
    source = PIPELINE_FILE + "\ndef main():\n    summed.run({'n': 3}, executor='inline')\n\nmain()\n"
    path.write_text(source)
    done = run_cli(home, "run", str(path), "--no-live", "-e", "inline")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert f"runs a pipeline when imported (line {len(source.splitlines())}: main())" in done.stderr
    assert _pipeline_runs(home) == []


def test_run_imports_a_file_whose_run_call_is_under_the_main_guard(tmp_path: Path) -> None:
    home, path = setup_home(tmp_path)
    path.write_text(PIPELINE_FILE + '\nif __name__ == "__main__":\n    print(summed.run({"n": 3}).output)\n')
    done = run_cli(home, "run", str(path), "--no-live", "--processes", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "FINISHED" in done.stdout and len(_pipeline_runs(home)) == 1


def _schedules(home: Path) -> list[str]:
    with Client(Config(home=home)) as client:
        return [k for e in client.list_experiments() for k in e.tags if k.startswith("shipyard.schedule.")]


def test_schedule_refuses_an_unknown_time_zone_naming_the_option_and_stores_nothing(tmp_path: Path) -> None:
    home, path = setup_home(tmp_path)
    done = run_cli(home, "pipelines", "schedule", "summed", "-f", str(path), "--cron", "0 3 * * *",
                   "--tz", "Mars/Base")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "--tz 'Mars/Base' is not a time zone" in done.stderr and "Traceback" not in done.stderr
    assert _schedules(home) == []
    made = run_cli(home, "pipelines", "schedule", "summed", "-f", str(path), "--cron", "0 3 * * *",
                   "--tz", "Europe/Berlin")
    assert made.returncode == 0 and "(Europe/Berlin)" in made.stdout, made.stderr


def test_schedule_refuses_an_unknown_dataset_naming_it_and_stores_nothing(tmp_path: Path) -> None:
    home, path = setup_home(tmp_path)
    done = run_cli(home, "pipelines", "schedule", "summed", "-f", str(path), "--on-dataset", "nosuch")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "NotFound" in done.stderr and "--on-dataset 'nosuch'" in done.stderr
    assert _schedules(home) == []


def test_schedule_help_says_what_version_param_does(tmp_path: Path) -> None:
    home, _ = setup_home(tmp_path)
    shown = " ".join(run_cli(home, "pipelines", "schedule", "--help").stdout.split())
    assert "pass the new dataset version (its number) to the pipeline as this parameter" in shown
