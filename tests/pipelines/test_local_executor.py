"""Faults on the local executor: retries, failures, killed workers, timeouts, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from shipyard import Client, Config
from shipyard.pipelines import LocalExecutor, PipelineFailed, StepState, pipeline
from tests.pipelines import steps

ROOT = Path(__file__).resolve().parents[2]


def test_independent_steps_run_in_parallel_processes(local: LocalExecutor, tmp_path: Path) -> None:
    @pipeline
    def pair():
        return steps.sleep_for(1.0, 1), steps.sleep_for(1.0, 2)

    result = pair.run(executor=local, artifacts=str(tmp_path))
    spans = [(s.result.started_at, s.result.started_at + s.result.duration_s)  # type: ignore[union-attr]
             for s in result.steps.values()]
    assert max(a for a, _ in spans) < min(b for _, b in spans) - 0.5, f"the steps did not overlap: {spans}"
    assert len({s.result.host for s in result.steps.values()}) == 2  # type: ignore[union-attr]


def test_a_failing_step_is_retried_with_backoff_then_succeeds(local: LocalExecutor, tmp_path: Path) -> None:
    @pipeline
    def retried(marker: str):
        return steps.flaky(marker, 2)

    result = retried.run({"marker": str(tmp_path / "m")}, executor=local, artifacts=str(tmp_path))
    status = result.steps["flaky"]
    assert (status.state, status.attempt, result.output) == (StepState.DONE, 3, 3)
    assert [e.message for e in status.errors] == ["flaky failure 1", "flaky failure 2"]


def test_a_step_that_keeps_failing_fails_the_run_and_nothing_downstream_runs(
        local: LocalExecutor, client: Client, tmp_path: Path) -> None:
    log = tmp_path / "log"
    with pytest.raises(PipelineFailed) as info:
        steps.chain.run({"log": str(log), "fail_at": 3}, client=client, executor=local)
    error = info.value
    assert error.step == "always_fails" and error.error_type == "ValueError"  # type: ignore[attr-defined]
    assert "raise ValueError(f\"bad input {x}\")" in error.traceback  # type: ignore[attr-defined]
    assert log.read_text().split() == ["1", "2"]  # the last record never ran
    run = client.get_run(error.run_id)  # type: ignore[attr-defined]
    assert run.status.value == "FAILED"
    record = json.loads(run.tags["shipyard.step.always_fails"])
    assert (record["state"], record["attempt"]) == ("failed", 2)
    assert json.loads(run.tags["shipyard.step.record_3"])["state"] == "skipped"
    failed = client.get_run(record["run_id"])
    assert failed.status.value == "FAILED"
    paths = {a.path for a in client.list_artifacts(failed.id)}
    assert {"traceback.txt", "inputs/x.json"} <= paths
    text = b"".join(client.tracking_store.open_artifact(failed.id, "traceback.txt")).decode()
    assert text.count("--- attempt") == 2 and "ValueError: bad input 2" in text  # both attempts


def test_a_worker_killed_mid_step_is_detected_and_the_step_retried(local: LocalExecutor, tmp_path: Path) -> None:
    @pipeline
    def fragile(marker: str):
        return steps.die_once(marker)

    result = fragile.run({"marker": str(tmp_path / "m")}, executor=local, artifacts=str(tmp_path))
    status = result.steps["die_once"]
    assert (status.state, status.attempt, result.output) == (StepState.DONE, 2, 7)
    assert status.errors[0].type == "WorkerLost" and "exit code -9" in status.errors[0].message


def test_a_step_past_its_timeout_fails(local: LocalExecutor, tmp_path: Path) -> None:
    @pipeline
    def slow():
        return steps.too_slow(5.0)

    started = time.perf_counter()
    with pytest.raises(PipelineFailed) as info:
        slow.run(executor=local, artifacts=str(tmp_path))
    assert info.value.error_type == "StepTimeout"  # type: ignore[attr-defined]
    assert time.perf_counter() - started < 3


INTERRUPTED = """
import sys
from pathlib import Path
from shipyard import Client, Config
from shipyard.pipelines import pipeline
from tests.pipelines import steps

@pipeline
def long(log: str, started: str):
    first = steps.record(log, 1)
    return steps.record(log, steps.sleep_for(steps.add(first, 30.0), steps.record(started, 2)))

