"""A search whose process is SIGKILLed mid-way resumes from the study in the metadata database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shipyard import Client, Config
from shipyard.tuning import tune
from tests.tuning import objectives
from tests.tuning.test_search import BOWL

ROOT = Path(__file__).resolve().parents[2]

SEARCH = """
import shipyard
from tests.tuning import objectives
from tests.tuning.test_search import BOWL
shipyard.tune(objectives.slow_bowl, BOWL, n_trials=20, seed=4, name="interrupted", experiment="resume")
"""


def test_a_search_killed_mid_way_resumes_where_it_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home, marks, log = tmp_path / "home", tmp_path / "marks.txt", tmp_path / "search.log"
    marks.touch()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    env |= {"SHIPYARD_HOME": str(home), "PYTHONPATH": str(ROOT), "TUNING_MARKS": str(marks)}
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", SEARCH], env=env, cwd=ROOT, start_new_session=True,
                                stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while len(marks.read_text().split()) < 6:
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the search never got going"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    before = len(marks.read_text().split())
    assert before < 20

    monkeypatch.setenv("TUNING_MARKS", str(marks))
    with Client(Config(home=home, system_metrics=False)) as client:
        result = tune(objectives.slow_bowl, BOWL, n_trials=20, seed=4, name="interrupted",
                      experiment="resume", client=client)
        runs = client.search_runs("resume", filter=f"tags.`shipyard.tuning.search` = '{result.run_id}'").items
        searches = client.search_runs("resume", filter="tags.`shipyard.kind` = 'search'").items
    assert [s.id for s in searches] == [result.run_id]  # the same search run, resumed
    assert sorted(int(r.tags["shipyard.tuning.trial"]) for r in runs) == list(range(20))
    assert result.n_trials == 20
    # Every trial ran once, except one the kill may have caught half-way: it is FAILED, not rerun.
    interrupted = [r for r in runs if r.tags.get("shipyard.tuning.error", "").startswith("SearchInterrupted")]
    assert len(interrupted) <= 1 and result.failed == len(interrupted)
    assert result.complete == 20 - len(interrupted)
    ran = [int(n) for n in marks.read_text().split()]
    assert len(ran) == len(set(ran))  # no trial ran twice
    complete = {int(r.tags["shipyard.tuning.trial"]) for r in runs if r.status.value == "FINISHED"}
    assert complete <= set(ran) and len(complete) == result.complete
