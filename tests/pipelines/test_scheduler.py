"""Schedules fire once per due time (across restarts and racing schedulers), record misses, and
follow new dataset versions."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from shipyard import Client, Config
from shipyard.errors import InvalidInput
from shipyard.pipelines._records import load_run
from shipyard.pipelines._scheduler import Scheduler, dataset_versions
from shipyard.pipelines._schedules import Schedule, ScheduleBook

JAN_1 = int(dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)
HOUR = 3_600_000


class Launches:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def __call__(self, schedule: Schedule, run_id: str, params: dict[str, Any]) -> None:
        with self.lock:
            self.calls.append((schedule.id, run_id, params))


def nightly(**changes: Any) -> Schedule:
    return Schedule(**{"id": "nightly", "pipeline": "frames", "cron": "0 3 * * *", "created_at": JAN_1,
                       "executor": "inline", **changes})


def at(ms: int) -> Any:
    return lambda: ms / 1000


def test_a_bad_cron_expression_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not a cron expression"):
        nightly(cron="0 25 * * *")


def test_an_unknown_time_zone_is_refused_naming_it() -> None:
    with pytest.raises(InvalidInput, match="timezone 'Mars/Base' is not a time zone"):
        nightly(timezone="Mars/Base")
    assert nightly(timezone="Europe/Berlin").timezone == "Europe/Berlin"


def test_a_due_fire_runs_once_even_after_a_restart(client: Client) -> None:
    ScheduleBook(client).add(nightly())
    launches = Launches()
    first = Scheduler(client, launcher=launches, clock=at(JAN_1 + 3 * HOUR + 10_000))
    fires = first.tick()
    assert [(f.fire, f.outcome) for f in fires] == [("2026-01-01T03:00:00Z", "ran")]
    assert first.tick() == []
    restarted = Scheduler(client, launcher=launches, clock=at(JAN_1 + 3 * HOUR + 20_000))
    assert restarted.tick() == []
    assert [c[1] for c in launches.calls] == [fires[0].run_id]


def test_fires_slept_through_are_recorded_as_missed(client: Client) -> None:
    ScheduleBook(client).add(nightly())
    launches = Launches()
    fires = Scheduler(client, launcher=launches, clock=at(JAN_1 + 3 * 24 * HOUR + 4 * HOUR)).tick()
    assert [f.outcome for f in fires] == ["missed"] * 4  # the newest is an hour late: past the grace
    assert launches.calls == []
    run = client.get_run(fires[0].run_id)
    assert run.status.value == "KILLED" and run.tags["shipyard.schedule.outcome"] == "missed"


def test_a_fire_within_the_grace_period_runs_and_older_ones_are_missed(client: Client) -> None:
    ScheduleBook(client).add(nightly())
    launches = Launches()
    fires = Scheduler(client, launcher=launches, clock=at(JAN_1 + 24 * HOUR + 3 * HOUR + 60_000)).tick()
    assert [f.outcome for f in fires] == ["missed", "ran"]
    assert len(launches.calls) == 1


def test_two_schedulers_racing_claim_each_fire_once(db_url: str, tmp_path: Path) -> None:
    config = Config(home=tmp_path / "home", db=db_url)
    with Client(config) as setup:
        ScheduleBook(setup).add(nightly())
    launches, barrier = Launches(), threading.Barrier(2)

    def race() -> None:
        with Client(config) as client:
            scheduler = Scheduler(client, launcher=launches, clock=at(JAN_1 + 3 * HOUR + 5_000))
            scheduler.book.list()  # open the stores before the start line
            barrier.wait()
            scheduler.tick()

    threads = [threading.Thread(target=race) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(launches.calls) == 1


def test_a_new_dataset_version_triggers_one_run_with_the_version(client: Client) -> None:
    latest = {"churn": "1"}
    ScheduleBook(client).add(Schedule(id="on-churn", pipeline="frames", dataset="churn", baseline="1",
                                      version_param="n", params={"x": 1}))
    launches = Launches()
    scheduler = Scheduler(client, versions=latest.get, launcher=launches)
    assert scheduler.tick() == []
    latest["churn"] = "2"
    assert [f.fire for f in scheduler.tick()] == ["churn@2"]
    assert scheduler.tick() == [] and Scheduler(client, versions=latest.get, launcher=launches).tick() == []
    assert launches.calls[0][2] == {"x": 1, "n": "2"}


def test_dataset_versions_come_from_the_datasets_client(client: Client) -> None:
    source = dataset_versions(client)
    assert source is not None and source("churn") is None
    client.register_dataset("churn", pd.DataFrame({"a": [1]}))
    client.register_dataset("churn", pd.DataFrame({"a": [2]}))
    assert source("churn") == "2"


PIPELINE_FILE = """
from shipyard.pipelines import pipeline
from tests.pipelines import steps

@pipeline
def scheduled(n: int = 4):
    return steps.total(steps.split(n)[0])
