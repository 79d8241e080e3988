"""``POST /api/v1/runs/record``: whole runs in one request; malformed bodies are 422 naming the field."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shipyard import Config
from tests.server.test_errors import error_of
from tests.services import running_server


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    home: Path = tmp_path_factory.mktemp("server")
    with running_server(Config(home=home)) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def test_a_record_is_written_and_read_back(http: httpx.Client) -> None:
    body = {"runs": [{"experiment_id": "0", "name": "step", "params": {"x": "1"},
                      "metrics": [["loss", "NaN", 5, 0]], "artifacts": {"a.txt": base64.b64encode(b"hi").decode()}}]}
    response = http.post("/api/v1/runs/record", json=body)
    assert response.status_code == 200, response.text
    [run_id] = response.json()["run_ids"]
    run = http.get(f"/api/v1/runs/{run_id}").json()
    assert (run["status"], run["params"], run["metrics"]["loss"]["value"]) == ("FINISHED", {"x": "1"}, "NaN")
    assert http.get(f"/api/v1/runs/{run_id}/artifacts/a.txt").content == b"hi"


@pytest.mark.parametrize(("body", "field"), [
    ({"runs": "x"}, "runs"),
    ({"runs": [1]}, "runs[0]"),
    ({"runs": [{}]}, "runs[0].experiment_id"),
    ({"runs": [{"experiment_id": "0", "colour": "red"}]}, "runs[0].colour"),
    ({"runs": [{"experiment_id": "0", "status": "DONE"}]}, "runs[0].status"),
    ({"runs": [{"experiment_id": "0", "metrics": [["loss", 1.0]]}]}, "runs[0].metrics[0]"),
    ({"runs": [{"experiment_id": "0", "metrics": [["loss", "abc", 1, 0]]}]}, "runs[0].metrics[0].value"),
    ({"runs": [{"experiment_id": "0", "metrics": [["loss", 1.0, 1, "x"]]}]}, "runs[0].metrics[0].step"),
    ({"runs": [{"experiment_id": "0", "artifacts": {"a.txt": "not base64!"}}]}, "runs[0].artifacts.a.txt"),
    ({"runs": [{"experiment_id": "0", "artifacts": {"../a": "eA=="}}]}, "runs[0].artifacts.path"),
    ({"runs": [{"experiment_id": "0", "params": {"lr": 0.1}}]}, "runs[0].params.lr"),
    ({"runs": [{"experiment_id": 0}]}, "runs[0].experiment_id"),
    ({"runs": [{"experiment_id": "0", "start_time": "noon"}]}, "runs[0].start_time"),
])
def test_a_malformed_body_is_422_naming_the_field(http: httpx.Client, body: Any, field: str) -> None:
    error = error_of(http.post("/api/v1/runs/record", json=body), 422)
    assert (error["code"], error["field"]) == ("InvalidInput", field)


def test_a_body_that_is_not_json_is_422(http: httpx.Client) -> None:
    error = error_of(http.post("/api/v1/runs/record", content=b"{nope",
                               headers={"content-type": "application/json"}), 422)
    assert (error["code"], error["field"]) == ("InvalidInput", "body")
