"""Several processes that resume one run with ``start_run(run_id=...)`` keep each other's data."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from shipyard import Client, Config, RunStatus

WORKERS, POINTS = 4, 4_000

# Each worker logs half its points, waits until every worker has, then (worker 0 first,
# the others later and later) logs the other half and exits: ending the run at the end
# of a ``with`` block, or ("exit") just exiting with the resumed run still active.
RESUMING = """
    import os, sys, time, shipyard
    run_id, worker, ready, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    workers, points = int(sys.argv[5]), int(sys.argv[6])

    def work():
        for i in range(points):
            if i == points // 2:
                shipyard.get_client().flush()
                open(os.path.join(ready, str(worker)), "w").close()
                while len(os.listdir(ready)) < workers:
                    time.sleep(0.01)
                time.sleep(0.5 * worker)  # staggered: worker 0 ends first
            shipyard.log_metric("points", float(i), step=worker * points + i)

    if mode == "with":
        with shipyard.start_run(run_id=run_id):
            work()
    else:
        shipyard.start_run(run_id=run_id)
        work()
"""


@pytest.mark.parametrize("mode", ["with", "exit"])
@pytest.mark.slow  # starts four worker processes
def test_processes_sharing_a_resumed_run_all_keep_their_points(tmp_path: Path, sqlite_url: str, mode: str) -> None:
    config = Config(home=tmp_path / "home", db=sqlite_url, flush_interval=0.2)
    client = Client(config)
    run = client.create_run("shared")
    ready = tmp_path / "ready"
    ready.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    env |= {"SHIPYARD_HOME": str(config.home), "SHIPYARD_DB": sqlite_url, "SHIPYARD_FLUSH_INTERVAL": "0.2"}
    workers = [
        subprocess.Popen([sys.executable, "-c", textwrap.dedent(RESUMING), run.id, str(w), str(ready), mode,
                          str(WORKERS), str(POINTS)], env=env)
        for w in range(WORKERS)
    ]
    assert [w.wait(timeout=120) for w in workers] == [0] * WORKERS
    steps = sorted(m.step for m in client.get_metric_history(run.id, "points"))
    assert steps == list(range(WORKERS * POINTS))
    # A ``with`` block ends the run as MLflow's does; a resumed run is not ended by merely exiting.
    expected = RunStatus.FINISHED if mode == "with" else RunStatus.RUNNING
    assert client.get_run(run.id).status is expected
    client.close()

