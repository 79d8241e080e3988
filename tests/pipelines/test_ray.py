"""The Ray executor on a real two-node cluster on this machine (``ray start --head`` + ``--address``)."""

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

from shipyard.errors import MissingExtra
from shipyard.pipelines import StepState, pipeline
from tests.pipelines import steps
from tests.services import free_port

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.xdist_group("ray")  # one cluster at a time on a two-core machine

RAY = str(Path(sys.executable).with_name("ray"))
ROOT = Path(__file__).resolve().parents[2]


# Ray replaces 127.0.0.1 with the machine's network address; other loopback addresses it
# keeps, so the whole cluster stays on loopback.
HEAD_IP, WORKER_IP = "127.0.0.2", "127.0.0.3"


class Cluster:
    """A head node and a worker node, each `ray start --block` in its own process group."""

    def __init__(self) -> None:
        self.port = free_port()
        self.client_port = free_port()  # the Ray Client server, for ray://host:port
        # Short: Ray's unix socket paths must stay under 107 characters.
        self.temp = tempfile.mkdtemp(prefix="sy-ray-", dir="/tmp")
        # Ray Client's proxy starts a server process per client; with gRPC's fork handlers on,
        # that process sometimes dies at start (ray-project/ray#63202). It execs at once, so
        # it needs none of them.
        self.env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(ROOT),
                    "GRPC_ENABLE_FORK_SUPPORT": "false"}
        self.head = self._start(HEAD_IP, "--head", f"--port={self.port}", "--include-dashboard=false",
                                f"--ray-client-server-port={self.client_port}", f"--temp-dir={self.temp}")
        self.worker: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"{HEAD_IP}:{self.port}"

    def _start(self, ip: str, *args: str) -> subprocess.Popen[bytes]:
        cmd = [RAY, "start", "--block", "--num-cpus=1", f"--node-ip-address={ip}",
               "--object-store-memory=100000000", "--disable-usage-stats", *args]
        return subprocess.Popen(cmd, env=self.env, start_new_session=True, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

    def add_worker(self) -> None:
        self.worker = self._start(WORKER_IP, f"--address={self.address}")

    def kill_worker(self) -> None:
        if self.worker is not None:
            os.killpg(self.worker.pid, signal.SIGKILL)
            self.worker.wait(timeout=10)
            self.worker = None

    def alive_nodes(self) -> list[str]:
        return [n["NodeID"] for n in ray.nodes() if n["Alive"]]

    def wait_nodes(self, count: int, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while len(self.alive_nodes()) != count:
            assert time.monotonic() < deadline, f"{len(self.alive_nodes())} nodes alive, waited for {count}"
            time.sleep(0.2)

    def stop(self) -> None:
        for proc in (self.worker, self.head):
            if proc is None:
                continue
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    c = Cluster()
    try:
        deadline = time.monotonic() + 90
        while True:  # the head is up once a driver can connect
            try:
                ray.init(address=c.address, _node_ip_address=HEAD_IP, logging_level="ERROR", log_to_driver=False)
                break
            except (ConnectionError, RuntimeError):
                assert time.monotonic() < deadline, "the Ray head did not start"
                time.sleep(0.5)
        c.add_worker()
        c.wait_nodes(2)
        yield c
    finally:
        ray.shutdown()
        c.stop()


@pytest.fixture
def two_nodes(cluster: Cluster) -> Cluster:
    if cluster.worker is None:  # a test before killed it
        cluster.add_worker()
        cluster.wait_nodes(2)
    return cluster


# The node-loss test is last: the cluster it leaves has one node.


@pipeline
def fan_out(n: int = 4, seconds: float = 1.0):
    return [steps.burn(seconds, i) for i in range(n)]


def test_steps_run_as_ray_tasks_on_both_nodes(two_nodes: Cluster, tmp_path: Path) -> None:
    result = fan_out.run({"n": 4, "seconds": 1.0}, executor="ray", artifacts=str(tmp_path))
    assert result.status == "FINISHED" and len(result.output) == 4
    hosts = {s.result.host for s in result.steps.values()}  # type: ignore[union-attr]
    assert hosts == {f"ray:{node}" for node in two_nodes.alive_nodes()}


def test_artifacts_pass_between_steps_on_different_nodes(two_nodes: Cluster, tmp_path: Path) -> None:
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


def test_a_ray_client_address_runs_the_pipeline_on_the_cluster(two_nodes: Cluster, tmp_path: Path) -> None:
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


def test_a_lost_node_has_its_steps_rerun_on_the_remaining_node(two_nodes: Cluster, tmp_path: Path) -> None:
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
