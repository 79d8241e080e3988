"""Fixtures of the serving suite: a registry with real models, and servers on loopback.

The registry is built once per session (an LR on 20 DataFrame columns, and python
models whose versions differ by an offset) and copied for each test, so tests may move
aliases freely. ``in_process`` serves under a real uvicorn in a thread; ``cli_server``
starts ``shipyard serve`` (supervisor + worker processes) as a subprocess.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

import shipyard
from shipyard.serving import ServeConfig, create_app
from tests.services import ServerThread, free_port
from tests.serving.fixture_models import RowSum

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = [f"f{i}" for i in range(20)]


def table(rows: int = 5, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(size=(rows, 20)), columns=COLUMNS)


@pytest.fixture(scope="session")
def registry_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sklearn.linear_model import LogisticRegression

    home = tmp_path_factory.mktemp("serving-registry") / "home"
    x = table(400)
    y = (x["f0"] + x["f1"] > 0).astype(int)
    with shipyard.Client(home=home) as client:
        run = client.create_run("serving-fixtures")
        client.log_model(run.id, LogisticRegression().fit(x, y), "lr", input_example=x[:5],
                         registered_model_name="lr")
        example = np.arange(6, dtype=np.float64).reshape(2, 3)
        for offset in (0.0, 1000.0, 2000.0):
            client.log_model(run.id, RowSum(offset=offset), f"sum{int(offset)}", input_example=example,
                             registered_model_name="sum")
        client.log_model(run.id, RowSum(fail_below=0.0), "fragile", input_example=example,
                         registered_model_name="fragile")
        client.log_model(run.id, RowSum(delay_ms=50.0), "slow", input_example=example, registered_model_name="slow")
        client.log_model(run.id, RowSum(delay_ms=1500.0), "slower", input_example=example,
                         registered_model_name="slower")
        client.end_run(run.id)
        client.set_alias("lr", "production", 1)
        client.set_alias("sum", "production", 1)
        client.set_alias("sum", "challenger", 2)
        client.set_alias("sum", "candidate", 3)
    return home


@pytest.fixture
def home(registry_template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "home"
    shutil.copytree(registry_template, target)
    return target


@pytest.fixture
def client(home: Path) -> Iterator[shipyard.Client]:
    with shipyard.Client(home=home) as c:
        yield c


@contextlib.contextmanager
def in_process(config: ServeConfig, client: shipyard.Client) -> Iterator[ServerThread]:
    """``config`` served by this process under a real uvicorn on a free loopback port."""
    server = ServerThread(create_app(config.with_(gc_freeze=False, access_log=False), client)).start()
    try:
        yield server
    finally:
        server.stop()


class CliServer:
    def __init__(self, process: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.process, self.url, self.log = process, url, log

    def metrics(self) -> str:
        return httpx.get(f"{self.url}/metrics", timeout=10).text

    def workers(self) -> int:
        for line in self.metrics().splitlines():
            if line.startswith("shipyard_workers "):
                return int(float(line.split()[1]))
        return 0

    def worker_pids(self) -> list[int]:
        """The workers: forked by the template (a child of the supervisor), or children of the supervisor."""
        template = self.template_pid()
        return _children(template) + [p for p in _children(self.process.pid) if p != template]

    def template_pid(self) -> int | None:
        for child in _children(self.process.pid):
            with contextlib.suppress(OSError):  # it just ended
                if b"shipyard.serving._template" in Path(f"/proc/{child}/cmdline").read_bytes():
                    return child
        return None

    def state_dir(self) -> Path:
        """The supervisor's private state directory: the first argument of its children."""
        for child in _children(self.process.pid):
            argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            for module in (b"shipyard.serving._template", b"shipyard.serving._worker"):
                if module in argv:
                    return Path(argv[argv.index(module) + 1].decode())
        raise AssertionError("no template or worker process")

    def wait_for_template(self, timeout: float = 60) -> None:
        """Until the template, if any, has imported what the workers did (its CPU time stands
        still for 0.5 s)."""
        template = self.template_pid()
        if template is None:
            return
        deadline, last, still_since = time.monotonic() + timeout, -1, time.monotonic()
        while time.monotonic() - still_since < 0.5:
            assert time.monotonic() < deadline, "the template is still busy"
            fields = Path(f"/proc/{template}/stat").read_text().rsplit(")", 1)[1].split()
            used = int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
            if used != last:
                last, still_since = used, time.monotonic()
            time.sleep(0.1)


def _children(pid: int | None) -> list[int]:
    if pid is None:
        return []
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in found.split()]


@contextlib.contextmanager
def cli_server(home: Path, *args: str, workers: int = 1, ready_timeout: float = 60) -> Iterator[CliServer]:
    """``shipyard serve ARGS`` as a subprocess, waited for until every worker is up."""
    port = free_port()
    log = home.parent / f"serve-{port}.log"
    env = {**os.environ, "SHIPYARD_HOME": str(home)}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", "from shipyard.cli import main; main()", "serve", *args, "--port", str(port),
             "--workers", str(workers)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = CliServer(process, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"shipyard serve exited {process.returncode}:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{server.url}/v2/health/ready", timeout=2).status_code == 200 \
                        and server.workers() >= workers:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"shipyard serve not ready in {ready_timeout} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
