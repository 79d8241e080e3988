"""The HTTP face in one process: protocols, status codes, headers, versions, routes, the log."""

from __future__ import annotations

import io
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import orjson
import pandas as pd
import pytest

import shipyard
from shipyard.serving import BatchingConfig, InferenceLogConfig, ModelConfig, ServeConfig, Shadow, Target
from tests.serving.conftest import COLUMNS, in_process, table


def split_body(frame: pd.DataFrame) -> dict:
    return {"dataframe_split": {"columns": list(frame.columns), "data": frame.to_numpy().tolist()}}


def v2_body(rows: np.ndarray, name: str = "input", outputs: list[str] | None = None) -> dict:
    body: dict = {"inputs": [{"name": name, "shape": list(rows.shape), "datatype": "FP64",
                              "data": rows.ravel().tolist()}]}
    if outputs:
        body["outputs"] = [{"name": o} for o in outputs]
    return body


def test_invocations_answer_like_mlflow_with_version_and_request_id(client: shipyard.Client) -> None:
    x = table(3)
    expected = client.load_model("models:/lr/1").predict(x).tolist()
    with in_process(ServeConfig.for_uri("models:/lr@production"), client) as server:
        r = httpx.post(f"{server.url}/invocations", json=split_body(x), headers={"x-request-id": "abc-1"})
        assert r.status_code == 200, r.text
        assert r.json() == {"predictions": expected}
        assert r.headers["shipyard-model-version"] == "1" and r.headers["x-request-id"] == "abc-1"
        generated = httpx.post(f"{server.url}/invocations", json=split_body(x)).headers["x-request-id"]
        assert len(generated) == 32


def test_requests_without_a_content_type_are_accepted(client: shipyard.Client) -> None:
    with in_process(ServeConfig.for_uri("models:/sum@production"), client) as server:
        for path, body in (("/invocations", {"inputs": [[1, 2, 3]]}),
                           ("/v2/models/sum/infer", v2_body(np.array([[1.0, 2, 3]])))):
            request = httpx.Request("POST", f"{server.url}{path}", content=orjson.dumps(body))
            assert "content-type" not in request.headers
            with httpx.Client() as http:
                assert http.send(request).status_code == 200


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"dataframe_records": [{"f0": 1.0}]}, 422, "f1"),
    ({"dataframe_records": [{**{c: 0.0 for c in COLUMNS}, "f3": "high"}]}, 422, "f3"),
    ({"dataframe_records": [{**{c: 0.0 for c in COLUMNS}, "f7": None}]}, 422, "f7"),
    ({"dataframe_split": {"columns": COLUMNS, "data": []}}, 400, None),
    ({"inputs": [[1.0, 2.0]]}, 422, None),
    ({"dataframes": []}, 400, None),
])
def test_bad_input_is_refused_at_the_door_naming_the_column(client: shipyard.Client, body: dict, status: int,
                                                            field: str | None) -> None:
    with in_process(ServeConfig.for_uri("models:/lr@production"), client) as server:
        r = httpx.post(f"{server.url}/invocations", json=body)
        assert r.status_code == status, r.text
        assert r.json()["error_code"] == "BAD_REQUEST"
        if field:
            assert repr(field) in r.json()["message"]


def test_v2_errors_are_json_with_an_error_string(client: shipyard.Client) -> None:
    with in_process(ServeConfig.for_uri("models:/sum@production", max_request_bytes=2048), client) as server:
        cases = [
            (b"{not json", 400), (orjson.dumps(v2_body(np.ones((1, 4)))), 422),
            (orjson.dumps({"inputs": [{"name": "input", "shape": [9], "datatype": "FP64", "data": [1]}]}), 400),
            (b"x" * 4096, 413),
        ]
        for body, status in cases:
            r = httpx.post(f"{server.url}/v2/models/sum/infer", content=body)
            assert r.status_code == status and isinstance(r.json()["error"], str), (status, r.text)
        binary = httpx.post(f"{server.url}/v2/models/sum/infer", content=b"{}",
                            headers={"Inference-Header-Content-Length": "2"})
        assert binary.status_code == 400 and "binary" in binary.json()["error"]
        assert httpx.post(f"{server.url}/v2/models/nope/infer", json={}).status_code == 404
        assert httpx.get(f"{server.url}/v2/models/sum/infer").status_code == 405
        assert httpx.get(f"{server.url}/nowhere").status_code == 404


