"""Size limits of ``shipyard server``: bodies, uploads and values over one are refused with 413."""

from __future__ import annotations

import gc
import hashlib
import socket
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from shipyard import Client, Config
from shipyard.errors import ShipyardError, TooLarge, error_from_name
from shipyard.server._errors import STATUS_BY_ERROR
from shipyard.server.mlflow._errors import response_for
from tests.services import ServerThread, running_server

MiB = 1 << 20
LIMITS = {"max_request_bytes": 1 * MiB, "max_upload_bytes": 4 * MiB, "max_param_length": 100, "max_tag_length": 200}
RUN_PATH = "/api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts/{name}"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server")


@pytest.fixture(scope="module")
def server(home: Path) -> Iterator[ServerThread]:
    """One real server with small limits, shared by this module's tests."""
    with running_server(Config(home=home, **LIMITS)) as running:
        yield running


@pytest.fixture(scope="module")
def http(server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


@pytest.fixture
def run_id(http: httpx.Client) -> str:
    response = http.post("/api/v1/runs", json={"experiment_id": "0"})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def too_large(response: httpx.Response, limit: int) -> dict[str, Any]:
    """The error of a ``/api/v1`` 413 answer."""
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert (error["code"], error["limit"]) == ("TooLarge", limit)
    return dict(error)


def mlflow_too_large(response: httpx.Response) -> str:
    """The message of an MLflow API 413 answer."""
    assert response.status_code == 413, response.text
    body = response.json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    return str(body["message"])


def chunks(size: int, chunk: int = 256 << 10) -> Iterator[bytes]:
    """``size`` bytes as a body of unknown length (sent chunked)."""
    block = b"x" * chunk
    for _ in range(size // chunk):
        yield block


# -- request bodies ----------------------------------------------------------------------------


def test_a_declared_length_over_the_limit_is_answered_413_without_waiting_for_the_body(server: ServerThread) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST /api/v1/runs/log-batch HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000000000\r\n\r\n{\"metrics\": [")
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.endswith(b"}}"):
            received = sock.recv(65536)  # the body was never sent: the answer must not wait for it
            assert received, answer
            answer += received
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    error = orjson.loads(body)["error"]
    assert (error["code"], error["field"], error["limit"]) == ("TooLarge", "body", MiB)
    assert "1000000000" in error["message"]


@pytest.mark.parametrize("path", ["/api/v1/runs/log-batch", "/api/v1/experiments", "/api/v1/runs/search"])
def test_a_chunked_body_is_refused_once_it_passes_the_limit(http: httpx.Client, path: str) -> None:
    sent = http.post(path, content=chunks(3 * MiB), headers={"content-type": "application/json"})
    assert too_large(sent, MiB)["field"] == "body"


def test_a_body_at_the_limit_is_read_as_usual(http: httpx.Client, run_id: str) -> None:
    body = orjson.dumps({"params": [[run_id, "padding", "x"]]})
    body += b" " * (MiB - len(body))  # whitespace: still the same JSON, exactly at the limit
    assert http.post("/api/v1/runs/log-batch", content=body).status_code == 200


def test_the_mlflow_api_refuses_in_its_own_error_format(http: httpx.Client, run_id: str) -> None:
    body = orjson.dumps({"run_id": run_id, "metrics": [{"key": "m", "value": 1, "timestamp": 1, "step": 0}] * 40_000})
    assert len(body) > MiB
    assert "limit is 1048576" in mlflow_too_large(http.post("/api/2.0/mlflow/runs/log-batch", content=body))
    mlflow_too_large(http.post("/api/2.0/mlflow/runs/log-batch", content=chunks(3 * MiB)))
    assert http.get(f"/api/v1/runs/{run_id}").json()["metrics"] == {}


def test_the_limit_holds_before_authentication_reads_a_body(tmp_path: Path) -> None:
    # Authorization reads the JSON body of some routes (MLflow's log-batch names its run there):
    # the limit is the outermost layer, so no caller, with a credential or without, makes the
    # server hold more than the limit.
    with running_server(Config(home=tmp_path, token="s3cret", **LIMITS)) as running:
        url = f"{running.url}/api/2.0/mlflow/runs/log-batch"
        assert httpx.post(url, content=b"{}").status_code == 401
        mlflow_too_large(httpx.post(url, content=b"x" * (2 * MiB)))
        mlflow_too_large(httpx.post(url, content=chunks(3 * MiB), headers={"Authorization": "Bearer s3cret"}))


# -- streamed uploads --------------------------------------------------------------------------


def _objects(home: Path) -> list[Path]:
    return sorted(p for p in (home / "artifacts").rglob("*") if p.is_file())


def test_uploads_have_their_own_larger_limit_and_a_refused_one_stores_nothing(
    http: httpx.Client, home: Path, run_id: str
) -> None:
    accepted = http.put(f"/api/v1/runs/{run_id}/artifacts/weights.bin", content=b"w" * (2 * MiB))
    assert accepted.status_code == 200, accepted.text
    before = _objects(home)
    too_large(http.put(f"/api/v1/runs/{run_id}/artifacts/big.bin", content=b"b" * (5 * MiB)), 4 * MiB)
    too_large(http.put(f"/api/v1/runs/{run_id}/artifacts/big.bin", content=chunks(5 * MiB)), 4 * MiB)
    digest = hashlib.sha256(b"d" * (5 * MiB)).hexdigest()
    too_large(http.put(f"/api/v1/datasets/objects/{digest}", content=b"d" * (5 * MiB)), 4 * MiB)
    mlflow_too_large(http.put(RUN_PATH.format(run_id=run_id, name="big.bin"), content=b"b" * (5 * MiB)))
    mlflow_too_large(http.put(RUN_PATH.format(run_id=run_id, name="big.bin"), content=chunks(5 * MiB)))
    listed = http.get(f"/api/v1/runs/{run_id}/artifacts").json()["items"]
    assert [a["path"] for a in listed] == ["weights.bin"]
    assert _objects(home) == before


def test_an_upload_is_streamed_to_the_store_in_bounded_memory(tmp_path: Path) -> None:
    size = 100 * MiB
    with running_server(Config(home=tmp_path)) as running, Client(Config(home=tmp_path)) as client:
        run = client.tracking_store.create_run("0")
        gc.collect()
        tracemalloc.start()
        try:
            # The server runs in this process: its allocations are traced with the client's.
            sent = httpx.put(f"{running.url}/api/v1/runs/{run.id}/artifacts/big.bin",
                             content=chunks(size, MiB), timeout=120)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert sent.status_code == 200, sent.text
    assert sent.json()["size"] == size
    assert peak < 32 * MiB, f"uploading {size >> 20} MiB held {peak >> 20} MiB at once"


# -- param and tag values ----------------------------------------------------------------------


def test_a_value_over_the_configured_limit_is_413_naming_the_key_and_the_limit(
    http: httpx.Client, run_id: str
) -> None:
    long_param = {"params": [[run_id, "prompt", "p" * 101]]}
    error = too_large(http.post("/api/v1/runs/log-batch", json=long_param), 100)
    assert error["field"] == "prompt" and "prompt" in error["message"] and "100" in error["message"]
    error = too_large(http.post("/api/v1/runs/log-batch", json={"tags": [[run_id, "note", "t" * 201]]}), 200)
    assert error["field"] == "note"
    too_large(http.post("/api/v1/runs", json={"experiment_id": "0", "tags": {"note": "t" * 201}}), 200)
    message = mlflow_too_large(http.post("/api/2.0/mlflow/runs/log-parameter",
                                         json={"run_id": run_id, "key": "prompt", "value": "p" * 101}))
    assert "prompt" in message and "100" in message
    mlflow_too_large(http.post("/api/2.0/mlflow/runs/set-tag",
                               json={"run_id": run_id, "key": "note", "value": "t" * 201}))
    mlflow_too_large(http.post("/api/2.0/mlflow/runs/log-batch",
                               json={"run_id": run_id, "params": [{"key": "prompt", "value": "p" * 101}]}))
    run = http.get(f"/api/v1/runs/{run_id}").json()
    assert (run["params"], run["tags"]) == ({}, {})
    assert http.post("/api/v1/runs/log-batch", json={"params": [[run_id, "prompt", "p" * 100]]}).status_code == 200


def test_a_client_refuses_a_long_value_when_it_is_logged_not_at_a_later_flush(tmp_path: Path) -> None:
    with Client(Config(home=tmp_path, **LIMITS)) as client:
        run_id = client.tracking.start_run()
        with pytest.raises(TooLarge) as caught:
            client.tracking.log_param(run_id, "prompt", "p" * 101)
        assert (caught.value.field, caught.value.limit) == ("prompt", 100)  # type: ignore[attr-defined]
        with pytest.raises(TooLarge):
            client.tracking.set_tag(run_id, "note", "t" * 201)
        client.tracking.log_param(run_id, "prompt", "p" * 100)
        client.tracking.end_run(run_id)
        assert client.tracking.get_run(run_id).params == {"prompt": "p" * 100}


def test_the_server_says_its_limits(http: httpx.Client) -> None:
    assert http.get("/api/v1/limits").json() == {"max_param_length": 100, "max_tag_length": 200}


def test_a_remote_client_checks_values_against_the_servers_limits_not_its_own(server: ServerThread,
                                                                              tmp_path: Path) -> None:
    # The client's own configuration says MLflow's defaults (6,000 and 8,000); the server keeps less.
    with Client(Config(home=tmp_path, url=server.url)) as client:
        assert (client.tracking.limits.param, client.tracking.limits.tag) == (100, 200)
        run_id = client.tracking.start_run()
        with pytest.raises(TooLarge) as caught:  # at the call, not at a later flush
            client.tracking.log_param(run_id, "prompt", "p" * 101)
        assert caught.value.limit == 100  # type: ignore[attr-defined]
        with pytest.raises(TooLarge):
            client.tracking.set_tag(run_id, "note", "t" * 201)
        client.tracking.end_run(run_id)


def test_a_remote_client_logs_what_a_server_with_higher_limits_keeps(tmp_path: Path) -> None:
    with running_server(Config(home=tmp_path / "server", max_param_length=9000)) as roomy, \
            Client(Config(home=tmp_path / "client", url=roomy.url)) as client:
        run_id = client.tracking.start_run()
        client.tracking.log_param(run_id, "prompt", "p" * 7000)  # over the client's own 6,000
        client.tracking.end_run(run_id)
        assert client.tracking.get_run(run_id).params == {"prompt": "p" * 7000}


def test_autologging_through_a_server_cuts_params_at_the_servers_limit(server: ServerThread, tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    import shipyard

    x = [[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [0.2, 0.9]]
    with Client(Config(home=tmp_path, url=server.url)) as client:
        shipyard.autolog(client=client, log_models=False)
        try:
            LogisticRegression(class_weight={i: 1.0 for i in range(200)}).fit(x, [0, 1, 0, 1])
        finally:
            shipyard.autolog(disable=True)
        client.flush()
        fitted = next(r for r in client.search_runs("Default").items if "class_weight" in r.params)
    assert len(fitted.params["class_weight"]) == 100  # the server's limit, not the client's 6,000
    assert fitted.status.value == "FINISHED"


# -- the error tables --------------------------------------------------------------------------


def test_too_large_is_413_in_both_apis_and_crosses_the_wire_as_itself() -> None:
    exc = TooLarge("param 'p' has a value of 7 characters; the limit is 6", field="p", limit=6)
    assert next(status for cls, status in STATUS_BY_ERROR if isinstance(exc, cls)) == 413
    answer = response_for(exc, "POST", "/api/2.0/mlflow/runs/log-parameter")
    assert answer.status_code == 413
    assert orjson.loads(answer.body)["error_code"] == "INVALID_PARAMETER_VALUE"
    rebuilt: ShipyardError = error_from_name("TooLarge", exc.message, **exc.context)
    assert type(rebuilt) is TooLarge and rebuilt.limit == 6  # type: ignore[attr-defined]
