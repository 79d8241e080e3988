"""The remote client retries only what is safe to repeat, within its budget; keyed writes land once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from shipyard import Config
from shipyard.errors import NotFound, Unavailable
from shipyard.remote import RemoteTrackingStore, RetryPolicy
from shipyard.server import create_app
from shipyard.tracking import LogBatch
from tests.services import ServerThread

_FAST = RetryPolicy(attempts=5, max_wait=10.0, wait_initial=0.01, wait_cap=0.05, wait_jitter=0.01)


@dataclass
class _Fault:
    method: str
    path: str
    kind: str  # "503", "429" or "lose" (the request is served, its response never arrives)
    times: int
    retry_after: str | None = None


@dataclass
class Faulty:
    """An ASGI wrapper around the real app that fails chosen requests, and records every request."""

    app: Any
    faults: list[_Fault] = field(default_factory=list)
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)

    def fail(self, method: str, path: str, kind: str, times: int = 1, retry_after: str | None = None) -> None:
        self.faults.append(_Fault(method, path, kind, times, retry_after))

    def hits(self, method: str, path: str) -> list[str | None]:
        """The Idempotency-Key of each request to ``method path``, in order (None: none sent)."""
        return [key for m, p, key in self.seen if (m, p) == (method, path)]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        key = headers.get(b"idempotency-key")
        self.seen.append((scope["method"], scope["path"], key.decode() if key else None))
        fault = next((f for f in self.faults if (f.method, f.path) == (scope["method"], scope["path"])
                      and f.times > 0), None)
        if fault is None:
            await self.app(scope, receive, send)
            return
        fault.times -= 1
        if fault.kind == "lose":
            async def swallow(_message: Any) -> None:
                pass

            await self.app(scope, receive, swallow)  # the write happens; its answer is dropped
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", b"100")]})
            raise ConnectionAbortedError("response lost on the way")  # the server hangs up mid-body
        extra = [(b"retry-after", fault.retry_after.encode())] if fault.retry_after else []
        body = orjson.dumps({"error": {"type": "Unavailable", "message": "try again"}})
        await send({"type": "http.response.start", "status": int(fault.kind),
                    "headers": [(b"content-type", b"application/json"), *extra]})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
def faulty(tmp_path: Path) -> Iterator[tuple[Faulty, str]]:
    app = Faulty(create_app(Config(home=tmp_path / "server")))
    server = ServerThread(app).start()
    try:
        yield app, server.url
    finally:
        server.stop()


@pytest.fixture
def store(faulty: tuple[Faulty, str]) -> Iterator[RemoteTrackingStore]:
    s = RemoteTrackingStore(faulty[1], retry=_FAST)
    yield s
    s.close()


def test_an_idempotent_get_succeeds_after_transient_503s(faulty: tuple[Faulty, str],
                                                         store: RemoteTrackingStore) -> None:
    app, _ = faulty
    app.fail("GET", "/api/v1/experiments", "503", times=2)
    assert [e.name for e in store.list_experiments()] == ["Default"]
    assert len(app.hits("GET", "/api/v1/experiments")) == 3


def test_a_429_is_retried_after_the_wait_retry_after_asks(faulty: tuple[Faulty, str],
                                                          store: RemoteTrackingStore) -> None:
    app, _ = faulty
    app.fail("GET", "/api/v1/experiments", "429", times=1, retry_after="0.5")
    started = time.monotonic()
    store.list_experiments()
    assert time.monotonic() - started >= 0.5
    assert len(app.hits("GET", "/api/v1/experiments")) == 2


def test_a_log_batch_whose_response_is_lost_is_stored_exactly_once(faulty: tuple[Faulty, str],
                                                                   store: RemoteTrackingStore) -> None:
    app, _ = faulty
    run = store.create_run("0")
    app.fail("POST", "/api/v1/runs/log-batch", "lose", times=1)
    store.log_batch(LogBatch(metrics=[(run.id, "loss", 0.5, 1, step) for step in range(3)]))
    keys = app.hits("POST", "/api/v1/runs/log-batch")
    assert len(keys) == 2 and keys[0] is not None and keys[0] == keys[1]  # one logical write, one key
    points = store.get_metric_history(run.id, "loss").items
    assert [m.step for m in points] == [0, 1, 2]


def test_each_log_batch_gets_its_own_key(faulty: tuple[Faulty, str], store: RemoteTrackingStore) -> None:
    app, _ = faulty
    run = store.create_run("0")
    for step in range(2):
        store.log_batch(LogBatch(metrics=[(run.id, "loss", 0.5, 1, step)]))
    keys = app.hits("POST", "/api/v1/runs/log-batch")
    assert len(set(keys)) == 2 and None not in keys
    assert [m.step for m in store.get_metric_history(run.id, "loss").items] == [0, 1]


def test_record_runs_whose_response_is_lost_records_each_run_once(faulty: tuple[Faulty, str],
                                                                  store: RemoteTrackingStore) -> None:
    from shipyard.tracking import RunRecord

    app, _ = faulty
    app.fail("POST", "/api/v1/runs/record", "lose", times=1)
    [run_id] = store.record_runs([RunRecord(experiment_id="0", name="once")])
    assert len(app.hits("POST", "/api/v1/runs/record")) == 2
    assert [r.id for r in store.search_runs(["0"]).items] == [run_id]


def test_a_post_without_a_key_is_not_retried(faulty: tuple[Faulty, str], store: RemoteTrackingStore) -> None:
    app, _ = faulty
    app.fail("POST", "/api/v1/runs", "503", times=1)
    with pytest.raises(Unavailable):
        store.create_run("0")
    assert app.hits("POST", "/api/v1/runs") == [None]


def test_a_4xx_is_never_retried(faulty: tuple[Faulty, str], store: RemoteTrackingStore) -> None:
    app, _ = faulty
    with pytest.raises(NotFound):
        store.get_experiment("12345")
    assert len(app.hits("GET", "/api/v1/experiments/12345")) == 1


def test_the_attempts_budget_is_honoured(faulty: tuple[Faulty, str]) -> None:
    app, url = faulty
    app.fail("GET", "/api/v1/experiments", "503", times=100)
    store = RemoteTrackingStore(url, retry=RetryPolicy(attempts=3, max_wait=10.0, wait_initial=0.01,
                                                       wait_cap=0.05, wait_jitter=0.01))
    with pytest.raises(Unavailable):
        store.list_experiments()
    store.close()
    assert len(app.hits("GET", "/api/v1/experiments")) == 3


def test_the_time_budget_is_honoured(faulty: tuple[Faulty, str]) -> None:
    app, url = faulty
    app.fail("GET", "/api/v1/experiments", "503", times=10_000)
    store = RemoteTrackingStore(url, retry=RetryPolicy(attempts=10_000, max_wait=1.0, wait_initial=0.05,
                                                       wait_cap=0.1, wait_jitter=0.01))
    started = time.monotonic()
    with pytest.raises(Unavailable):
        store.list_experiments()
    store.close()
    assert time.monotonic() - started < 3.0
    assert len(app.hits("GET", "/api/v1/experiments")) > 2


def test_a_retry_after_beyond_the_budget_gives_up_at_once(faulty: tuple[Faulty, str]) -> None:
    app, url = faulty
    app.fail("GET", "/api/v1/experiments", "503", times=5, retry_after="120")
    store = RemoteTrackingStore(url, retry=RetryPolicy(attempts=5, max_wait=2.0))
    started = time.monotonic()
    with pytest.raises(Unavailable):
        store.list_experiments()
    store.close()
    assert time.monotonic() - started < 1.0
    assert len(app.hits("GET", "/api/v1/experiments")) == 1


def test_one_attempt_means_no_retry(faulty: tuple[Faulty, str]) -> None:
    app, url = faulty
    app.fail("GET", "/api/v1/experiments", "503", times=1)
    store = RemoteTrackingStore(url, retry=RetryPolicy(attempts=1))
    with pytest.raises(Unavailable):
        store.list_experiments()
    store.close()
    assert len(app.hits("GET", "/api/v1/experiments")) == 1


def test_the_server_answers_a_repeated_key_with_the_stored_response_without_writing_again(
    faulty: tuple[Faulty, str], store: RemoteTrackingStore
) -> None:
    _, url = faulty
    run = store.create_run("0")
    body = {"metrics": [[run.id, "loss", 1.0, 1, 0]]}
    headers = {"Idempotency-Key": "k-1"}
    with httpx.Client(base_url=url) as http:
        first = http.post("/api/v1/runs/log-batch", json=body, headers=headers)
        second = http.post("/api/v1/runs/log-batch", json=body, headers=headers)
        other_route = http.post("/api/v1/runs/record", json={"runs": []}, headers=headers)
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.content == second.content
    assert len(store.get_metric_history(run.id, "loss").items) == 1
    assert other_route.status_code == 409 and other_route.json()["error"]["field"] == "Idempotency-Key"


def test_a_refused_keyed_write_is_refused_again_on_retry(faulty: tuple[Faulty, str]) -> None:
    _, url = faulty
    body = {"metrics": [["0" * 32, "loss", 1.0, 1, 0]]}
    with httpx.Client(base_url=url) as http:
        answers = [http.post("/api/v1/runs/log-batch", json=body, headers={"Idempotency-Key": "k-2"})
                   for _ in range(2)]
    assert [a.status_code for a in answers] == [404, 404]
    assert answers[0].json() == answers[1].json()


def test_a_retry_policy_comes_from_the_config() -> None:
    policy = RetryPolicy.from_config(Config(retries=2, retry_max_wait=4.5))
    assert (policy.attempts, policy.max_wait) == (2, 4.5)