def test_v2_health_metadata_and_versions(client: shipyard.Client) -> None:
    with in_process(ServeConfig.for_uri("models:/lr@production"), client) as server:
        assert httpx.get(f"{server.url}/v2/health/live").status_code == 200
        assert httpx.get(f"{server.url}/v2/health/ready").json() == {"ready": True}
        assert httpx.get(f"{server.url}/v2").json()["name"] == "shipyard"
        meta = httpx.get(f"{server.url}/v2/models/lr").json()
        assert meta["versions"] == ["1"] and [i["name"] for i in meta["inputs"]] == COLUMNS
        assert [o["name"] for o in meta["outputs"]] == ["predict", "predict_proba"]
        assert httpx.get(f"{server.url}/v2/models/lr/versions/1/ready").json()["ready"] is True
        assert httpx.get(f"{server.url}/v2/models/lr/versions/7").status_code == 404
        r = httpx.post(f"{server.url}/v2/models/lr/versions/1/infer",
                       json=v2_body(table(2).to_numpy(), outputs=["predict", "predict_proba"]))
        outputs = {o["name"]: o for o in r.json()["outputs"]}
        assert outputs["predict_proba"]["shape"] == [2, 2] and outputs["predict"]["datatype"] == "INT64"
        assert httpx.get(f"{server.url}/ping").status_code == 200
        assert httpx.get(f"{server.url}/version").text == shipyard.__version__


def test_a_model_that_raises_fails_only_that_request(client: shipyard.Client) -> None:
    config = ServeConfig.for_uri("models:/fragile/1")
    with in_process(config, client) as server, ThreadPoolExecutor(8) as pool:
        rows = [[-1.0, 0, 0] if i == 3 else [float(i), 0, 0] for i in range(16)]
        results = list(pool.map(lambda row: httpx.post(f"{server.url}/invocations", json={"inputs": [row]}), rows))
        assert [r.status_code for r in results] == [500 if i == 3 else 200 for i in range(16)]
        assert "ValueError" in results[3].json()["message"]
        assert results[5].json() == {"predictions": [5.0]}
        metrics = httpx.get(f"{server.url}/metrics").text
        assert 'shipyard_model_errors_total{model="fragile",version="1"} 1' in metrics


def test_overload_answers_503_with_retry_after_and_timeouts_504(client: shipyard.Client) -> None:
    model = ModelConfig("slow", (Target("models:/slow/1"),), batching=BatchingConfig(enabled=False), max_queue=2,
                        timeout_s=5)
    with in_process(ServeConfig(models=(model,)), client) as server, ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda _: httpx.post(f"{server.url}/invocations", json={"inputs": [[1, 2, 3]]},
                                                     timeout=30), range(16)))
        codes = sorted(r.status_code for r in results)
        assert 503 in codes and 200 in codes and set(codes) <= {200, 503}
        refused = next(r for r in results if r.status_code == 503)
        assert int(refused.headers["retry-after"]) >= 1
    quick = ModelConfig("slow", (Target("models:/slow/1"),), timeout_s=0.01)
    with in_process(ServeConfig(models=(quick,)), client) as server:
        assert httpx.post(f"{server.url}/invocations", json={"inputs": [[1, 2, 3]]}).status_code == 504


