"""Every list of the tracking and registry routes comes in pages: ``max_results`` and
``page_token`` in, ``{"items", "next_page_token"?}`` out; the remote client follows them."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from shipyard import Config
from shipyard.errors import InvalidInput
from shipyard.remote import RemoteRegistryStore, RemoteTrackingStore
from shipyard.server import create_app
from shipyard.server._paging import keyset_page
from shipyard.testing.registry import fake_package_run
from tests.services import ServerThread


@dataclass
class Server:
    url: str
    http: httpx.Client
    app: Any
    run_id: str


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    app = create_app(Config(home=tmp_path_factory.mktemp("pages")))
    thread = ServerThread(app).start()
    try:
        tracking, registry = app.state.tracking, app.state.registry
        for name in ("a", "b", "c", "d"):
            tracking.create_experiment(name)
        run_id = fake_package_run(tracking)
        for path in ("notes/1.txt", "notes/2.txt", "notes/3.txt"):
            tracking.log_artifact(run_id, path, io.BytesIO(path.encode()))
        for _ in range(2):
            registry.create_model_version("churn", f"runs:/{run_id}/model")
        registry.set_alias("churn", "production", 1)
        with httpx.Client(base_url=thread.url, timeout=30) as http:
            yield Server(thread.url, http, app, run_id)
    finally:
        thread.stop()


def read_pages(http: httpx.Client, path: str, size: int, **params: Any) -> list[list[Any]]:
    """Each page of ``path``'s list, ``size`` items at most, following the tokens."""
    pages, query = [], {**params, "max_results": size}
    while True:
        answer = http.get(path, params=query)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert set(body) <= {"items", "next_page_token"}
        pages.append(body["items"])
        if "next_page_token" not in body:
            return pages
        query = {**query, "page_token": body["next_page_token"]}


def test_experiments_come_in_pages_in_id_order(server: Server) -> None:
    pages = read_pages(server.http, "/api/v1/experiments", 2)
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [e["name"] for p in pages for e in p] == ["Default", "a", "b", "c", "d"]


def test_a_page_token_names_the_last_item_so_a_change_between_pages_skips_and_repeats_nothing(
        server: Server) -> None:
    first = server.http.get("/api/v1/experiments", params={"max_results": 2}).json()
    assert [e["name"] for e in first["items"]] == ["Default", "a"]
    tracking = server.app.state.tracking
    tracking.update_experiment(tracking.get_experiment_by_name("a").id, lifecycle_stage="deleted")
    try:
        rest = server.http.get("/api/v1/experiments",
                               params={"max_results": 10, "page_token": first["next_page_token"]}).json()
        assert [e["name"] for e in rest["items"]] == ["b", "c", "d"]  # an offset would have skipped b
    finally:
        tracking.update_experiment(tracking.get_experiment_by_name("a").id, lifecycle_stage="active")


def test_a_runs_artifacts_a_versions_files_and_a_models_history_come_in_pages(server: Server) -> None:
    artifacts = read_pages(server.http, f"/api/v1/runs/{server.run_id}/artifacts", 2, prefix="notes")
    assert [[a["path"] for a in p] for p in artifacts] == [["notes/1.txt", "notes/2.txt"], ["notes/3.txt"]]
    files = read_pages(server.http, "/api/v1/registry/models/churn/versions/1/files", 1)
    assert [[f["path"] for f in p] for p in files] == [["model.pkl"], ["model.yaml"]]
    history = read_pages(server.http, "/api/v1/registry/models/churn/history", 2)
    assert [[e["action"] for e in p] for p in history] == [["register", "register"], ["set_alias"]]


def test_a_malformed_page_token_or_one_of_another_list_is_invalid_input(server: Server) -> None:
    artifacts = f"/api/v1/runs/{server.run_id}/artifacts"
    of_artifacts = server.http.get(artifacts, params={"max_results": 1}).json()["next_page_token"]
    for token in ("not-a-token", of_artifacts):
        answer = server.http.get("/api/v1/experiments", params={"page_token": token})
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["field"] == "page_token"
    assert server.http.get("/api/v1/experiments", params={"max_results": 0}).status_code == 422
    assert server.http.get(artifacts, params={"max_results": 10_001}).status_code == 422


def test_the_remote_client_reads_every_page(server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("shipyard.remote._pages.PAGE_SIZE", 2)
    tracking = RemoteTrackingStore(server.url)
    registry = RemoteRegistryStore(server.url, cache_dir=tmp_path)
    try:
        assert [e.name for e in tracking.list_experiments()] == ["Default", "a", "b", "c", "d"]
        assert [a.path for a in tracking.list_artifacts(server.run_id, "notes")] == [
            "notes/1.txt", "notes/2.txt", "notes/3.txt"]
        assert [f.path for f in registry.list_version_files("churn", 1)] == ["model.pkl", "model.yaml"]
        assert [e.action for e in registry.history("churn")] == ["register", "register", "set_alias"]
    finally:
        tracking.close()
        registry.close()


def test_keyset_pages_follow_the_key_order_whatever_the_list_order() -> None:
    items = [5, 1, 3, 2, 4]
    first = keyset_page(items, lambda x: x, 2, None)
    second = keyset_page(items + [0], lambda x: x, 2, first.next_page_token)  # 0 sorts before the token
    last = keyset_page(items, lambda x: x, 2, second.next_page_token)
    assert (first.items, second.items, last.items, last.next_page_token) == ([1, 2], [3, 4], [5], None)
    assert keyset_page([], str, 5, None).items == []
    with pytest.raises(InvalidInput) as caught:
        keyset_page(items, lambda x: x, 2, keyset_page(["a", "b"], str, 1, None).next_page_token)
    assert caught.value.context["field"] == "page_token"
