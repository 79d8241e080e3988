"""Error answers of ``shipyard server``: the right status, a JSON body, never a 5xx."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from shipyard import Config
from tests.services import PG_ADMIN_URL, running_server

UNKNOWN_RUN = "0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A client of one real server on SQLite, shared by this module's tests."""
    home: Path = tmp_path_factory.mktemp("server")
    with running_server(Config(home=home)) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def run_id(http: httpx.Client) -> str:
    response = http.post("/api/v1/runs", json={"experiment_id": "0"})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """The ``error`` object of a JSON error answer with ``status``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str) and error["message"]
    return dict(error)


def test_unknown_run_is_404_not_found(http: httpx.Client) -> None:
    error = error_of(http.get(f"/api/v1/runs/{UNKNOWN_RUN}"), 404)
    assert error["code"] == "NotFound"
    assert UNKNOWN_RUN in error["message"]


def test_duplicate_experiment_is_409_already_exists(http: httpx.Client) -> None:
    assert http.post("/api/v1/experiments", json={"name": "dup"}).status_code == 200
    error = error_of(http.post("/api/v1/experiments", json={"name": "dup"}), 409)
    assert error["code"] == "AlreadyExists"
    assert "dup" in error["message"]


def test_experiment_without_name_is_422_naming_the_field(http: httpx.Client) -> None:
    error = error_of(http.post("/api/v1/experiments", json={}), 422)
    assert error["code"] == "InvalidInput"
    assert error["field"] == "name"
    assert "name" in error["message"]


def test_log_batch_with_a_body_that_is_not_json_is_422(http: httpx.Client) -> None:
    response = http.post("/api/v1/runs/log-batch", content=b"{not json",
                         headers={"content-type": "application/json"})
    error = error_of(response, 422)
    assert (error["code"], error["field"]) == ("InvalidInput", "body")


def test_log_batch_with_a_non_numeric_metric_is_422_naming_the_field(http: httpx.Client, run_id: str) -> None:
    body = {"metrics": [[run_id, "loss", "abc", 1, 0]]}
    error = error_of(http.post("/api/v1/runs/log-batch", json=body), 422)
    assert error["code"] == "InvalidInput"
    assert error["field"] == "metrics[0].value"
    assert "abc" in error["message"]


@pytest.mark.parametrize("key", ["bad key!", "../up", "", "a" * 251])
def test_log_batch_with_an_illegal_key_is_422(http: httpx.Client, run_id: str, key: str) -> None:
    body = {"metrics": [[run_id, key, 1.0, 1, 0]]}
    error = error_of(http.post("/api/v1/runs/log-batch", json=body), 422)
    assert (error["code"], error["field"]) == ("InvalidInput", "key")


def test_run_id_that_is_not_hex_is_422(http: httpx.Client) -> None:
    error = error_of(http.get("/api/v1/runs/not-hex"), 422)
    assert (error["code"], error["field"]) == ("InvalidInput", "run_id")


def test_unknown_route_is_a_json_404(http: httpx.Client) -> None:
    error = error_of(http.get("/api/v1/no-such-thing"), 404)
    assert error["code"] == "NotFound"


def test_malformed_search_filter_is_422_with_its_position(http: httpx.Client) -> None:
    body = {"experiment_ids": ["0"], "filter": "metrics.auc >> 1"}
    error = error_of(http.post("/api/v1/runs/search", json=body), 422)
    assert (error["code"], error["field"]) == ("InvalidInput", "filter")
    assert error["position"] == 13
    assert "position 13" in error["message"]


# -- malformed bodies, on both metadata databases ------------------------------------


@dataclass(frozen=True)
class Served:
    backend: str
    http: httpx.Client
    run_id: str


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A real server on SQLite or on a fresh PostgreSQL schema, with one run in it."""
    home = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    if request.param == "sqlite":
        yield from _serve("sqlite", Config(home=home))
        return
    engine: sa.Engine = request.getfixturevalue("pg_engine")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
        yield from _serve("postgres", Config(home=home, db=url))
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


def _serve(backend: str, config: Config) -> Iterator[Served]:
    with running_server(config) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        response = http.post("/api/v1/runs", json={"experiment_id": "0"})
        assert response.status_code == 200, response.text
        yield Served(backend, http, response.json()["id"])


JSON_VALUES: list[Any] = [
    None, True, False, 0, -1, 3.5, -1e9, "", "x", "0", "NaN", "é" * 200, UNKNOWN_RUN,
    [], [1], ["0"], [None], [[]], {}, {"a": 1}, {"a": None}, {"": ""}, [{"a": [1, {}]}],
]


