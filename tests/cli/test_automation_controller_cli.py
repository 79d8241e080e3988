"""``shipyard automation run|plan|trigger`` as real processes: a controller killed with SIGKILL
mid-retrain is resumed by the next one, and plan names what it cannot find."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from shipyard import Client, Config
from shipyard.automation import Controller
from shipyard.automation._retraining import pipeline_run_id
from shipyard.errors import NotFound
from tests.automation.ct_world import ct_policy, frame, make_ct_world
from tests.cli.test_cli import SHIPYARD, run_cli


@pytest.fixture
def home(tmp_path: Path) -> Path:
    with Client(Config(home=tmp_path)) as client:
        make_ct_world(client, tmp_path)
    return tmp_path


def apply(home: Path, **changes: object) -> None:
    with Client(Config(home=home)) as client:
        client.automation.apply_policy(ct_policy(home, **changes))


def run_of(home: Path, run_id: str) -> dict[str, object]:
    with Client(Config(home=home)) as client:
        return client.automation.get_run(run_id).to_json()


def loop(home: Path, log: Path, **env: str) -> subprocess.Popen[bytes]:
    """``shipyard automation run`` as a loop (short passes, a short lease, inline pipelines), its
    output to ``log``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    with log.open("wb") as out:
        return subprocess.Popen([SHIPYARD, "automation", "run", "--interval", "0.2", "--lease-ttl", "1",
                                 "--executor", "inline"], env={**clean, "SHIPYARD_HOME": str(home), **env},
                                cwd=home, stdout=out, stderr=subprocess.STDOUT)


def status(client: Client, run_id: str) -> str | None:
    try:
        return client.get_run(run_id).status.value
    except NotFound:
        return None


def wait_for(check: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"not reached in {timeout} s")


def test_a_controller_killed_mid_retrain_is_resumed_by_the_next_one(home: Path) -> None:
    apply(home, evaluation={"metrics": ["accuracy"], "data": "churn-holdout@latest", "bootstrap_samples": 200},
          guards={"cooldown": "1s", "require_approval": True})
    with Client(Config(home=home)) as client:
        run_id = client.automation.request_run("churn-ct", "new data").id
    slow = home / "slow"
    slow.write_text("60")  # the first attempt's data step hangs until the process dies
    first = loop(home, home / "first.log", CT_SLOW_FILE=str(slow))
    try:
        with Client(Config(home=home)) as client:
            wait_for(lambda: client.automation.get_run(run_id).state == "retraining", 20)
            wait_for(lambda: status(client, pipeline_run_id(run_id, 1)) == "RUNNING", 10)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    slow.unlink()
    with Client(Config(home=home)) as client:  # the restart: a controller that finds the dead one's work
        restarted = Controller(client, holder="restarted", lease_ttl_s=1, executor="inline")
        try:
            for _ in range(40):
                moved = restarted.tick()
                restarted.wait(30)
                if any(m.to_state == "evaluating" for m in moved):
                    break
                time.sleep(0.25)  # the dead controller's lease runs out
        finally:
            restarted.close()
        run = client.automation.get_run(run_id)
        assert run.state == "evaluating", (run.state, run.reason)
        retrain = run.evidence["retrain"]
        assert retrain["attempt"] == 2 and retrain["pipeline_run_id"] == pipeline_run_id(run_id, 2)
        dead = client.get_run(pipeline_run_id(run_id, 1))
        assert dead.status.value == "FAILED" and "is gone" in dead.tags["shipyard.schedule.error"]
        assert client.get_run(pipeline_run_id(run_id, 2)).status.value == "FINISHED"
        assert client.backend.automation.get_lease("churn-ct") is None  # type: ignore[attr-defined]


def test_run_once_moves_each_active_run_one_state_and_says_so(home: Path) -> None:
    apply(home)
    triggered = run_cli(home, "automation", "trigger", "churn-ct", "--reason", "by hand")
    assert triggered.returncode == 0, triggered.stderr
    run_id = triggered.stdout.split()[1]
    once = run_cli(home, "automation", "run", "--once", "--executor", "inline")
    assert once.returncode == 0, once.stderr
    assert once.stdout.strip() == f"churn-ct run {run_id}: triggered -> retraining"
    with Client(Config(home=home)) as client:
        run = client.automation.get_run(run_id)
        assert run.state == "retraining"  # one state per pass; the retrain it started was waited for
        assert status(client, run.evidence["retrain"]["pipeline_run_id"]) == "FINISHED"


def test_plan_says_what_would_happen_and_names_a_missing_model(home: Path) -> None:
    apply(home)
    with Client(Config(home=home)) as client:
        client.register_dataset("churn-holdout", frame(400, 9))
    shown = run_cli(home, "automation", "plan", "churn")
    assert shown.returncode == 0, shown.stderr
    assert "champion: version 1" in shown.stdout and "a run would start (dataset trigger" in shown.stdout
    missing = run_cli(home, "automation", "plan", "nope", "--json")
    assert missing.returncode != 0 and "model" in missing.stderr and "'nope' not found" in missing.stderr


def test_the_server_runs_the_controller_on_a_thread_and_stops_it_cleanly(home: Path) -> None:
    from tests.services import free_port

    apply(home)
    with Client(Config(home=home)) as client:
        run_id = client.automation.request_run("churn-ct", "served").id
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    with (home / "server.log").open("wb") as out:
        server = subprocess.Popen([SHIPYARD, "server", "--automation", "--port", str(free_port())],
                                  env={**clean, "SHIPYARD_HOME": str(home)}, cwd=home, stdout=out,
                                  stderr=subprocess.STDOUT)
    try:
        with Client(Config(home=home)) as client:
            wait_for(lambda: client.automation.get_run(run_id).state == "retraining", 60)  # its first pass
            assert client.backend.automation.get_lease("churn-ct") is not None  # type: ignore[attr-defined]
    finally:
        server.send_signal(signal.SIGINT)  # Ctrl-C: the server stops, then the controller, between passes
        server.wait(30)
    log = (home / "server.log").read_text()
    assert "automation   the continuous-training controller" in log
    with Client(Config(home=home)) as client:
        assert client.backend.automation.get_lease("churn-ct") is None  # type: ignore[attr-defined]
