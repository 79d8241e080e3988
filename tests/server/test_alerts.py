"""``/api/v1/alerts`` over real HTTP: bad input is a 4xx naming the field, never a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shipyard import Config
from tests.services import running_server


@pytest.fixture
def api(tmp_path: Path) -> Iterator[httpx.Client]:
    # A notifier the server's configuration holds (never called here: nothing fires).
    alerts = {"notifiers": {"slack": {"type": "slack", "url": "http://127.0.0.1:9/hooks/T0/B0/x"}}}
    with running_server(Config(home=tmp_path / "server", alerts=alerts)) as server, \
            httpx.Client(base_url=server.url, timeout=30) as http:
        yield http


RULE = {"name": "acc", "condition": "accuracy < 0.85"}


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "acc", "condition": "accuracy <"}, "rule"),
    ({"name": "acc", "condition": 5}, "condition"),
    ({"name": "bad name", "condition": "accuracy < 1"}, "name"),
    ({**RULE, "severity": "loud"}, "severity"),
    ({**RULE, "replace": "yes"}, "replace"),
    ({**RULE, "enabled": "no"}, "enabled"),
    ({**RULE, "labels": "feature=age"}, "rule"),
    ({**RULE, "for_windows": "2"}, "rule"),
    ({**RULE, "repeat_interval_ms": -5}, "repeat_interval"),
    ({**RULE, "notify": [1, 2]}, "notify"),
    ({**RULE, "colour": "red"}, "colour"),
    ({"name": "acc", "series": "accuracy", "op": "<", "threshold": "high"}, "rule"),
    (["not", "an", "object"], "body"),
])
def test_bad_rules_are_422_naming_the_field(api: httpx.Client, body: Any, field: str) -> None:
    response = api.post("/api/v1/alerts/rules", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "InvalidInput" and error["field"] == field


def test_bodies_that_are_not_json_and_bad_queries_are_422(api: httpx.Client) -> None:
    not_json = api.post("/api/v1/alerts/rules", content=b"{nope", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 422 and not_json.json()["error"]["field"] == "body"
    for path, params, field in (("", {"state": "open"}, "state"), ("/history", {"max_results": 0}, "max_results"),
                                ("/history", {"max_results": "x"}, "max_results")):
        response = api.get(f"/api/v1/alerts{path}", params=params)
        assert response.status_code == 422 and response.json()["error"]["field"] == field
    for body in ({"now_ms": "soon"}, {"now_ms": -1}, {"now_ms": True}):
        response = api.post("/api/v1/alerts/evaluate", json=body)
        assert response.status_code == 422 and response.json()["error"]["field"] == "now_ms"


def test_rules_round_trip_and_conflicts(api: httpx.Client) -> None:
    created = api.post("/api/v1/alerts/rules", json={**RULE, "notify": "slack", "monitor": "churn"})
    assert created.status_code == 201
    assert created.json()["notify"] == ["slack"] and created.json()["condition"] == "accuracy < 0.85"
    assert api.post("/api/v1/alerts/rules", json=RULE).status_code == 409
    assert api.post("/api/v1/alerts/rules", json={**RULE, "replace": True}).json()["monitor"] == "*"
    assert [r["name"] for r in api.get("/api/v1/alerts/rules").json()["items"]] == ["acc"]
    assert api.get("/api/v1/alerts/rules/nope").status_code == 404
    assert api.delete("/api/v1/alerts/rules/nope").status_code == 404
    assert api.delete("/api/v1/alerts/rules/acc").status_code == 200
    assert api.get("/api/v1/alerts/rules/acc").status_code == 404
    assert api.post("/api/v1/alerts/evaluate").json() == {"items": []}


def test_a_rule_naming_a_notifier_the_server_lacks_is_422_naming_the_configured_ones(api: httpx.Client) -> None:
    response = api.post("/api/v1/alerts/rules", json={**RULE, "notify": ["slack", "pager"]})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "InvalidInput" and error["field"] == "notify" and error["unknown"] == ["pager"]
    assert error["configured"] == ["log", "slack"] and "'pager'" in error["message"]
    assert api.get("/api/v1/alerts/rules").json()["items"] == []
