"""MLflow's error wire format: codes and statuses the client acts on, never a 5xx for bad input."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from mlflow.exceptions import MlflowException

from tests.server.mlflow.conftest import MlflowServer


def test_a_missing_run_is_resource_does_not_exist_404(client: Any) -> None:
    with pytest.raises(MlflowException) as caught:
        client.get_run("0" * 32)
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert caught.value.get_http_status_code() == 404


def test_an_unknown_route_is_endpoint_not_found_404_without_redirects(mlflow_server: MlflowServer) -> None:
    base = mlflow_server.uri
    for method, path in [("GET", "/api/2.0/mlflow/no-such-thing"), ("POST", "/api/2.0/mlflow/runs/get"),
                         ("GET", "/api/2.0/mlflow/experiments/get/"), ("GET", "/api/3.0/mlflow/traces"),
                         ("POST", "/api/2.0/mlflow-artifacts/mpu/create/x")]:
        resp = requests.request(method, base + path, allow_redirects=False, timeout=10)
        assert resp.status_code == 404, (method, path)
        assert resp.json()["error_code"] == "ENDPOINT_NOT_FOUND"


def test_the_client_reports_an_unknown_route_as_endpoint_not_found(client: Any, mlflow_server: MlflowServer) -> None:
    from mlflow.protos.service_pb2 import GetRun
    from mlflow.utils.rest_utils import MlflowHostCreds, call_endpoint

    with pytest.raises(MlflowException) as caught:
        call_endpoint(MlflowHostCreds(mlflow_server.uri), "/api/2.0/mlflow/runs/nope", "GET", None, GetRun.Response())
    assert caught.value.error_code == "ENDPOINT_NOT_FOUND"


# Each of these is the caller's mistake: the answer is a 4xx with an MLflow error body.
BAD_REQUESTS = [
    ("POST", "/api/2.0/mlflow/runs/log-metric", "{not json"),
    ("POST", "/api/2.0/mlflow/runs/log-metric", "[1, 2]"),
    ("POST", "/api/2.0/mlflow/runs/log-metric", {"run_id": "x", "key": "k", "value": 1, "timestamp": 1}),
    ("POST", "/api/2.0/mlflow/runs/log-metric", {"run_id": "0" * 32, "key": "k", "value": "abc", "timestamp": 1}),
    ("POST", "/api/2.0/mlflow/runs/log-metric", {"run_id": "0" * 32, "key": "a\x00b", "value": 1, "timestamp": 1}),
    ("POST", "/api/2.0/mlflow/runs/log-metric", {"run_id": "0" * 32, "key": "k", "value": 1, "timestamp": "x"}),
    ("POST", "/api/2.0/mlflow/runs/log-batch", {"run_id": "0" * 32, "metrics": "nope"}),
    ("POST", "/api/2.0/mlflow/runs/log-batch", {"run_id": "0" * 32, "metrics": [{"key": "k", "value": 1}]}),
    ("POST", "/api/2.0/mlflow/runs/log-batch", {"run_id": "0" * 32, "params": [{"value": "v"}]}),
    ("POST", "/api/2.0/mlflow/runs/create", {"experiment_id": "not-a-number"}),
    ("POST", "/api/2.0/mlflow/runs/create", {"experiment_id": "999999"}),
    ("POST", "/api/2.0/mlflow/runs/update", {"run_id": "0" * 32, "status": "SLEEPING"}),
    ("POST", "/api/2.0/mlflow/runs/search", {"experiment_ids": ["0"], "filter": "metrics.auc >>> 1"}),
    ("POST", "/api/2.0/mlflow/runs/search", {"experiment_ids": ["0"], "max_results": 10**9}),
    ("POST", "/api/2.0/mlflow/runs/search", {"experiment_ids": ["0"], "page_token": "garbage"}),
    ("GET", "/api/2.0/mlflow/metrics/get-history?run_id=" + "0" * 32 + "&metric_key=m&max_results=-1", None),
    ("GET", "/api/2.0/mlflow/experiments/get?experiment_id=abc", None),
    ("GET", "/api/2.0/mlflow/experiments/get-by-name", None),
    ("POST", "/api/2.0/mlflow/experiments/create", {"name": ""}),
    ("POST", "/api/2.0/mlflow/experiments/create", {"name": "x", "artifact_location": "s3://elsewhere"}),
    ("POST", "/api/2.0/mlflow/experiments/search", {"filter": "name ~ 'x'"}),
    ("GET", "/api/2.0/mlflow/registered-models/get?name=missing", None),
    ("GET", "/api/2.0/mlflow/registered-models/search?filter=name%20%3D", None),
    ("POST", "/api/2.0/mlflow/registered-models/create", {"name": "bad name!"}),
    ("GET", "/api/2.0/mlflow/model-versions/get?name=m&version=abc", None),
    ("POST", "/api/2.0/mlflow/model-versions/create", {"name": "m", "source": "runs:/short/model"}),
    ("POST", "/api/2.0/mlflow/registered-models/alias", {"name": "m", "alias": "a", "version": "1"}),
    ("GET", "/api/2.0/mlflow/logged-models/m-nope", None),
    ("PATCH", "/api/2.0/mlflow/logged-models/m-0-" + "0" * 32, {"status": "LOGGED_MODEL_READY"}),
    ("POST", "/api/2.0/mlflow/logged-models", {"experiment_id": "0", "name": "a/b"}),
    ("POST", "/api/2.0/mlflow/logged-models/search", {}),
    ("GET", "/api/2.0/mlflow-artifacts/artifacts/0/" + "0" * 32 + "/artifacts/missing.bin", None),
    ("PUT", "/api/2.0/mlflow-artifacts/artifacts/not/a/run/path", b"x"),
    ("PUT", "/api/2.0/mlflow-artifacts/artifacts/registered-models/m/1/x", b"x"),
]


@pytest.mark.parametrize(("method", "path", "body"), BAD_REQUESTS)
def test_bad_input_is_a_4xx_with_an_mlflow_error_body(
    mlflow_server: MlflowServer, method: str, path: str, body: Any
) -> None:
    kwargs: dict[str, Any] = {"timeout": 10, "allow_redirects": False}
    if isinstance(body, (str, bytes)):
        kwargs["data"] = body
    elif body is not None:
        kwargs["json"] = body
    resp = requests.request(method, mlflow_server.uri + path, **kwargs)
    assert 400 <= resp.status_code < 500, resp.text
    assert resp.json()["error_code"] in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST"), resp.text


def test_with_a_server_token_the_client_needs_mlflow_tracking_token(
    tmp_path: Any, client_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shipyard import Config
    from tests.server.mlflow.conftest import mlflow, start_server

    thread, server = start_server(Config(home=tmp_path, token="s3cret"))
    try:
        with pytest.raises(MlflowException):
            mlflow.MlflowClient(server.uri).get_experiment("0")
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "s3cret")
        assert mlflow.MlflowClient(server.uri).get_experiment("0").name == "Default"
    finally:
        thread.stop()