def test_a_full_model_refuses_before_reading_the_body(client: shipyard.Client) -> None:
    model = ModelConfig("sum", (Target("models:/sum/1"),), batching=BatchingConfig(enabled=False), max_queue=1)
    head = (b"POST /invocations HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n")
    body = b'{"inputs": [[1, 2, 3]]}'

    def answer(sock: socket.socket) -> bytes:
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(4096)
            assert chunk, "the server closed the connection"
            received += chunk
        return received

    with in_process(ServeConfig(models=(model,)), client) as server:
        address = ("127.0.0.1", server.port)
        with socket.create_connection(address, timeout=5) as first, \
                socket.create_connection(address, timeout=5) as second:
            first.sendall(head % len(body))  # admitted: its place is held while the body is awaited
            deadline = time.monotonic() + 10
            while 'shipyard_requests_in_progress{model="sum"} 1' not in httpx.get(f"{server.url}/metrics").text:
                assert time.monotonic() < deadline, "the first request was not admitted"
                time.sleep(0.02)
            started = time.monotonic()
            second.sendall(head % 1000)  # the queue is full: refused without a byte of its body
            refused = answer(second)
            elapsed = time.monotonic() - started
            first.sendall(body)
            served = answer(first)
        assert refused.startswith(b"HTTP/1.1 503 "), refused
        assert b"retry-after: " in refused.lower()
        assert elapsed < 1.0
        assert served.startswith(b"HTTP/1.1 200 "), served


def test_an_alias_move_is_followed_with_no_failed_request(client: shipyard.Client) -> None:
    model = ModelConfig.for_uri("models:/sum@production", poll_interval_s=0.2)
    with in_process(ServeConfig(models=(model,)), client) as server:
        seen: list[tuple[int, str, float]] = []
        stop = threading.Event()

        def load() -> None:
            with httpx.Client() as http:
                while not stop.is_set():
                    r = http.post(f"{server.url}/invocations", json={"inputs": [[1, 2, 3]]})
                    seen.append((r.status_code, r.headers.get("shipyard-model-version", ""),
                                 r.json()["predictions"][0] if r.status_code == 200 else 0))

        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        client.set_alias("sum", "production", 2)
        deadline = time.monotonic() + 10
        while not any(v == "2" for _, v, _ in seen[-20:]) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join()
    assert {code for code, _, _ in seen} == {200}
    assert {(v, p) for _, v, p in seen} == {("1", 6.0), ("2", 1006.0)}
    assert seen[-1][1] == "2"


def test_admin_reload_switches_at_once(client: shipyard.Client) -> None:
    model = ModelConfig.for_uri("models:/sum@production", poll_interval_s=0)
    with in_process(ServeConfig(models=(model,)), client) as server:
        client.set_alias("sum", "production", 3)
        assert httpx.post(f"{server.url}/invocations", json={"inputs": [[1, 2, 3]]}).json() == {"predictions": [6.0]}
        r = httpx.post(f"{server.url}/admin/reload")
        assert r.json() == {"models": {"sum": {"production": "3"}}}
        assert httpx.post(f"{server.url}/invocations", json={"inputs": [[1, 2, 3]]}).json() == {"predictions": [2006.0]}


def test_canary_splits_by_weight_and_sticks_by_key(client: shipyard.Client) -> None:
    model = ModelConfig("sum", (Target("models:/sum@production", 70), Target("models:/sum@challenger", 30)))
    with in_process(ServeConfig(models=(model,)), client) as server, httpx.Client() as http:
        versions = [http.post(f"{server.url}/invocations", json={"inputs": [[1, 2, 3]]})
                    .headers["shipyard-model-version"] for _ in range(300)]
        assert 0.55 < versions.count("1") / 300 < 0.85 and set(versions) == {"1", "2"}
        for key in ("alice", "bob", "carol"):
            sticky = {http.post(f"{server.url}/invocations", json={"inputs": [[1, 2, 3]]},
                                headers={"shipyard-route-key": key}).headers["shipyard-model-version"]
                      for _ in range(10)}
            assert len(sticky) == 1


def _segments(client: shipyard.Client, model: str, kind: str) -> pd.DataFrame:
    experiment = client.get_experiment_by_name(f"serving:{model}")
    frames = []
    for run in client.search_runs(experiment_ids=[experiment.id]).items:
        for info in client.list_artifacts(run.id, kind):
            with open(client.download_artifacts(run.id, info.path, client.config.home / "dl"), "rb") as f:
                frames.append(pd.read_parquet(io.BytesIO(f.read())))
    return pd.concat(frames, ignore_index=True)


