"""Continuous training end to end: real ``shipyard serve``, ``scheduler`` and ``automation run`` processes.

A champion trained on regime 1 serves a stream whose concept drifts; delayed labels come
back through ``/v1/feedback``; the scheduler runs the monitor; the controller, with no
person, must notice, retrain on the recent labelled window, canary and promote — or,
when the retrain is broken, keep the champion — and a SIGKILLed controller must leave
one run that a restarted controller ends cleanly. No request may fail throughout.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard import Client, Config
from shipyard.automation import TERMINAL
from shipyard.registry import TRAFFIC_TAG
from shipyard.testing.closed_loop import FEATURES, DriftingStream, train_model
from shipyard.testing.closed_loop_pipeline import MODEL
from shipyard.testing.closed_loop_traffic import TrafficDriver
from shipyard.testing.closed_loop_world import (
    LoopSettings,
    Processes,
    apply_policy,
    prepare_home,
    runs_of,
    wait_for_run,
)

pytestmark = pytest.mark.slow

RATE = 150.0  # requests per second: what two busy cores sustain with room for the rest
TIMEOUT = 420.0  # seconds for a run to end: generous, for a machine shared with other work
STREAM = DriftingStream(n=100_000, seed=7, drift_at=0.02)  # 2,000 regime-1 events (13 s), then regime 2


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("closed-loop") / "home"
    prepare_home(home, STREAM)
    return home


@pytest.fixture
def home(template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "home"
    shutil.copytree(template, target)
    return target


def _alive(procs: Processes) -> Callable[[], None]:
    def check() -> None:
        for name, process in procs.procs.items():
            if process.poll() is not None:
                raise AssertionError(f"{name} exited with {process.returncode}: {procs.log(name)[-3000:]}")
    return check


def _start(procs: Processes, frame: pd.DataFrame) -> TrafficDriver:
    """Serve, scheduler and controller started; traffic under way (labels 100 events late)."""
    procs.serve()
    procs.scheduler()
    procs.controller()
    procs.wait_ready()
    traffic = TrafficDriver(procs.url, frame, threads=6, rate=RATE, label_delay=100)
    traffic.start()
    return traffic


def _stores(home: Path) -> tuple[int, str | None, list[str]]:
    """``@production``'s version, the traffic split (None: cleared), and the model's aliases."""
    with Client(Config(home=home)) as client:
        production = client.get_model_version_by_alias(MODEL, "production").version
        model = client.registry_store.get_registered_model(MODEL)
        return production, model.tags.get(TRAFFIC_TAG), sorted(model.aliases)


def test_a_drifted_model_is_retrained_canaried_and_promoted_with_no_person_and_accuracy_recovers(
        home: Path) -> None:
    # Retrain on rows all served after the drift: three low windows (12 s, about 1,800 rows at
    # RATE, about 1,100 if the machine slows it to 90/s) come before the trigger, so the newest
    # 1,000 labelled rows are all regime 2. With 1,500 and two windows, a quick detection on a
    # quiet machine trained the challenger on a mix and cost it five points of accuracy.
    settings = LoopSettings(for_windows=3, recent_rows=1_000)
    apply_policy(home, settings)
    frame = STREAM.frame()
    with Processes(home, settings) as procs:
        traffic = _start(procs, frame)
        run = wait_for_run(home, TERMINAL, timeout=TIMEOUT, alive=_alive(procs))
        traffic.finish_after(int(12 * RATE))  # regime 2 served by the new champion for a while
        traffic.wait()
    assert run.state == "promoted", (run.reason, dict(run.evidence), procs.log("controller")[-3000:])
    assert [r.id for r in runs_of(home)] == [run.id]
    challenger = int(run.evidence["challenger_version"])
    production, split, aliases = _stores(home)
    assert (production, split) == (challenger, None) and "challenger" not in aliases
    assert traffic.failed == 0, traffic.errors[:5]
    assert traffic.label_failures == 0, traffic.errors[:5]

    records = traffic.records()
    drifted = records[records["event"] >= STREAM.drift_index]
    assert drifted["sent_at"].min() * 1000 < run.started_at  # the run began after the drift, on its own
    settled = drifted[drifted["sent_at"] > run.ended_at / 1000 + 2 * settings.serve_poll_s + 1]
    assert len(settled) > 1000 and set(settled["version"]) == {challenger}
    direct = train_model(STREAM.regime_sample(2, 3000, seed=13))  # a model trained on regime 2 directly
    direct_accuracy = float(np.mean(direct.predict(frame.loc[settled["event"], list(FEATURES)])
                                    == settled["label"].to_numpy()))
    served_accuracy = float(settled["correct"].mean())
    assert served_accuracy >= direct_accuracy - 0.02, (served_accuracy, direct_accuracy)


def test_a_broken_retrain_never_replaces_the_champion_and_no_request_fails(home: Path) -> None:
    settings = LoopSettings(flip_labels=True)
    apply_policy(home, settings)
    frame = STREAM.frame()
    with Processes(home, settings) as procs:
        traffic = _start(procs, frame)
        run = wait_for_run(home, TERMINAL, timeout=TIMEOUT, alive=_alive(procs))
        traffic.finish_after(int(5 * RATE))
        traffic.wait()
    assert run.state in ("rejected", "rolled_back"), (run.state, dict(run.evidence))
    production, split, aliases = _stores(home)
    assert (production, split) == (1, None) and "challenger" not in aliases
    records = traffic.records()
    late = records[records["sent_at"] > run.ended_at / 1000 + 2 * settings.serve_poll_s + 1]
    assert len(late) > 0 and set(late["version"]) == {1}  # the champion still serves
    assert traffic.failed == 0, traffic.errors[:5]


def test_a_controller_killed_during_the_canary_is_resumed_and_ends_the_run_cleanly(home: Path) -> None:
    settings = LoopSettings(canary_labelled=400)
    apply_policy(home, settings)
    frame = STREAM.frame()
    with Processes(home, settings) as procs:
        traffic = _start(procs, frame)
        wait_for_run(home, {"canary", *TERMINAL}, timeout=TIMEOUT, alive=_alive(procs))
        procs.kill("controller")
        stranded = runs_of(home)
        assert [r.state for r in stranded] == ["canary"], [r.state for r in stranded]
        procs.controller("controller-2")
        run = wait_for_run(home, TERMINAL, timeout=TIMEOUT, alive=_alive(procs))
        traffic.finish_after(int(5 * RATE))
        traffic.wait()
    assert [r.id for r in runs_of(home)] == [stranded[0].id] == [run.id]
    assert run.state in ("promoted", "rolled_back"), (run.state, run.reason)
    production, split, aliases = _stores(home)
    expected = int(run.evidence["challenger_version"]) if run.state == "promoted" else 1
    assert (production, split) == (expected, None) and "challenger" not in aliases
    assert traffic.failed == 0, traffic.errors[:5]
