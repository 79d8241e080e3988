"""``/api/v1/pipelines``: pipeline runs recorded embedded, read back through a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shipyard import Client, Config
from shipyard.pipelines import PipelineFailed, pipeline
from shipyard.server import create_app
from tests.pipelines import steps
from tests.services import ServerThread

API = "/api/v1/pipelines/runs"


@pipeline
def greeting(x: int = 3):
    return steps.with_context(x)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    """Four pipeline runs (computed, all cached, printing, failed) and one plain run, then a server."""
    home = tmp_path_factory.mktemp("pipelines")
    config = Config(home=home / "home", flush_interval=0.2)
    runs: dict[str, str] = {}
    with Client(config) as client:
        runs["computed"] = str(steps.frames.run(client=client, executor="inline").run_id)
        runs["cached"] = str(steps.frames.run(client=client, executor="inline").run_id)
        runs["printed"] = str(greeting.run(client=client, executor="inline").run_id)
        with pytest.raises(PipelineFailed) as failed:
            steps.chain.run({"log": str(home / "log.txt"), "fail_at": 3}, client=client, executor="inline")
        runs["failed"] = failed.value.run_id  # type: ignore[attr-defined]
        runs["plain"] = client.create_run("plain").id
    server = ServerThread(create_app(config)).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            yield http, runs
    finally:
        server.stop()


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def test_the_list_holds_every_pipeline_run_newest_first_and_no_other_run(recorded) -> None:
    http, runs = recorded
    listed = ok(http.get(API))
    assert [r["run_id"] for r in listed["items"]] == [runs[k] for k in ("failed", "printed", "cached", "computed")]
    assert "next_page_token" not in listed
    cached = next(r for r in listed["items"] if r["run_id"] == runs["cached"])
    assert (cached["pipeline"], cached["status"], cached["step_states"]) == ("frames", "FINISHED", {"cached": 4})
    assert cached["params"] == {"n": "10"} and cached["end_time"] >= cached["start_time"]


def test_the_list_filters_by_pipeline_and_status(recorded) -> None:
    http, runs = recorded
    frames = ok(http.get(API, params={"pipeline": "frames"}))["items"]
    assert [r["run_id"] for r in frames] == [runs["cached"], runs["computed"]]
    failed = ok(http.get(API, params={"status": "FAILED"}))["items"]
    assert [r["run_id"] for r in failed] == [runs["failed"]]
    assert ok(http.get(API, params={"pipeline": "it's none"}))["items"] == []
    bad = http.get(API, params={"status": "DONE"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "status"


def test_runs_are_walked_page_by_page_from_the_cursor(recorded) -> None:
    http, runs = recorded
    seen, token, pages = [], None, 0
    while True:
        page = ok(http.get(API, params={"max_results": 1, **({"page_token": token} if token else {})}))
        assert len(page["items"]) == 1
        seen += [r["run_id"] for r in page["items"]]
        pages += 1
        token = page.get("next_page_token")
        if not token:
            break
    assert pages == 4 and seen == [runs[k] for k in ("failed", "printed", "cached", "computed")]
    bad = http.get(API, params={"page_token": "not-a-token"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "page_token"


def test_a_run_shows_each_step_state_duration_cache_hit_and_error(recorded) -> None:
    http, runs = recorded
    computed = ok(http.get(f"{API}/{runs['computed']}"))
    assert computed["pipeline"] == "frames" and computed["status"] == "FINISHED"
    assert [s["node"] for s in computed["steps"]] == ["make_frame", "column_sum", "column_sum_2", "add"]
    assert all(s["state"] == "done" and not s["cache_hit"] and s["duration_s"] >= 0 and s["run_id"]
               for s in computed["steps"])
    cached = ok(http.get(f"{API}/{runs['cached']}"))
    assert all(s["cache_hit"] and s["run_id"] is None for s in cached["steps"])
    assert [s["cached_from"] for s in cached["steps"]] == [s["run_id"] for s in computed["steps"]]
    failed = ok(http.get(f"{API}/{runs['failed']}"))
    assert failed["status"] == "FAILED"
    broken = next(s for s in failed["steps"] if s["node"] == "always_fails")
    assert broken["state"] == "failed" and broken["attempt"] == 2
    assert broken["error"] == {"type": "ValueError", "message": "bad input 2"}


def test_a_step_log_holds_its_output_and_tracebacks(recorded) -> None:
    http, runs = recorded
    printed = ok(http.get(f"{API}/{runs['printed']}/steps/with_context/log"))
    assert printed["node"] == "with_context" and "hello from step, x=3" in printed["text"]
    failed = ok(http.get(f"{API}/{runs['failed']}/steps/always_fails/log"))["text"]
    assert "ValueError: bad input 2" in failed and "attempt 2" in failed
    cached = ok(http.get(f"{API}/{runs['cached']}/steps/add/log"))["text"]
    assert cached.startswith("[cached from run ")


def test_unknown_runs_steps_and_runs_of_no_pipeline_are_404(recorded) -> None:
    http, runs = recorded
    for path in (f"{API}/{'0' * 32}", f"{API}/{runs['plain']}", f"{API}/{runs['computed']}/steps/nope/log"):
        answer = http.get(path)
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "NotFound", path


def test_an_empty_store_lists_no_runs(tmp_path: Path) -> None:
    server = ServerThread(create_app(Config(home=tmp_path / "home"))).start()
    try:
        assert ok(httpx.get(f"{server.url}{API}", timeout=30)) == {"items": []}
    finally:
        server.stop()
