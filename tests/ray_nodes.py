"""Two Ray nodes on loopback (``ray start``), one CPU each, with this process as the driver.

Ray replaces 127.0.0.1 with the machine's network address; other loopback addresses it
keeps, so each suite names its own pair and the whole cluster stays on this machine.
Token authentication is off for these clusters (``RAY_AUTH_MODE``, set in
``tests/conftest.py``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.services import free_port

__all__ = ["RayNodes", "two_ray_nodes"]

RAY = str(Path(sys.executable).with_name("ray"))
ROOT = Path(__file__).resolve().parents[1]

# A driver that connects before the head's raylet is ready can die in Ray's C++ core rather
# than raise (ray-project/ray#17769), and in a pytest-xdist worker that takes the worker and
# its test down. So a throwaway process connects first; this one only once that succeeded.
_PROBE = ("import sys, ray\n"
          "ray.init(address=sys.argv[1], _node_ip_address=sys.argv[2], logging_level='ERROR',"
          " log_to_driver=False)\n"
          "ray.shutdown()\n")


class RayNodes:
    """A head node (:meth:`start`) and, after :meth:`add_worker`, a second node: each a
    ``ray start --block`` in its own process group, so that stopping one takes all its
    daemons with it.

    ``client_server`` also starts the Ray Client server on the head (``ray://`` addresses).
    """

    def __init__(self, head_ip: str, worker_ip: str, *, client_server: bool = False,
                 object_store_bytes: int = 100_000_000, start_timeout: float = 120) -> None:
        self.head_ip, self.worker_ip = head_ip, worker_ip
        self.object_store_bytes = object_store_bytes
        self.port = free_port()
        self.client_port = free_port() if client_server else None
        self.start_timeout = start_timeout  # a busy machine starts Ray slowly
        self.temp = tempfile.mkdtemp(prefix="sy-ray-", dir="/tmp")  # Ray's socket paths must stay short
        # Ray Client's proxy starts a server process per client; with gRPC's fork handlers on,
        # that process sometimes dies at start (ray-project/ray#63202). It execs at once, so
        # it needs none of them.
        self.env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(ROOT),
                    "GRPC_ENABLE_FORK_SUPPORT": "false"}
        self.head: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"{self.head_ip}:{self.port}"

    def _start(self, ip: str, *args: str) -> subprocess.Popen[bytes]:
        cmd = [RAY, "start", "--block", "--num-cpus=1", f"--node-ip-address={ip}",
               f"--object-store-memory={self.object_store_bytes}", "--disable-usage-stats", *args]
        return subprocess.Popen(cmd, env=self.env, start_new_session=True, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

    def start(self) -> None:
        """Start the head, wait until a driver can connect, and connect this process."""
        extra = [f"--ray-client-server-port={self.client_port}"] if self.client_port else []
        self.head = self._start(self.head_ip, "--head", f"--port={self.port}", "--include-dashboard=false",
                                f"--temp-dir={self.temp}", *extra)
        deadline = time.monotonic() + self.start_timeout
        self._wait_for_port(deadline)
        said = b""
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no driver could connect to the Ray head: {said[-2000:].decode(errors='replace')}"
            with contextlib.suppress(subprocess.TimeoutExpired):
                probe = subprocess.run([sys.executable, "-c", _PROBE, self.address, self.head_ip], env=self.env,
                                       capture_output=True, timeout=left)
                if probe.returncode == 0:
                    break
                said = probe.stdout + probe.stderr
            time.sleep(0.5)
        self.connect()

    def connect(self) -> None:
        """Connect this process as a driver: a new Ray job, whose workers start afresh."""
        import ray

        ray.init(address=self.address, _node_ip_address=self.head_ip, logging_level=logging.ERROR, log_to_driver=False)

    def disconnect(self) -> None:
        """End this process's job (its workers end with it)."""
        import ray

        ray.shutdown()

    def _wait_for_port(self, deadline: float) -> None:
        while True:  # the GCS listens first; no driver is worth starting before it does
            with contextlib.suppress(OSError), socket.create_connection((self.head_ip, self.port), timeout=1):
                return
            assert self.head is not None and self.head.poll() is None, "`ray start --head` exited"
            assert time.monotonic() < deadline, "the Ray head did not listen"
            time.sleep(0.2)

    def add_worker(self) -> None:
        """Start the second node and wait until the cluster counts it alive."""
        self.worker = self._start(self.worker_ip, f"--address={self.address}")
        self.wait_nodes(2)

    def stop_worker(self) -> None:
        """Stop the second node as an operator would (it leaves the cluster at once)."""
        if self.worker is not None:
            _terminate(self.worker)
            self.worker = None
        self.wait_nodes(1)

    def kill_worker(self) -> None:
        """SIGKILL the second node and all its daemons, as a lost machine."""
        if self.worker is not None:
            os.killpg(self.worker.pid, signal.SIGKILL)
            self.worker.wait(timeout=10)
            self.worker = None

    def alive_nodes(self) -> list[str]:
        import ray

        return [n["NodeID"] for n in ray.nodes() if n["Alive"]]

    def wait_nodes(self, count: int) -> None:
        deadline = time.monotonic() + self.start_timeout
        while len(self.alive_nodes()) != count:
            assert time.monotonic() < deadline, f"{len(self.alive_nodes())} Ray nodes alive, waited for {count}"
            time.sleep(0.2)

    def stop(self) -> None:
        """Disconnect this process and stop both nodes."""
        self.disconnect()
        for proc in (self.worker, self.head):
            if proc is not None:
                _terminate(proc)
        self.worker = self.head = None


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM a node's process group (``ray start --block`` stops its daemons), SIGKILL if it lingers."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@contextlib.contextmanager
def two_ray_nodes(head_ip: str, worker_ip: str, *, client_server: bool = False) -> Iterator[RayNodes]:
    """A head on ``head_ip`` and a second node on ``worker_ip``, this process connected as the
    driver; stops both at the end."""
    nodes = RayNodes(head_ip, worker_ip, client_server=client_server)
    try:
        nodes.start()
        nodes.add_worker()
        yield nodes
    finally:
        nodes.stop()
