"""``shipyard serve`` as real processes: workers, SIGKILL, reload under load, overload, shutdown, Prometheus."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
import pytest

import shipyard
from shipyard import ConfigError
from tests.services import free_port
from tests.serving.conftest import ROOT, cli_server

BODY = {"inputs": [[1, 2, 3]]}


class Load:
    """``threads`` clients posting ``body`` in a loop (each with its own keep-alive connection)."""

    def __init__(self, url: str, threads: int = 6, new_connections: bool = False, body: dict = BODY) -> None:
        self.url, self.threads, self.new_connections, self.body = url, threads, new_connections, body
        # (time, status or error, version, seconds, client thread, worker: the request id's per-worker prefix)
        self.results: list[tuple[float, int | str, str, float, int, str]] = []
        self._stop = threading.Event()
        self._workers = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def _run(self, client: int) -> None:
        http = httpx.Client(timeout=30)
        while not self._stop.is_set():
            started = time.monotonic()
            worker = ""
            try:
                r = http.post(f"{self.url}/invocations", json=self.body)
                outcome: int | str = r.status_code
                version = r.headers.get("shipyard-model-version", "")
                worker = r.headers.get("x-request-id", "")[:16]
            except httpx.HTTPError as exc:
                outcome, version = type(exc).__name__, ""
                http.close()
                http = httpx.Client(timeout=30)
            self.results.append((started, outcome, version, time.monotonic() - started, client, worker))
            if self.new_connections:
                http.close()
                http = httpx.Client(timeout=30)
        http.close()

    def __enter__(self) -> Load:
        for t in self._workers:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._workers:
            t.join(timeout=30)

    def failures(self, since: float = 0.0) -> list:
        return [r for r in self.results if r[0] >= since and r[1] != 200]


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def test_sigkill_of_a_worker_under_load_fails_only_its_in_flight_requests(home: Path) -> None:
    with cli_server(home, "models:/sum@production", "--no-access-log", workers=2) as server:
        pids = server.worker_pids()
        assert len(pids) == 2
        with Load(server.url, threads=6) as load:
            time.sleep(1.0)
            killed_at = time.monotonic()
            os.kill(pids[0], signal.SIGKILL)
            wait_for(lambda: len(set(server.worker_pids()) - set(pids)) == 1 and server.workers() == 2, 30)
            time.sleep(0.5)
        failed = load.failures()
        assert len(failed) <= load.threads, failed  # at most one in-flight request per connection
        after = [r for r in load.results if r[0] > killed_at + 0.2]
        assert after and sum(r[1] == 200 for r in after) >= len(after) - load.threads
        assert httpx.post(f"{server.url}/invocations", json=BODY).status_code == 200
        assert b"worker" in server.log.read_bytes()


LR_BODY = {"dataframe_split": {"columns": [f"f{i}" for i in range(20)], "data": [[0.5] * 20]}}


def answering_worker(url: str) -> str:
    """The per-worker prefix of the request id of an answer on a fresh connection."""
    return httpx.post(f"{url}/invocations", json=LR_BODY, headers={"connection": "close"},
                      timeout=10).headers["x-request-id"][:16]


def test_a_killed_worker_loses_at_most_one_request_per_connection_and_is_replaced_within_two_seconds(
        home: Path) -> None:
    with cli_server(home, "models:/lr@production", "--no-access-log", "--no-inference-log", workers=2) as server:
        pids = server.worker_pids()
        assert len(pids) == 2
        known: set[str] = set()
        deadline = time.monotonic() + 20
        while len(known) < 2:  # both workers' request-id prefixes (fresh connections land on either)
            assert time.monotonic() < deadline, known
            known.add(answering_worker(server.url))
        server.wait_for_template()  # steady state: the template has imported what the workers did
        state = server.state_dir()
        ready_before = set(state.glob("ready-*"))
        with Load(server.url, threads=8, body=LR_BODY) as load:
            time.sleep(1.0)
            killed_at = time.monotonic()
            os.kill(pids[0], signal.SIGKILL)
            while not set(state.glob("ready-*")) - ready_before:  # the replacement has loaded its models
                assert time.monotonic() - killed_at < 20, "no replacement worker became ready"
                time.sleep(0.01)
            replaced_in = time.monotonic() - killed_at
            replacement = ""
            while not replacement:  # and serves: an answer from a worker that was not there before the kill
                assert time.monotonic() - killed_at < 20, "the replacement worker does not answer"
                with contextlib.suppress(httpx.HTTPError):
                    worker = answering_worker(server.url)
                    replacement = worker if worker not in known else ""
            time.sleep(0.5)
        failed = load.failures()
        per_connection = Counter(r[4] for r in failed)
        assert all(n == 1 for n in per_connection.values()), failed  # each lost at most its in-flight request
        assert all(isinstance(r[1], str) for r in failed), failed  # lost connections, never an error status
        assert all(r[0] < killed_at + 0.1 for r in failed), failed  # sent before the kill; none after
        assert replaced_in < 2.0, f"the replacement was ready {replaced_in:.2f} s after the kill"
        assert sum(r[1] == 200 for r in load.results if r[0] > killed_at + replaced_in) > 0
        assert b"exited with status" in server.log.read_bytes()


def test_reload_under_steady_load_switches_every_worker_with_no_failed_request(home: Path) -> None:
    with cli_server(home, "models:/sum@production", "--poll-interval", "0", "--no-access-log", workers=2) as server:
        with Load(server.url, threads=4) as load:
            time.sleep(0.5)
            with shipyard.Client(home=home) as client:
                client.set_alias("sum", "production", 2)
            assert httpx.post(f"{server.url}/admin/reload").status_code == 200
            switched = time.monotonic()
            time.sleep(1.5)
        assert load.failures() == []
        assert {r[2] for r in load.results} == {"1", "2"}
        late = [r for r in load.results if r[0] > switched + 0.5]
        assert late and {r[2] for r in late} == {"2"}  # both workers (SIGUSR1 broadcast) serve v2
        with httpx.Client() as fresh:
            assert {fresh.post(f"{server.url}/invocations", json=BODY, headers={"connection": "close"})
                    .headers["shipyard-model-version"] for _ in range(10)} == {"2"}


def test_overload_keeps_the_server_up_answering_503_fast_with_bounded_latency(home: Path) -> None:
    args = ("models:/slow/1", "--no-batching", "--max-queue", "4", "--no-access-log", "--no-inference-log")
    with cli_server(home, *args) as server:  # capacity: 20 requests/s (50 ms each)
        with Load(server.url, threads=24) as load:  # offered: ~24 in flight at all times
            time.sleep(3.0)
        refused = [r[3] for r in load.results if r[1] == 503]
        accepted = sorted(r[3] for r in load.results if r[1] == 200)
        assert refused and accepted
        assert {r[1] for r in load.results} <= {200, 503}
        refused.sort()
        # Refusals are quick: a refused request never waits in the queue (that alone would be
        # >= 0.2 s here). The 90th percentile, not the 99th: with 24 client threads and the
        # server on 2 cores, the slowest 1 % measures the machine's scheduling, not the server.
        assert refused[len(refused) // 2] < 0.15 and refused[int(len(refused) * 0.9)] < 0.5
        # An accepted request waits behind at most 4 others (about 0.25 s: 0.22 s median and
        # 0.31-0.36 s p99 alone); without the bound, 24 in flight at 20/s would wait about
        # 1.2 s each. The median tells the two apart; the 99th percentile measured the
        # machine's scheduling under parallel tests (1.6 s once, on a slow run of the suite).
        assert accepted[len(accepted) // 2] < 0.6 and accepted[int(len(accepted) * 0.9)] < 1.5
        assert httpx.get(f"{server.url}/v2/health/ready").status_code == 200


class Flood:
    """``connections`` raw keep-alive connections posting BODY in a closed loop for ``seconds``.

    Each request's head goes first, its body ``pause`` seconds later, or as soon as an answer
    comes (a refusal at the door: the server discards the body it did not wait for). Records
    (status or error, seconds, Retry-After present, answered before the body was sent).
    """

    def __init__(self, port: int, connections: int, seconds: float, pause: float) -> None:
        self.port, self.connections, self.seconds, self.pause = port, connections, seconds, pause
        self.results: list[tuple[int | str, float, bool, bool]] = []

    def run(self) -> Flood:
        asyncio.run(self._all())
        return self

    async def _all(self) -> None:
        deadline = time.monotonic() + self.seconds
        await asyncio.gather(*(self._client(deadline) for _ in range(self.connections)))

    async def _client(self, deadline: float) -> None:
        body = orjson.dumps(BODY)
        head = (f"POST /invocations HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            while time.monotonic() < deadline:
                started = time.monotonic()
                writer.write(head)
                answer = asyncio.ensure_future(self._answer(reader))
                done, _ = await asyncio.wait({answer}, timeout=self.pause)
                writer.write(body)
                try:
                    status, retry_after = await asyncio.wait_for(answer, 10)
                except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
                    self.results.append((type(exc).__name__, time.monotonic() - started, False, False))
                    return
                self.results.append((status, time.monotonic() - started, retry_after, bool(done)))
        finally:
            writer.close()

    @staticmethod
    async def _answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
        lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower().split("\r\n")
        fields = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
        await reader.readexactly(int(fields.get("content-length", "0")))
        return int(lines[0].split()[1]), "retry-after" in fields


def test_a_flood_beyond_the_queue_is_refused_at_the_door_quickly_and_the_admitted_succeed(home: Path) -> None:
    args = ("models:/slow/1", "--no-batching", "--max-queue", "4", "--no-access-log", "--no-inference-log")
    with cli_server(home, *args) as server:  # capacity: 20 requests/s (50 ms each), at most 4 admitted
        port = int(server.url.rsplit(":", 1)[1])
        flood = Flood(port, connections=64, seconds=4.0, pause=0.5).run()
        statuses = Counter(r[0] for r in flood.results)
        assert set(statuses) <= {200, 503}, statuses  # no other 5xx, no reset, no request timed out
        refused = [r for r in flood.results if r[0] == 503]
        admitted = sorted(r[1] for r in flood.results if r[0] == 200)
        assert len(admitted) >= 20 and len(refused) >= 100, statuses
        assert all(r[2] for r in refused)  # every refusal says when to come back
        # Refused at the door: before the body was sent (it follows 0.5 s after the head).
        assert sum(r[3] for r in refused) >= 0.95 * len(refused)
        waits = sorted(r[1] for r in refused)
        assert waits[len(waits) // 2] < 0.25 and waits[-1] < 2.0  # generous: CI machines are noisy
        # The admitted wait for their body (0.5 s), a queue of at most 4 x 50 ms, and a busy machine.
        assert admitted[-1] < 5.0
        assert httpx.get(f"{server.url}/v2/health/ready").status_code == 200


def test_sigterm_drains_in_flight_requests_and_flushes_the_inference_log(home: Path) -> None:
    with cli_server(home, "models:/slower/1", "--no-access-log") as server:  # 1.5 s per call
        results: list[int] = []

        def call() -> None:
            with httpx.Client(timeout=30) as http:
                results.append(http.post(f"{server.url}/invocations", json=BODY).status_code)

        thread = threading.Thread(target=call)
        thread.start()
        wait_for(lambda: 'shipyard_requests_in_progress{model="slower"} 1' in server.metrics(), 10)
        server.process.send_signal(signal.SIGTERM)
        thread.join(timeout=30)
        assert server.process.wait(timeout=40) == 0
    assert results == [200]
    with shipyard.Client(home=home) as client:
        experiment = client.get_experiment_by_name("serving:slower")
        runs = client.search_runs(experiment_ids=[experiment.id]).items
        assert runs and all(run.status.value == "FINISHED" for run in runs)
        assert any(client.list_artifacts(run.id, "inference") for run in runs)


def test_a_model_that_cannot_load_stops_the_server(home: Path, tmp_path: Path) -> None:
    broken = tmp_path / "not-a-model"  # a folder that exists, so only a worker finds it holds no model
    broken.mkdir()
    done = subprocess.run([sys.executable, "-c", "from shipyard.cli import main; main()", "serve",
                           str(broken), "--trust", "--port", str(free_port())], cwd=ROOT,
                          env={**os.environ, "SHIPYARD_HOME": str(home)}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "before becoming ready" in done.stderr


def test_listening_beyond_loopback_needs_a_token_or_insecure(home: Path) -> None:
    done = subprocess.run([sys.executable, "-c", "from shipyard.cli import main; main()", "serve",
                           "models:/sum@production", "--host", "0.0.0.0"], cwd=ROOT,
                          env={**os.environ, "SHIPYARD_HOME": str(home)}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "--insecure" in done.stderr
    with pytest.raises(ConfigError, match="refusing to listen"):
        shipyard.serve("models:/sum@production", host="0.0.0.0", client=shipyard.Client(home=home))


PROMETHEUS_CONFIG = """
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
scrape_configs:
  - job_name: shipyard
    scrape_interval: 1s
    static_configs: [{{targets: ["{target}"]}}]
