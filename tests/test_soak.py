"""The soak: everything at once, for about a minute, on real processes.

Eight writers log at full speed through ``shipyard server`` while a ninth is killed with
SIGKILL every few seconds and started again; a fuzzer sends random requests to the same
server; ``shipyard serve`` is driven past its capacity while its ``@production`` alias
moves back and forth. At the end every point a clean writer was told was logged is
stored, a killed writer lost no more than its buffer bound, no answer was a 5xx other
than a 503 refusal with ``Retry-After``, no request to the model server failed in
transport, and every process's memory stayed under its bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

import shipyard
from tests.services import free_port
from tests.serving.conftest import ROOT, cli_server
from tests.serving.fixture_models import RowSum

pytestmark = pytest.mark.slow

SECONDS = 40.0  # how long the load runs
KILL_EVERY = 3.0  # seconds between SIGKILLs of the ninth writer
BUFFER_POINTS = 5_000  # the writers' log_buffer_points: the most a SIGKILL may lose
TOKEN = "soak-" + "t" * 40
# One request a model call: the model server's capacity is what a 20 ms model answers alone.
SERVE_ARGS = ("models:/sum@production", "--no-batching", "--max-queue", "8")
# Resident memory bounds (MiB). A writer imports Shipyard with numpy and pandas (about 150 MiB)
# and holds at most its bounded buffer; the servers hold no per-request state beyond a request.
RSS_BOUND_MIB = {"writer": 400, "server": 700, "serve": 900}

_WRITER = """
import os, sys, time, shipyard
run_id, deadline, acked_path = sys.argv[1], float(sys.argv[2]), sys.argv[3]
client = shipyard.Client()
n = 0
with open(acked_path, "wb", buffering=0) as acked:
    # Resume the run (it was made by the test): this process never finishes it, its owner does.
    while time.time() < deadline:
        client.log_metric(run_id, "m", float(n), step=n)
        n += 1
        if n % 250 == 0:
            acked.seek(0); acked.write(str(n).encode().ljust(20))  # survives a SIGKILL: in the kernel
    client.close()  # every acknowledged point stored before exit
    acked.seek(0); acked.write(str(n).encode().ljust(20))
