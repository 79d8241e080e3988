"""The Ray executor on a real two-node cluster on this machine (``ray start --head`` + ``--address``)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.errors import MissingExtra
from shipyard.pipelines import StepState, pipeline
from tests.pipelines import steps
from tests.ray_nodes import RayNodes, two_ray_nodes

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.xdist_group("ray")  # one cluster at a time on a two-core machine

ROOT = Path(__file__).resolve().parents[2]

# Ray replaces 127.0.0.1 with the machine's network address; other loopback addresses it
# keeps, so the whole cluster stays on loopback.
HEAD_IP, WORKER_IP = "127.0.0.2", "127.0.0.3"


@pytest.fixture(scope="module")
def cluster() -> Iterator[RayNodes]:
    with two_ray_nodes(HEAD_IP, WORKER_IP, client_server=True) as nodes:
        yield nodes


@pytest.fixture
def two_nodes(cluster: RayNodes) -> RayNodes:
    if cluster.worker is None:  # a test before killed it
        cluster.add_worker()
    return cluster


# The node-loss test is last: the cluster it leaves has one node.


@pipeline
def fan_out(n: int = 4, seconds: float = 1.0):
    return [steps.burn(seconds, i) for i in range(n)]


def test_steps_run_as_ray_tasks_on_both_nodes(two_nodes: RayNodes, tmp_path: Path) -> None:
    result = fan_out.run({"n": 4, "seconds": 1.0}, executor="ray", artifacts=str(tmp_path))
    assert result.status == "FINISHED" and len(result.output) == 4
    hosts = {s.result.host for s in result.steps.values()}  # type: ignore[union-attr]
    assert hosts == {f"ray:{node}" for node in two_nodes.alive_nodes()}


def test_artifacts_pass_between_steps_on_different_nodes(two_nodes: RayNodes, tmp_path: Path) -> None:
    result = steps.frames.run({"n": 6}, executor="ray", artifacts=str(tmp_path))
    assert result.output == float(sum(range(6)) * 3)


def test_executor_names_pick_the_ray_address() -> None:
    from shipyard.pipelines import executor_from_spec

    executor, owned = executor_from_spec("ray://head:10001")
    assert owned and executor.address == "ray://head:10001"  # type: ignore[attr-defined]
    assert executor_from_spec("ray:10.0.0.5:6379")[0].address == "10.0.0.5:6379"  # type: ignore[attr-defined]
    assert executor_from_spec("ray")[0].address is None  # type: ignore[attr-defined]


def test_without_ray_asking_for_it_names_the_pip_install() -> None:
    probe = ("import sys; sys.modules['ray'] = None\n"
             "from shipyard.pipelines import executor_from_spec\n"
             "try:\n    executor_from_spec('ray')\nexcept Exception as e:\n    print(type(e).__name__, e)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert "MissingExtra 'ray' is not installed; run: pip install 'shipyard[ray]'" in done.stdout
    assert MissingExtra.__name__ == "MissingExtra"


CLIENT_PIPELINE = """
from shipyard.pipelines import pipeline
from tests.pipelines import steps

@pipeline
def through_client(n: int = 4, seconds: float = 1.0):
    return [steps.burn(seconds, i) for i in range(n)]
"""


def test_a_ray_client_address_runs_the_pipeline_on_the_cluster(two_nodes: RayNodes, tmp_path: Path) -> None:
    from shipyard import Client, Config

    home = tmp_path / "home"
    home.mkdir()
    (home / "through_client.py").write_text(CLIENT_PIPELINE)
    address = f"ray://{HEAD_IP}:{two_nodes.client_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIPYARD_", "RAY_ADDRESS"))}
    env |= {"SHIPYARD_HOME": str(home), "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0"}
    # A fresh process: this one is already a direct driver of the cluster.
    done = subprocess.run([str(Path(sys.executable).with_name("shipyard")), "run", "through_client.py",
                           "--no-live", "--executor", address], cwd=home, env=env, capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    with Client(Config(home=home)) as client:
        runs = client.search_runs("through_client", filter="tags.`shipyard.kind` = 'step'").items
        pipeline_run = client.search_runs("through_client", filter="tags.`shipyard.kind` = 'pipeline'").items[0]
    assert len(runs) == 4 and {r.status.value for r in runs} == {"FINISHED"}
    assert pipeline_run.tags["shipyard.executor"] == "ray"
    assert {r.tags["shipyard.host"] for r in runs} == {f"ray:{node}" for node in two_nodes.alive_nodes()}


def test_a_lost_node_has_its_steps_rerun_on_the_remaining_node(two_nodes: RayNodes, tmp_path: Path) -> None:
    import threading

    def kill_when_running() -> None:
        time.sleep(3.0)  # both nodes are busy with a 6 s step by now
        two_nodes.kill_worker()

    killer = threading.Thread(target=kill_when_running)
    killer.start()
    result = fan_out.run({"n": 2, "seconds": 6.0}, executor="ray", artifacts=str(tmp_path))
    killer.join()
    assert all(s.state is StepState.DONE for s in result.steps.values())
    retried = [s for s in result.steps.values() if s.attempt > 1]
    assert len(retried) == 1 and retried[0].errors[0].type == "WorkerLost"
    head = ray.get_runtime_context().get_node_id()  # the driver's node
    assert {s.result.host for s in result.steps.values()} == {f"ray:{head}"}  # type: ignore[union-attr]