def test_inference_log_and_feedback_land_as_parquet_segments_of_a_serving_run(client: shipyard.Client) -> None:
    shadow = ModelConfig("sum", (Target("models:/sum@production"),), shadow=Shadow("models:/sum@candidate", 1.0))
    config = ServeConfig(models=(shadow,), inference_log=InferenceLogConfig(flush_interval_s=60))
    with in_process(config, client) as server:
        r = httpx.post(f"{server.url}/invocations", json={"inputs": [[1, 2, 3], [4, 5, 6]]},
                       headers={"x-request-id": "req-1"})
        assert r.json() == {"predictions": [6.0, 15.0]}  # the shadow's answer is never returned
        f = httpx.post(f"{server.url}/v1/feedback", json={"labels": [{"request_id": "req-1", "label": 7.5}]})
        assert f.status_code == 202
        assert httpx.post(f"{server.url}/v1/feedback", json={"request_id": 5, "label": 1}).status_code == 422
    log = _segments(client, "sum", "inference")  # written at shutdown
    primary = log[log.route == "production"].sort_values("row")
    assert primary.request_id.tolist() == ["req-1", "req-1"] and primary.version.tolist() == ["1", "1"]
    assert primary.prediction.tolist() == [6.0, 15.0] and primary.status.tolist() == [200, 200]
    assert list(primary.in_input.iloc[1]) == [4.0, 5.0, 6.0]
    shadowed = log[log.route == "shadow"]
    assert shadowed.prediction.tolist() == [2006.0, 2015.0] and set(shadowed.version) == {"3"}
    assert {"timestamp", "latency_ms", "model", "error", "probabilities"} <= set(log.columns)
    feedback = _segments(client, "sum", "feedback")
    assert feedback.request_id.tolist() == ["req-1"] and feedback.label.tolist() == [7.5]


def test_tabular_inputs_are_logged_one_column_per_feature(client: shipyard.Client) -> None:
    config = ServeConfig.for_uri("models:/lr@production", inference_log=InferenceLogConfig(flush_interval_s=60))
    with in_process(config, client) as server:
        httpx.post(f"{server.url}/invocations", json=split_body(table(2)))
    log = _segments(client, "lr", "inference")
    assert [f"in_{c}" for c in COLUMNS] == [c for c in log.columns if c.startswith("in_")]
    assert log.in_f0.tolist() == table(2).f0.tolist()


def test_a_data_contract_is_checked_at_the_door(client: shipyard.Client) -> None:
    from tests.serving.fixture_models import RowSum

    run = client.create_run("contract")
    contract = {"columns": {"c": {"type": "float", "max": 100}, "a": {"allowed": [1.0, 2.0]}}}
    client.log_model(run.id, RowSum(), "m", input_example=pd.DataFrame({"a": [1.0], "b": [2.0], "c": [3.0]}),
                     metadata={"data_contract": contract}, registered_model_name="guarded")
    client.end_run(run.id)
    with in_process(ServeConfig.for_uri("models:/guarded/1"), client) as server:
        ok = httpx.post(f"{server.url}/invocations", json={"dataframe_records": [{"a": 1.0, "b": 2.0, "c": 3.0}]})
        assert ok.json() == {"predictions": [6.0]}
        for record, rule in (({"a": 1.0, "b": 2.0, "c": 300.0}, "'c' breaks the data contract's 'max' rule"),
                             ({"a": 5.0, "b": 2.0, "c": 3.0}, "'a' breaks the data contract's 'allowed' rule")):
            r = httpx.post(f"{server.url}/invocations", json={"dataframe_records": [record]})
            assert r.status_code == 422 and rule in r.json()["message"], r.text


def test_a_token_guards_everything_but_health(client: shipyard.Client) -> None:
    with in_process(ServeConfig.for_uri("models:/sum@production", token="s3cret"), client) as server:
        assert httpx.get(f"{server.url}/v2/health/ready").status_code == 200
        assert httpx.post(f"{server.url}/invocations", json={"inputs": [[1, 2, 3]]}).status_code == 401
        ok = httpx.post(f"{server.url}/invocations", json={"inputs": [[1, 2, 3]]},
                        headers={"authorization": "Bearer s3cret"})
        assert ok.status_code == 200