if __name__ == "__main__":
    client = Client(Config(home=Path(sys.argv[1])))
    long.run({"log": sys.argv[2], "started": sys.argv[3]}, client=client, executor="local")
"""


def test_ctrl_c_marks_the_run_failed_and_keeps_completed_steps_cached(tmp_path: Path) -> None:
    script = tmp_path / "interrupted.py"
    script.write_text(textwrap.dedent(INTERRUPTED))
    home, log, started = tmp_path / "home", tmp_path / "log", tmp_path / "started"
    proc = subprocess.Popen([sys.executable, str(script), str(home), str(log), str(started)], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not started.exists():  # the 30 s step starts right after this one
        if proc.poll() is not None:
            pytest.fail(proc.communicate()[1])
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    try:
        _, stderr = proc.communicate(timeout=60)
    finally:  # a run that outlived the interrupt must not outlive the test
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        proc.stderr.close()  # type: ignore[union-attr]
    assert proc.returncode != 0 and "KeyboardInterrupt" in stderr
    with Client(Config(home=home)) as client:
        run = client.search_runs("long", filter="tags.`shipyard.kind` = 'pipeline'").items[0]
        assert run.status.value == "FAILED"
        states = {k.removeprefix("shipyard.step."): json.loads(v)["state"]
                  for k, v in run.tags.items() if k.startswith("shipyard.step.")}
        assert states["record"] == "done" and states["sleep_for"] == "cancelled"
        tags = client.get_experiment(run.experiment_id).tags
        cached = {key for k, v in tags.items() if k.startswith("shipyard.cache.") for key in json.loads(v)}
        assert len(cached) == 3  # record, add, record_2 (into "started")


def _readme_pipeline() -> str:
    from tests.test_readme import readme_snippets

    (code,) = [s for s in readme_snippets() if "@shipyard.pipeline" in s]
    return code


def _run_script(folder: Path, code: str) -> subprocess.CompletedProcess[str]:
    (folder / "train.py").write_text(code)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    return subprocess.run([sys.executable, "train.py"], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=120)


def test_the_readme_pipeline_runs_as_a_script_without_the_main_guard(tmp_path: Path) -> None:
    code = _readme_pipeline()
    assert "__main__" not in code
    done = _run_script(tmp_path, code)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout.split()[-1]) > 0
    with Client(Config(home=tmp_path / ".shipyard")) as client:
        run = client.search_runs("train", filter="tags.`shipyard.kind` = 'pipeline'").items[0]
        assert run.status.value == "FINISHED"


WORKER_PIDS = """
import os
from shipyard.pipelines import LocalExecutor, pipeline, step

@step
def pid(i: int) -> int:
    return os.getpid()

@pipeline
def pids():
    return pid(1), pid(2)

{run}
"""
UNGUARDED = """executor = LocalExecutor(2)
result = pids.run(executor=executor, artifacts="store")
print(executor.start_method, len(set(result.output) - {os.getpid()}))
executor.finalize()
"""


@pytest.mark.parametrize(("run", "method"), [
    (UNGUARDED, "fork" if sys.platform.startswith("linux") else "thread"),
    ('if __name__ == "__main__":\n' + textwrap.indent(UNGUARDED, "    "), LocalExecutor().start_method),
    (UNGUARDED.replace("LocalExecutor(2)", "LocalExecutor(2, start_method='thread')"), "thread"),
], ids=["unguarded", "guarded", "asked-for"])
def test_only_a_script_without_the_main_guard_changes_how_workers_start(tmp_path: Path, run: str, method: str) -> None:
    done = _run_script(tmp_path, WORKER_PIDS.format(run=run))
    assert done.returncode == 0, done.stderr
    started, workers = done.stdout.split()
    assert started == method
    assert (int(workers) > 0) == (method != "thread")  # the steps ran in worker processes, or in the script's


def test_an_unknown_start_method_is_refused_naming_the_parameter() -> None:
    from shipyard.errors import InvalidInput

    with pytest.raises(InvalidInput, match="'start_method' parameter of LocalExecutor") as info:
        LocalExecutor(start_method="threads")
    assert info.value.field == "start_method"  # type: ignore[attr-defined]
