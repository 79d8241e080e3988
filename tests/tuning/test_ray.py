"""The same search as Ray tasks on a real two-node cluster on this machine (``ray start`` on loopback)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard import Client
from shipyard.tuning import tune
from tests.services import free_port
from tests.tuning import objectives
from tests.tuning.test_search import BOWL

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.xdist_group("ray")  # one cluster at a time on a two-core machine

RAY = str(Path(sys.executable).with_name("ray"))
ROOT = Path(__file__).resolve().parents[2]
# Ray replaces 127.0.0.1 with the machine's address; other loopback addresses it keeps.
HEAD_IP, WORKER_IP = "127.0.0.4", "127.0.0.5"


def _start(ip: str, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    cmd = [RAY, "start", "--block", "--num-cpus=1", f"--node-ip-address={ip}", "--object-store-memory=100000000",
           "--disable-usage-stats", *args]
    return subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[list[str]]:
    """A head and a second node, one CPU each; this process is the driver. Yields the node ids."""
    port = free_port()
    temp = tempfile.mkdtemp(prefix="sy-tune-", dir="/tmp")  # Ray's socket paths must stay short
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(ROOT)}
    procs = [_start(HEAD_IP, env, "--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={temp}")]
    try:
        deadline = time.monotonic() + 120  # a busy machine starts Ray slowly
        while True:
            try:
                ray.init(address=f"{HEAD_IP}:{port}", _node_ip_address=HEAD_IP, logging_level="ERROR",
                         log_to_driver=False)
                break
            except (ConnectionError, RuntimeError):
                assert time.monotonic() < deadline, "the Ray head did not start"
                time.sleep(0.5)
        procs.append(_start(WORKER_IP, env, f"--address={HEAD_IP}:{port}"))
        while len([n for n in ray.nodes() if n["Alive"]]) < 2:
            assert time.monotonic() < deadline, "the second node did not join"
            time.sleep(0.2)
        yield [n["NodeID"] for n in ray.nodes() if n["Alive"]]
    finally:
        ray.shutdown()
        for proc in reversed(procs):
            _stop(proc)


def test_the_same_search_runs_as_ray_tasks_on_both_nodes(two_nodes: list[str], client: Client) -> None:
    started = time.monotonic()
    on_ray = tune(objectives.where_it_ran, BOWL, n_trials=8, sampler="random", seed=11, executor="ray",
                  name="on-ray", client=client)
    took = time.monotonic() - started
    local = tune(objectives.bowl_objective, BOWL, n_trials=8, sampler="random", seed=11, name="here", client=client)
    runs = client.search_runs(filter=f"tags.`shipyard.tuning.search` = '{on_ray.run_id}'").items
    assert len(runs) == 8 and {r.status.value for r in runs} == {"FINISHED"}
    assert {r.tags["shipyard.host"] for r in runs} == {f"ray:{node}" for node in two_nodes}
    assert all(client.get_metric_history(r.id, "intermediate/objective") for r in runs)
    # A random sampler draws the same points wherever trials run: the same best trial.
    assert (on_ray.best_trial, on_ray.best_params, on_ray.best_value) == \
        (local.best_trial, local.best_params, local.best_value)
    assert took < 60
