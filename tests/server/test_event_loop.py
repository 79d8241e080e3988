"""A write waiting for the database never stalls the server: every other request is answered
at once, and the write itself is told to come back (503, Retry-After) once the busy timeout passes."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from shipyard import Client, Config
from tests.services import running_server

BUSY_TIMEOUT_S = 2.0
HEALTH_LIMIT_S = 0.5  # far under the busy timeout, and slack enough for a loaded 2-core machine


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(home=tmp_path / "server", db_busy_timeout=BUSY_TIMEOUT_S)


@pytest.fixture
def http(config: Config) -> Iterator[httpx.Client]:
    with running_server(config) as server, \
            httpx.Client(base_url=server.url, timeout=30, limits=httpx.Limits(max_connections=32)) as client:
        yield client


@pytest.fixture
def run_id(http: httpx.Client) -> str:
    response = http.post("/api/v1/runs", json={"experiment_id": "0"})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def write_lock(config: Config) -> sqlite3.Connection:
    """Another connection holding the database's write lock until it is closed."""
    holder = sqlite3.connect(config.database_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def writes(http: httpx.Client, run_id: str) -> dict[str, Callable[[], httpx.Response]]:
    """One metric, one param and one tag through each API, by name."""
    ml, v1 = "/api/2.0/mlflow/runs", "/api/v1/runs/log-batch"
    now = int(time.time() * 1000)
    return {
        "mlflow log-metric": lambda: http.post(f"{ml}/log-metric", json={
            "run_id": run_id, "key": "loss", "value": 0.5, "timestamp": now, "step": 1}),
        "mlflow log-parameter": lambda: http.post(f"{ml}/log-parameter", json={
            "run_id": run_id, "key": "lr", "value": "0.1"}),
        "mlflow set-tag": lambda: http.post(f"{ml}/set-tag", json={"run_id": run_id, "key": "team", "value": "ml"}),
        "v1 metric": lambda: http.post(v1, json={"metrics": [[run_id, "acc", 0.9, now, 1]]}),
        "v1 param": lambda: http.post(v1, json={"params": [[run_id, "depth", "3"]]}),
        "v1 tag": lambda: http.post(v1, json={"tags": [[run_id, "owner", "ann"]]}),
    }


def poll_health(http: httpx.Client, until: Callable[[], bool]) -> list[float]:
    """Seconds each ``/api/v1/health`` took, asked every 20 ms until ``until()`` holds."""
    took: list[float] = []
    while not until():
        start = time.perf_counter()
        response = http.get("/api/v1/health", timeout=BUSY_TIMEOUT_S * 3)
        took.append(time.perf_counter() - start)
        assert response.status_code == 200, response.text
        time.sleep(0.02)
    return took


def test_a_held_write_lock_stalls_no_request_and_writes_answer_503_with_retry_after(
        http: httpx.Client, run_id: str, config: Config) -> None:
    calls = writes(http, run_id)
    holder = write_lock(config)
    try:
        with ThreadPoolExecutor(len(calls)) as pool:
            started = time.perf_counter()
            futures: dict[str, Future[httpx.Response]] = {name: pool.submit(call) for name, call in calls.items()}
            took = poll_health(http, lambda: all(f.done() for f in futures.values()))
            elapsed = time.perf_counter() - started
            answers = {name: f.result() for name, f in futures.items()}
    finally:
        holder.rollback()
        holder.close()

    assert len(took) >= 10 and max(took) < HEALTH_LIMIT_S, f"health took up to {max(took):.3f} s"
    assert BUSY_TIMEOUT_S * 0.8 <= elapsed < BUSY_TIMEOUT_S * 4  # the writes waited the busy timeout, no longer
    for name, response in answers.items():
        assert response.status_code == 503, (name, response.text)
        assert int(response.headers["retry-after"]) >= 1, name
        if name.startswith("mlflow"):
            assert response.json()["error_code"] == "TEMPORARILY_UNAVAILABLE", name
        else:
            assert response.json()["error"]["code"] == "Unavailable", name

    # The lock is gone: the same writes go through.
    for name, call in calls.items():
        assert call().status_code == 200, name
    with Client(config) as client:
        run = client.get_run(run_id)
    assert run.params == {"lr": "0.1", "depth": "3"}
    assert {"team": "ml", "owner": "ann"}.items() <= run.tags.items()
    assert set(run.metrics) == {"loss", "acc"}


def test_a_write_waiting_for_the_lock_succeeds_once_it_is_released_in_time(
        http: httpx.Client, run_id: str, config: Config) -> None:
    calls = writes(http, run_id)
    holder = write_lock(config)
    with ThreadPoolExecutor(len(calls)) as pool:
        try:
            futures = [pool.submit(call) for call in calls.values()]
            release_at = time.perf_counter() + BUSY_TIMEOUT_S / 4
            took = poll_health(http, lambda: time.perf_counter() >= release_at)
            assert not any(f.done() for f in futures)  # still waiting for the lock
        finally:
            holder.rollback()
            holder.close()
        answers = [f.result() for f in futures]
    assert max(took) < HEALTH_LIMIT_S, f"health took up to {max(took):.3f} s"
    assert [a.status_code for a in answers] == [200] * len(calls), [a.text for a in answers]
