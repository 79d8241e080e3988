"""``GET /api/v1/audit``: the registry's whole audit log, newest first, filtered and in pages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from shipyard import Client, Config
from shipyard.server import create_app
from shipyard.testing.registry import fake_package_run
from tests.services import ServerThread

API = "/api/v1/audit"


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    config = Config(home=tmp_path_factory.mktemp("audit") / "home")
    with Client(config) as client:
        registry = client.registry_store
        registry.create_registered_model("churn", actor="ana")
        run_id = fake_package_run(client.tracking_store)
        registry.create_model_version("churn", f"runs:/{run_id}/model", actor="bob")
        registry.set_alias("churn", "production", 1, actor="bob", reason="first")
        registry.create_registered_model("churn-v2", actor="ana")
        registry.create_registered_model("fraud", actor="cy")
        registry.update_registered_model("fraud", "scores payments", actor="ana")
    server = ServerThread(create_app(config)).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client_http:
            yield client_http
    finally:
        server.stop()


def entries(http: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    answer = http.get(API, params=params)
    assert answer.status_code == 200, answer.text
    assert "next_page_token" not in answer.json()
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def test_the_log_holds_every_registry_change_newest_first(http: httpx.Client) -> None:
    log = entries(http)
    assert [(e["action"], e["entity_id"], e["actor"]) for e in log] == [
        ("update_model", "fraud", "ana"), ("create_model", "fraud", "cy"), ("create_model", "churn-v2", "ana"),
        ("set_alias", "churn", "bob"), ("register", "churn/1", "bob"), ("create_model", "churn", "ana")]
    ids = [e["id"] for e in log]
    assert ids == sorted(ids, reverse=True)
    alias = log[3]
    assert alias["after"] == {"alias": "production", "version": 1} and alias["reason"] == "first"
    assert alias["forced"] is False and alias["entity_type"] == "model"


def test_the_log_filters_by_model_actor_action_and_time(http: httpx.Client) -> None:
    churn = entries(http, model="churn")  # the model and its versions, not churn-v2
    assert [(e["action"], e["entity_id"]) for e in churn] == [
        ("set_alias", "churn"), ("register", "churn/1"), ("create_model", "churn")]
    assert [e["entity_id"] for e in entries(http, actor="ana")] == ["fraud", "churn-v2", "churn"]
    assert [e["entity_id"] for e in entries(http, action="create_model", actor="ana")] == ["churn-v2", "churn"]
    everything = entries(http)
    since = everything[2]["at"]
    assert entries(http, since_ms=since) == [e for e in everything if e["at"] >= since]
    assert entries(http, model="nope") == []


def test_the_log_is_walked_in_pages_from_the_cursor(http: httpx.Client) -> None:
    walked, token, pages = [], None, 0
    while True:
        answer = http.get(API, params={"max_results": 4, **({"page_token": token} if token else {})})
        assert answer.status_code == 200
        walked += answer.json()["items"]
        pages += 1
        token = answer.json().get("next_page_token")
        if not token:
            break
    assert pages == 2 and walked == entries(http)
    for params, field in (({"page_token": "not-a-token"}, "page_token"), ({"max_results": 0}, "max_results"),
                          ({"since_ms": -1}, "since_ms")):
        bad = http.get(API, params=params)
        assert bad.status_code == 422 and bad.json()["error"]["field"] == field
