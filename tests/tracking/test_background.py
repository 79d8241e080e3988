"""Work kept off the caller's path: run creation for ``start_run`` and environment capture."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

import shipyard
from shipyard import Client, Conflict, NotFound, RunStatus, StorageError
from shipyard.client import LocalBackend
from shipyard.client._background import EnvironmentRecorder, RunStarts
from shipyard.tracking import Run


def _shipyard_threads() -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("shipyard-") and t.is_alive())


def test_start_run_returns_before_the_store_is_even_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened = threading.Event()
    allowed = threading.Event()
    real = LocalBackend.tracking.fget
    assert real is not None

    def slow_store(backend: LocalBackend) -> Any:
        opened.set()
        assert allowed.wait(30), "the test never let the store open"
        return real(backend)

    monkeypatch.setattr(LocalBackend, "tracking", property(slow_store))
    client = Client(home=tmp_path)
    run = shipyard.start_run("background", client=client)  # the store cannot open yet: returns all the same
    shipyard.log_param("lr", 0.1)
    shipyard.log_metric("loss", 0.5, step=1)
    assert opened.wait(30) and not allowed.is_set()
    allowed.set()
    shipyard.end_run()
    stored = client.get_run(run.id)
    assert stored.status is RunStatus.FINISHED and stored.params == {"lr": "0.1"}
    assert stored.metrics["loss"].value == 0.5 and stored.name == run.name
    assert run.experiment_id == client.get_experiment_by_name("background").id
    assert stored.environment and "packages" in stored.environment
    client.close()


def test_a_run_that_cannot_be_created_fails_its_next_use_and_leaves_no_active_run(tmp_path: Path) -> None:
    client = Client(home=tmp_path)
    client.delete_experiment(client.create_experiment("gone").id)
    with pytest.raises(Conflict, match="deleted"), shipyard.start_run("gone", client=client) as run:
        pass  # the creation fails in the background; ending the run says why
    assert shipyard.active_run() is None
    with pytest.raises(Conflict, match="deleted"):
        client.log_metric(run.id, "loss", 1.0)  # and so does any later use of it
    with pytest.raises(NotFound):
        client.tracking_store.get_run(run.id)
    # Other runs are not held up by the failed one.
    with shipyard.start_run("kept", client=client) as kept:
        shipyard.log_metric("loss", 1.0)
    assert client.get_run(kept.id).metrics["loss"].value == 1.0
    client.close()


def test_the_environment_is_captured_off_the_callers_path_and_stored_by_end_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()

    def slow_capture() -> dict[str, Any]:
        assert release.wait(30)
        return {"python": "3.11", "packages": {"numpy": "2.0"}, "git": None}

    monkeypatch.setattr("shipyard.client._tracking.capture_environment", slow_capture)
    client = Client(home=tmp_path)
    started = time.monotonic()
    run = client.create_run("env")
    assert time.monotonic() - started < 5  # did not wait for the capture
    assert client.tracking_store.get_run(run.id).environment is None
    release.set()
    client.end_run(run.id)
    assert client.get_run(run.id).environment == {"python": "3.11", "packages": {"numpy": "2.0"}, "git": None}
    client.close()


def test_close_leaves_no_thread_behind(tmp_path: Path) -> None:
    before = _shipyard_threads()
    client = Client(home=tmp_path)
    with shipyard.start_run("threads", client=client):
        shipyard.log_metric("loss", 1.0)
        with shipyard.start_run(nested=True, client=client):
            shipyard.log_metric("loss", 2.0)
    run = client.create_run("threads")
    client.log_metric(run.id, "loss", 3.0)
    client.close()
    deadline = time.monotonic() + 10  # a thread that has finished its work may take a moment to exit
    while _shipyard_threads() != before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _shipyard_threads() == before
    with Client(home=tmp_path) as reader:
        assert reader.get_run(run.id).environment is not None  # close stored what was captured


def test_run_starts_run_in_order_and_keep_each_failure_with_its_run() -> None:
    order: list[str] = []
    starts = RunStarts()

    def create(run_id: str, fail: bool = False) -> Any:
        def job() -> Run:
            order.append(run_id)
            if fail:
                raise NotFound(f"parent of {run_id} not found")
            return Run(id=run_id, experiment_id="0", name=run_id, status=RunStatus.RUNNING, start_time=0)
        return job

    starts.submit("a", create("a"))
    starts.submit("b", create("b", fail=True))
    starts.submit("c", create("c"))
    starts.settle()
    assert order == ["a", "b", "c"] and not starts.pending
    assert starts.failed == {"b"} and isinstance(starts.failure("b"), NotFound)
    assert starts.created("c") is not None and starts.created("b") is None


def test_environment_recorder_retries_a_storage_failure_and_drops_any_other_after_raising_it() -> None:
    written: dict[str, dict[str, Any]] = {}
    # "a": the store is locked for the write on the capture thread and for the first retry.
    failures: dict[str, list[Exception]] = {"a": [StorageError("locked"), StorageError("locked")],
                                            "b": [Conflict("run deleted")]}

    def write(run_id: str, environment: dict[str, Any]) -> None:
        if failures.get(run_id):
            raise failures[run_id].pop()
        written[run_id] = environment

    recorder = EnvironmentRecorder(write, lambda: {"python": "3.11"})
    recorder.record("a")
    recorder.record("b")
    with pytest.raises(StorageError):
        recorder.flush("a")  # waits for the capture, retries the failed write: still locked
    assert written == {}
    recorder.flush("a")  # kept, and written once storage recovers
    assert written == {"a": {"python": "3.11"}}
    with pytest.raises(Conflict):
        recorder.flush("b")
    recorder.flush("b")  # raised once, then dropped: retrying cannot help
    assert "b" not in written


@pytest.mark.parametrize("bad", [{"experiment": "  "}, {"experiment": "x" * 257}, {"tags": {"bad key!": "v"}}],
                         ids=["blank-experiment", "long-experiment", "bad-tag"])
def test_start_run_refuses_bad_input_at_the_call_though_creation_is_deferred(
    tmp_path: Path, bad: dict[str, Any]
) -> None:
    from shipyard import InvalidInput

    with Client(home=tmp_path) as client:
        with pytest.raises(InvalidInput):
            shipyard.start_run(client=client, **bad)
        assert shipyard.active_run() is None
