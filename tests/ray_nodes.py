"""Two Ray nodes on loopback (``ray start``), one CPU each, with this process as the driver.

Ray replaces 127.0.0.1 with the machine's network address; other loopback addresses it
keeps, so each suite names its own pair and the whole cluster stays on this machine.
Token authentication is off for these clusters (``RAY_AUTH_MODE``, set in
``tests/conftest.py``).
"""

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

from tests.services import free_port

__all__ = ["two_ray_nodes"]

RAY = str(Path(sys.executable).with_name("ray"))
ROOT = Path(__file__).resolve().parents[1]


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


@contextlib.contextmanager
def two_ray_nodes(head_ip: str, worker_ip: str, start_timeout: float = 120) -> Iterator[list[str]]:
    """A head on ``head_ip`` and a second node on ``worker_ip``, this process connected as the
    driver; yields the alive nodes' ids and stops both at the end."""
    import ray

    port = free_port()
    temp = tempfile.mkdtemp(prefix="sy-ray-", dir="/tmp")  # Ray's socket paths must stay short
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(ROOT)}
    procs = [_start(head_ip, env, "--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={temp}")]
    try:
        deadline = time.monotonic() + start_timeout  # a busy machine starts Ray slowly
        while True:  # the head is up once a driver can connect
            try:
                ray.init(address=f"{head_ip}:{port}", _node_ip_address=head_ip, logging_level="ERROR",
                         log_to_driver=False)
                break
            except (ConnectionError, RuntimeError):
                assert time.monotonic() < deadline, "the Ray head did not start"
                time.sleep(0.5)
        procs.append(_start(worker_ip, env, f"--address={head_ip}:{port}"))
        while len([n for n in ray.nodes() if n["Alive"]]) < 2:
            assert time.monotonic() < deadline, "the second Ray node did not join"
            time.sleep(0.2)
        yield [n["NodeID"] for n in ray.nodes() if n["Alive"]]
    finally:
        ray.shutdown()
        for proc in reversed(procs):
            _stop(proc)