"""


def test_the_default_launcher_runs_the_target_file_as_the_claimed_run(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "scheduled_pipeline.py"
    path.write_text(PIPELINE_FILE)
    ScheduleBook(client).add(nightly(pipeline="scheduled", target=f"{path}:scheduled", params={"n": 6}))
    scheduler = Scheduler(client, clock=at(JAN_1 + 3 * HOUR + 1_000))
    [fire] = scheduler.tick()
    scheduler.close()  # waits for the launched run
    record = load_run(client, fire.run_id)
    assert record.status == "FINISHED" and record.params == {"n": "6"}
    assert [s.state for s in record.steps] == ["done", "done"]
    assert record.tags["shipyard.schedule"] == "nightly"


CLAIMER = """
import sys, time
from pathlib import Path
from shipyard import Client, Config
from shipyard.pipelines._scheduler import Scheduler

client = Client(Config(home=Path(sys.argv[1])))
scheduler = Scheduler(client, launcher=lambda *args: None, clock=lambda: float(sys.argv[2]))
print(scheduler.tick()[0].run_id, flush=True)
time.sleep(600)  # "running" the claimed run until killed
"""


def test_a_run_whose_scheduler_was_killed_is_failed_by_the_next_scheduler(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    home = tmp_path / "home"
    now = JAN_1 + 3 * HOUR + 5_000
    with Client(Config(home=home)) as client:
        ScheduleBook(client).add(nightly())
    crashed = subprocess.Popen([sys.executable, "-c", CLAIMER, str(home), str(now / 1000)],
                               stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2])
    try:
        run_id = crashed.stdout.readline().strip()  # type: ignore[union-attr]
    finally:
        os.kill(crashed.pid, signal.SIGKILL)
        crashed.wait(timeout=30)
        crashed.stdout.close()  # type: ignore[union-attr]
    with Client(Config(home=home)) as client:
        claimed = client.get_run(run_id)
        assert claimed.status.value == "RUNNING"
        assert claimed.tags["shipyard.scheduler.owner"].endswith(f":{crashed.pid}")
        launches = Launches()
        fires = Scheduler(client, launcher=launches, clock=at(now + 1_000)).tick()
        assert [(f.run_id, f.outcome) for f in fires] == [(run_id, "abandoned")]
        failed = client.get_run(run_id)
        assert failed.status.value == "FAILED" and failed.end_time is not None
        assert failed.tags["shipyard.schedule.outcome"] == "abandoned"
        assert f"process {crashed.pid}" in failed.tags["shipyard.schedule.error"]
        assert launches.calls == []  # the fire stays claimed: it is not run again


def test_a_silent_scheduler_elsewhere_loses_its_run_only_once_stale(client: Client) -> None:
    ScheduleBook(client).add(nightly())
    claimed_at = JAN_1 + 3 * HOUR + 1_000
    run_id = ScheduleBook(client).claim(nightly(), "cron:1", owner="another-host:4242", heartbeat_ms=claimed_at)
    assert run_id is not None
    fresh = Scheduler(client, launcher=Launches(), clock=at(claimed_at + 299_000), stale_s=300)
    assert [f.outcome for f in fresh.tick()] == ["ran"]  # the due fire; the silent claim is not stale yet
    assert client.get_run(run_id).status.value == "RUNNING"
    later = Scheduler(client, launcher=Launches(), clock=at(claimed_at + 301_000), stale_s=300)
    assert [(f.run_id, f.outcome) for f in later.tick() if f.outcome == "abandoned"] == [(run_id, "abandoned")]
    failed = client.get_run(run_id)
    assert failed.status.value == "FAILED" and "another-host:4242" in failed.tags["shipyard.schedule.error"]


def test_a_running_scheduled_run_keeps_a_heartbeat_and_is_left_alone(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "slow_pipeline.py"
    path.write_text(SLOW_FILE)
    ScheduleBook(client).add(nightly(pipeline="slow", target=f"{path}:slow"))
    now = [JAN_1 + 3 * HOUR + 1_000]
    scheduler = Scheduler(client, clock=lambda: now[0] / 1000, heartbeat_s=0.1, stale_s=60)
    [fire] = scheduler.tick()
    try:
        for _ in range(50):  # the 1.5 s step gives the 0.1 s heartbeat time to beat
            if client.get_run(fire.run_id).tags["shipyard.scheduler.heartbeat"] != str(JAN_1 + 3 * HOUR + 1_000):
                break
            now[0] += 1_000
            time.sleep(0.1)
        else:
            pytest.fail("no heartbeat while the run went on")
        # Another scheduler (another owner) sees a live heartbeat and leaves the run alone.
        other = Scheduler(client, launcher=Launches(), clock=lambda: now[0] / 1000, stale_s=60)
        other.owner = "another-host:1"
        assert other.recover() == []
    finally:
        scheduler.close()
    assert client.get_run(fire.run_id).status.value == "FINISHED"


SLOW_FILE = """
from shipyard.pipelines import pipeline
from tests.pipelines import steps

@pipeline
def slow(seconds: float = 1.5):
    return steps.sleep_for(seconds)
"""