def malformed_requests(run_id: str, values: list[Any]) -> list[tuple[str, Any]]:
    """Each field of run create, search and log batch set to each of ``values``."""
    requests: list[tuple[str, Any]] = []
    run_fields = ["experiment_id", "name", "start_time", "tags", "parent_run_id", "user",
                  "environment", "run_id"]
    search_fields = ["experiment_ids", "filter", "order_by", "max_results", "page_token",
                     "include_deleted"]
    for value in values:
        requests += [("/api/v1/runs", {"experiment_id": "0", f: value}) for f in run_fields]
        requests += [("/api/v1/runs/search", {"experiment_ids": ["0"], f: value}) for f in search_fields]
        for kind in ("metrics", "params", "tags"):
            requests.append(("/api/v1/runs/log-batch", {kind: value}))
            requests.append(("/api/v1/runs/log-batch", {kind: [value]}))
        for i in range(5):
            metric: list[Any] = [run_id, "loss", 1.0, 1, 0]
            metric[i] = value
            requests.append(("/api/v1/runs/log-batch", {"metrics": [metric]}))
        for i, kind in itertools.product(range(3), ("params", "tags")):
            entry: list[Any] = [run_id, "k", "v"]
            entry[i] = value
            requests.append(("/api/v1/runs/log-batch", {kind: [entry]}))
    requests += [(path, value) for path in ("/api/v1/runs", "/api/v1/runs/search", "/api/v1/runs/log-batch")
                 for value in values if not isinstance(value, dict)]
    return requests


def server_errors(http: httpx.Client, requests: list[tuple[str, Any]]) -> tuple[list[str], int]:
    """The requests answered with a 5xx (or a dropped connection), and how many were refused."""
    failures, refused = [], 0
    for path, body in requests:
        try:
            response = http.post(path, json=body)
        except httpx.TransportError as exc:  # the server dropped the connection after a crash
            failures.append(f"{path} {body!r:.120}: {exc!r}")
            continue
        if response.status_code >= 500:
            failures.append(f"{path} {body!r:.120}: {response.status_code} {response.text[:160]}")
        elif response.status_code >= 400:
            refused += 1
            error = error_of(response, response.status_code)
            assert error["code"] in ("InvalidInput", "NotFound", "Conflict")
    return failures, refused


def test_malformed_bodies_get_a_json_error_and_never_a_server_error(served: Served) -> None:
    requests = malformed_requests(served.run_id, JSON_VALUES)
    assert len(requests) > 50
    failures, refused = server_errors(served.http, requests)
    assert failures == [], "\n".join(failures)
    assert refused > len(requests) // 2  # most of these are nonsense and must be refused


def test_text_with_nul_characters_is_refused_or_stored_never_a_server_error(
    served: Served, request: pytest.FixtureRequest
) -> None:
    requests = malformed_requests(served.run_id, ["\x00", "a\x00b"])
    requests += [("/api/v1/experiments", {"name": "x\x00"}),
                 ("/api/v1/runs/search", {"experiment_ids": ["0"], "filter": "tags.t = 'a\x00'"}),
                 ("/api/v1/runs/search", {"experiment_ids": ["0"], "filter": "name LIKE '%\x00'"})]
    failures, _ = server_errors(served.http, requests)
    assert failures == [], "\n".join(failures)


def test_text_longer_than_its_column_is_422_on_every_database(served: Served) -> None:
    bodies = [
        ("/api/v1/runs", {"experiment_id": "0", "user": "u" * 257}),
        ("/api/v1/experiments", {"name": f"e-{uuid.uuid4().hex}", "artifact_location": "/" + "p" * 1100}),
    ]
    statuses = [served.http.post(path, json=body).status_code for path, body in bodies]
    assert statuses == [422, 422]


OUT_OF_RANGE = [2**63, 2**70, 1e300, -1e300]


def test_integers_beyond_64_bits_are_422_not_500(served: Served) -> None:
    run_id = served.run_id
    bodies: list[tuple[str, Any]] = []
    for big in OUT_OF_RANGE:
        bodies += [
            ("/api/v1/runs", {"experiment_id": "0", "start_time": big}),
            ("/api/v1/runs/log-batch", {"metrics": [[run_id, "loss", 1.0, big, 0]]}),
            ("/api/v1/runs/log-batch", {"metrics": [[run_id, "loss", 1.0, 1, big]]}),
            ("/api/v1/runs/search", {"experiment_ids": [str(int(big))]}),
            ("/api/v1/runs/search", {"experiment_ids": ["0"], "filter": f"start_time > {int(big)}"}),
        ]
    wrong = []
    for path, body in bodies:
        try:
            status = served.http.post(path, json=body).status_code
        except httpx.TransportError:  # the server dropped the connection after a crash
            status = 599
        if status != 422:
            wrong.append(f"{path} {body!r:.120}: {status}")
    assert wrong == [], "\n".join(wrong)
