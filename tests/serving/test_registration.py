"""A real ``shipyard serve`` registers itself in the metadata store, heartbeats, and leaves.

The supervisor registers once its workers are ready, refreshes its row every heartbeat
with a summary of its workers' metrics (so the route's version and the traffic show up),
deletes it on a clean stop, and a server killed with SIGKILL is called ``gone`` once its
heartbeat is late.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import shipyard
from shipyard.errors import InvalidInput, NotFound
from shipyard.serving._metrics import Metrics, merge
from shipyard.serving._registration import DEFAULT_INTERVAL_S, GONE_AFTER, ServeRegistration
from shipyard.serving._serve_stats import summarize
from shipyard.serving._sql_registrations import FORGET_AFTER_MS, SqlRegistrationStore
from shipyard.store import Database
from tests.services import free_port
from tests.serving.conftest import ROOT, cli_server

BODY = {"inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP64", "data": [1, 2, 3, 4, 5, 6]}]}


def wait_for(condition: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def deployments(home: Path, state: str | None = None) -> list[dict[str, Any]]:
    with shipyard.Client(home=home) as client:
        return client.deployments.list_deployments(state=state)


def test_a_running_serve_appears_with_its_routes_and_heartbeats_and_disappears_on_stop(
        home: Path, doomed: tuple[Path, Any]) -> None:
    # ``doomed`` starts loading now, beside this test's server, for the test after this one.
    with cli_server(home, "models:/sum@production") as server:
        [found] = wait_for(lambda: deployments(home))
        assert found["state"] == "live" and found["url"] == server.url
        assert found["pid"] == server.process.pid
        assert found["interval_ms"] == int(DEFAULT_INTERVAL_S * 1000)
        [model] = found["models"]
        assert model["name"] == "sum"
        assert model["routes"] == [{"route": "production", "uri": "models:/sum@production", "weight": 100.0}]
        for _ in range(5):
            assert httpx.post(f"{server.url}/v2/models/sum/infer", json=BODY, timeout=10).status_code == 200

        def counted() -> dict[str, Any] | None:
            with shipyard.Client(home=home) as client:
                seen = client.deployments.get_deployment(found["id"])
            figures = (seen["live"] or {}).get("models") or []
            return seen if figures and figures[0]["requests_total"] >= 5 else None

        seen = wait_for(counted, timeout=15)
        assert seen["heartbeat_at"] > found["heartbeat_at"]  # the heartbeat moved on
        [figures] = seen["live"]["models"]
        assert figures["routes"] == [{"route": "production", "version": "1"}]
        assert figures["errors_total"] == 0 and figures["latency_ms"]["p50"] > 0
        assert figures["mean_batch_size"] >= 1
    assert deployments(home) == []  # removed on the clean stop
    with shipyard.Client(home=home) as client, pytest.raises(NotFound):
        client.deployments.get_deployment(found["id"])


@pytest.fixture(scope="module")
def doomed(registry_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Any]]:
    """A ``shipyard serve`` of its own store, started when the module starts so that it loads
    while the other test runs (its home, its process)."""
    home = tmp_path_factory.mktemp("doomed") / "home"
    shutil.copytree(registry_template, home)
    env = {**os.environ, "SHIPYARD_HOME": str(home)}
    process = subprocess.Popen([sys.executable, "-c", "from shipyard.cli import main; main()", "serve",
                                "models:/sum@production", "--port", str(free_port())], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield home, process
    finally:
        process.kill()
        process.wait()


def test_a_serve_killed_with_sigkill_stays_registered_and_is_marked_gone(doomed: tuple[Path, Any]) -> None:
    home, process = doomed
    [found] = wait_for(lambda: deployments(home, "live"), timeout=60)
    assert found["pid"] == process.pid
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = time.monotonic()
    [gone] = wait_for(lambda: deployments(home, "gone"), timeout=GONE_AFTER * DEFAULT_INTERVAL_S + 10)
    assert gone["id"] == found["id"]
    assert time.monotonic() - killed_at >= (GONE_AFTER - 1) * DEFAULT_INTERVAL_S  # not before it is late
    assert deployments(home, "live") == []


def test_an_unknown_state_is_refused_naming_the_field(tmp_path: Path) -> None:
    with shipyard.Client(home=tmp_path) as client, pytest.raises(InvalidInput) as refused:
        client.deployments.list_deployments(state="dead")
    assert refused.value.context["field"] == "state"


def _summary(at: int, answers: int, slow: int = 0) -> dict[str, Any]:
    metrics = Metrics()
    for i in range(answers):
        metrics.request("churn", "3", "production", 503 if i < slow else 200, 0.2 if i < slow else 0.002)
        metrics.batch("churn", "3", 4, 0.001)
    return summarize(merge([metrics.snapshot()]), at=at)


def test_a_heartbeat_keeps_the_summary_before_it_and_rates_are_their_difference(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    db.ensure_schema()
    store = SqlRegistrationStore(db)
    store.register(ServeRegistration("s1", "http://h:1", "h", 1, 0, 1_000, 2_000, (), _summary(1_000, 100)))
    assert store.heartbeat("s1", 3_000, _summary(3_000, 300, slow=20))
    assert not store.heartbeat("nobody", 3_000, None)  # a removed row: the caller registers again
    [churn] = store.get("s1").to_json(now=3_000)["live"]["models"]
    assert churn["requests_per_s"] == 100.0 and churn["errors_per_s"] == 10.0 and churn["window_s"] == 2.0
    assert churn["latency_ms"]["p99"] > 100  # the slow answers came in this interval
    assert churn["batch_sizes"] == [{"le": 4, "count": 200}] and churn["mean_batch_size"] == 4.0
    assert store.heartbeat("s1", 5_000, None)  # no summary (the metrics folder is gone): the last ones stay
    assert store.get("s1").to_json(now=5_000)["live"]["models"][0]["requests_per_s"] == 100.0
    db.dispose()


def test_registering_forgets_servers_gone_for_a_week(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    db.ensure_schema()
    store = SqlRegistrationStore(db)
    now = 10 * FORGET_AFTER_MS
    store.register(ServeRegistration("old", "http://h:1", "h", 1, 0, now - FORGET_AFTER_MS - 1, 2_000, ()))
    store.register(ServeRegistration("lost", "http://h:2", "h", 2, 0, now - 60_000, 2_000, ()))
    store.register(ServeRegistration("new", "http://h:3", "h", 3, now, now, 2_000, ()))
    assert [(r.id, r.state(now)) for r in store.list()] == [("lost", "gone"), ("new", "live")]
    db.dispose()