"""


def _rss_mib(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _descendants(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    children = [int(p) for p in found.split()]
    return children + [d for child in children for d in _descendants(child)]


def stored_steps(client: shipyard.Client, run_id: str) -> list[int]:
    """The steps of every stored point of metric ``m``, read page by page."""
    steps: list[int] = []
    token = None
    while True:
        page = client.tracking_store.get_metric_history(run_id, "m", page_token=token)
        steps += [point.step for point in page.items]
        if not (token := page.next_page_token):
            return steps


class Peaks:
    """The highest resident memory seen of each kind of process, sampled every half second."""

    def __init__(self) -> None:
        self.peak: dict[str, float] = dict.fromkeys(RSS_BOUND_MIB, 0.0)
        self.pids: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def watch(self, pid: int, kind: str, with_children: bool = False) -> None:
        self.pids[pid] = kind
        if with_children:
            self.pids[-pid] = kind  # a negative key: sample its descendants too

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            for pid, kind in list(self.pids.items()):
                for p in _descendants(-pid) if pid < 0 else [pid]:
                    self.peak[kind] = max(self.peak[kind], _rss_mib(p))

    def __enter__(self) -> Peaks:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@contextlib.contextmanager
def tracking_server(home: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    env = {**os.environ, "SHIPYARD_HOME": str(home), "SHIPYARD_TOKEN": TOKEN}
    log = (home.parent / "server.log").open("wb")
    process = subprocess.Popen([sys.executable, "-c", "from shipyard.cli import main; main()", "server",
                                "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (home.parent / "server.log").read_text()[-3000:]
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, "shipyard server did not start"
            time.sleep(0.1)
        yield url, process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def writer(url: str, run_id: str, deadline: float, acked: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SHIPYARD_URL": url, "SHIPYARD_TOKEN": TOKEN, "SHIPYARD_HOME": str(acked.parent / "writers"),
           "SHIPYARD_LOG_BUFFER_POINTS": str(BUFFER_POINTS)}
    return subprocess.Popen([sys.executable, "-c", _WRITER, run_id, str(deadline), str(acked)], cwd=ROOT, env=env)


def acked_count(path: Path) -> int:
    text = path.read_bytes().strip() if path.exists() else b""
    return int(text or 0)


class Fuzzer:
    """Random requests to every documented operation of the server: random path segments,
    queries and JSON bodies, and some bodies that are not JSON at all."""

    SKIP = ("/api/v1/users", "/api/v1/tokens", "/login", "/logout", "/auth/")  # would change who may log

    def __init__(self, url: str) -> None:
        self.url = url
        doc = httpx.get(f"{url}/api/v1/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"},
                        timeout=60).json()
        self.operations = [(method.upper(), path) for path, item in doc["paths"].items()
                           for method in item if method in ("get", "post", "put", "patch", "delete")
                           and not path.startswith(self.SKIP)]
        self.statuses: Counter[int] = Counter()
        self.bad: list[tuple[str, str, int, str]] = []
        self.rng = random.Random(7)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _value(self, depth: int = 0) -> object:
        kind = self.rng.randrange(7 if depth < 2 else 5)
        if kind == 0:
            return None
        if kind == 1:
            return self.rng.randint(-2**40, 2**40)
        if kind == 2:
            return self.rng.random() * 1e9
        if kind == 3:
            return "".join(self.rng.choice("aZ9_-./ \u00e9<>\x00") for _ in range(self.rng.randrange(12)))
        if kind == 4:
            return self.rng.random() < 0.5
        if kind == 5:
            return [self._value(depth + 1) for _ in range(self.rng.randrange(4))]
        return {f"k{i}": self._value(depth + 1) for i in range(self.rng.randrange(4))}

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=60, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            while not self._stop.is_set():
                method, path = self.rng.choice(self.operations)
                concrete = "/".join(self.rng.choice(["x", "1", "0" * 40, "..", "%00"]) if part.startswith("{")
                                    else part for part in path.split("/"))
                body = (self.rng.randbytes(64) if self.rng.random() < 0.1
                        else json.dumps(self._value()).encode())
                try:
                    r = http.request(method, concrete, content=body if method != "GET" else None,
                                     params={"max_results": self.rng.choice(["1", "0", "x", "5"])},
                                     headers={"content-type": "application/json"})
                except httpx.HTTPError as exc:
                    self.bad.append((method, concrete, 0, type(exc).__name__))
                    continue
                self.statuses[r.status_code] += 1
                if r.status_code >= 500 and not (r.status_code == 503 and "retry-after" in r.headers):
                    self.bad.append((method, concrete, r.status_code, r.text[:200]))

    def __enter__(self) -> Fuzzer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=90)


class Overload:
    """``connections`` concurrent clients posting predictions as fast as answers come back."""

    def __init__(self, url: str, connections: int) -> None:
        self.url, self.connections = url, connections
        self.statuses: Counter[int | str] = Counter()
        self.refusals_without_retry_after = 0
        self.resets = 0  # connection resets retried once
        self.versions: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _one(self, http: httpx.AsyncClient) -> None:
        body = {"inputs": [[1.0, 2.0, 3.0]]}
        while not self._stop.is_set():
            try:
                r = await self._post(http, body)
            except httpx.HTTPError as exc:
                self.statuses[type(exc).__name__] += 1
                continue
            self.statuses[r.status_code] += 1
            if r.status_code == 503:
                self.refusals_without_retry_after += "retry-after" not in r.headers
                await asyncio.sleep(0.05)
            elif r.status_code == 200:
                self.versions[r.headers.get("shipyard-model-version", "?")] += 1

    async def _post(self, http: httpx.AsyncClient, body: dict) -> httpx.Response:
        # A prediction is idempotent: a connection reset (the server closing an idle
        # keep-alive connection as the client reuses it) is retried once, as serving's
        # documentation asks of its clients; a second failure counts.
        try:
            return await http.post(f"{self.url}/invocations", json=body)
        except (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError):
            self.resets += 1
            return await http.post(f"{self.url}/invocations", json=body)

    async def _main(self) -> None:
        limits = httpx.Limits(max_connections=self.connections, max_keepalive_connections=self.connections)
        async with httpx.AsyncClient(timeout=30, limits=limits) as http:
            await asyncio.gather(*(self._one(http) for _ in range(self.connections)))

    def __enter__(self) -> Overload:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


def model_home(tmp_path: Path) -> Path:
    home = tmp_path / "models"
    example = np.arange(6, dtype=np.float64).reshape(2, 3)
    with shipyard.Client(home=home) as client:
        run = client.create_run("soak")
        for offset in (0.0, 1000.0):
            # 20 ms a call, one request a call (--no-batching): about 50 answers a second, far
            # below what 64 connections ask, so the server must refuse at its door.
            client.log_model(run.id, RowSum(offset=offset, delay_ms=20.0), f"sum{int(offset)}",
                             input_example=example, registered_model_name="sum")
        client.end_run(run.id)
        client.set_alias("sum", "production", 1)
    return home


@contextlib.contextmanager
def reaped() -> Iterator[list[subprocess.Popen[bytes]]]:
    """A list to put processes in; any still running at the end (a failed test) is killed."""
    spawned: list[subprocess.Popen[bytes]] = []
    try:
        yield spawned
    finally:
        for process in spawned:
            if process.poll() is None:
                process.kill()
            process.wait()


def test_writers_a_killed_writer_a_fuzzer_and_an_overloaded_model_server_at_once(tmp_path: Path) -> None:
    models = model_home(tmp_path)
    (tmp_path / "server").mkdir()
    with tracking_server(tmp_path / "server" / "home") as (url, server), \
            cli_server(models, *SERVE_ARGS, workers=1) as serve, Peaks() as peaks, \
            reaped() as spawned, shipyard.Client(url=url, token=TOKEN) as remote:
        peaks.watch(server.pid, "server")
        peaks.watch(serve.process.pid, "serve", with_children=True)
        deadline = time.time() + SECONDS
        clean = []
        for i in range(8):
            run = remote.create_run("soak", name=f"writer-{i}")
            acked = tmp_path / f"acked-{i}"
            spawned.append(writer(url, run.id, deadline, acked))
            clean.append((run.id, acked, spawned[-1]))
            peaks.watch(spawned[-1].pid, "writer")
        killed: list[tuple[str, Path]] = []
        with Fuzzer(url) as fuzz, Overload(serve.url, connections=64) as load:
            moves = 0
            while time.time() < deadline - KILL_EVERY:
                run = remote.create_run("soak", name=f"killed-{len(killed)}")
                acked = tmp_path / f"killed-{len(killed)}"
                spawned.append(victim := writer(url, run.id, deadline, acked))
                peaks.watch(victim.pid, "writer")
                time.sleep(KILL_EVERY)
                victim.send_signal(signal.SIGKILL)
                victim.wait()
                killed.append((run.id, acked))
                with shipyard.Client(home=models) as registry:  # the alias moves under load
                    registry.set_alias("sum", "production", 2 if moves % 2 == 0 else 1)
                moves += 1
        for _, _, process in clean:
            assert process.wait(timeout=120) == 0

        # Every point a clean writer was told was logged is stored.
        for run_id, acked, _ in clean:
            steps = stored_steps(remote, run_id)
            assert sorted(steps) == list(range(acked_count(acked))) and steps, run_id
        # A SIGKILL loses at most the buffer's bound, and a retried batch is never stored twice.
        for run_id, acked in killed:
            steps = stored_steps(remote, run_id)
            assert len(steps) >= acked_count(acked) - BUFFER_POINTS and len(set(steps)) == len(steps), run_id

    print(f"soak: fuzz {dict(fuzz.statuses)}, model server {dict(load.statuses)}, {load.resets} resets retried, "
          f"versions {dict(load.versions)}, {len(killed)} writers killed, peak RSS MiB {peaks.peak}")  # pytest -s
    assert moves >= 3 and len(killed) >= 3
    assert not fuzz.bad, fuzz.bad[:10]
    assert sum(fuzz.statuses.values()) > 200, fuzz.statuses
    assert set(load.statuses) <= {200, 503}, load.statuses
    assert load.statuses[200] > 0 and load.statuses[503] > 0, load.statuses  # overloaded, and still answering
    assert load.refusals_without_retry_after == 0
    assert {"1", "2"} <= set(load.versions), load.versions  # both versions answered as the alias moved
    for kind, bound in RSS_BOUND_MIB.items():
        assert 0 < peaks.peak[kind] < bound, (kind, peaks.peak)