"""


def test_a_real_prometheus_scrapes_the_sum_over_workers(home: Path, tmp_path: Path) -> None:
    binary = shutil.which("prometheus")
    assert binary, "the Debian package 'prometheus' is needed (scripts/services.sh installs it)"
    with cli_server(home, "models:/sum@production", "--no-access-log", workers=2) as server:
        with httpx.Client() as http:
            for _ in range(40):  # fresh connections, so both workers answer some
                assert http.post(f"{server.url}/invocations", json=BODY, headers={"connection": "close"}) \
                    .status_code == 200
        config = tmp_path / "prometheus.yml"
        config.write_text(PROMETHEUS_CONFIG.format(target=server.url.removeprefix("http://")))
        port = free_port()
        storage = tempfile.mkdtemp(dir=tmp_path)
        prometheus = subprocess.Popen([binary, f"--config.file={config}", f"--storage.tsdb.path={storage}",
                                       f"--web.listen-address=127.0.0.1:{port}"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        api = f"http://127.0.0.1:{port}/api/v1/query"

        def query(expr: str) -> list:
            try:
                data = httpx.get(api, params={"query": expr}, timeout=5).json()
            except (httpx.HTTPError, ValueError):  # not up yet: refused, or a plain-text 503
                return []
            return data.get("data", {}).get("result", []) if data.get("status") == "success" else []

        try:
            total = 'sum(shipyard_requests_total{model="sum",code="200"})'
            wait_for(lambda: bool(query(total)) and float(query(total)[0]["value"][1]) == 40, 60)
            assert float(query('up{job="shipyard"}')[0]["value"][1]) == 1
            assert float(query("shipyard_workers")[0]["value"][1]) == 2
            assert float(query('shipyard_request_duration_seconds_count{model="sum",route="production"}')[0]
                         ["value"][1]) == 40
            assert query('histogram_quantile(0.99, sum by (le) (shipyard_request_duration_seconds_bucket))')
            assert float(query("process_resident_memory_bytes")[0]["value"][1]) > 10e6
        finally:
            prometheus.terminate()
            prometheus.wait(timeout=30)


def test_shipyard_serve_in_python_serves_until_sigterm(home: Path) -> None:
    port = free_port()
    code = (f"import shipyard; raise SystemExit(shipyard.serve('models:/sum@production', port={port}, "
            f"client=shipyard.Client(home={str(home)!r})))")
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            try:
                return httpx.get(f"{url}/v2/health/ready", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, 60)
        r = httpx.post(f"{url}/invocations", json=BODY)
        assert r.json() == {"predictions": [6.0]} and r.headers["shipyard-model-version"] == "1"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=40) == 0


def test_workers_do_not_outlive_a_supervisor_killed_with_sigkill(home: Path) -> None:
    with cli_server(home, "models:/sum@production", workers=2) as server:
        server.wait_for_template()
        workers = server.worker_pids()
        template = server.template_pid()
        assert len(workers) == 2 and template is not None
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()

        def gone() -> bool:
            return not any(Path(f"/proc/{pid}").exists() and b"zombie" not in _state(pid)
                           for pid in [*workers, template])
        wait_for(gone, timeout=45)


def _state(pid: int) -> bytes:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/status").read_bytes().lower()
    return b"zombie"
