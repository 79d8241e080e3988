"""Existing clients, unchanged: tritonclient (Open Inference Protocol) and MLflow's own scoring client."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import shipyard
from shipyard.serving import ServeConfig
from tests.serving.conftest import COLUMNS, in_process, table


def test_tritonclient_http_in_json_mode(client: shipyard.Client) -> None:
    import tritonclient.http as triton
    from tritonclient.utils import InferenceServerException

    x = table(4).to_numpy()
    model = client.load_model("models:/lr/1")
    config = ServeConfig(models=(ServeConfig.for_uri("models:/lr@production").models[0],
                                 ServeConfig.for_uri("models:/sum@production").models[0]))
    with in_process(config, client) as server:
        tc = triton.InferenceServerClient(url=server.url.removeprefix("http://"))
        assert tc.is_server_live() and tc.is_server_ready()
        assert tc.is_model_ready("lr") and not tc.is_model_ready("nope")
        assert "binary_tensor_data" not in tc.get_server_metadata()["extensions"]
        assert tc.get_model_metadata("lr")["versions"] == ["1"]

        tensor = triton.InferInput("input", list(x.shape), "FP64")
        tensor.set_data_from_numpy(x, binary_data=False)
        outputs = [triton.InferRequestedOutput("predict", binary_data=False),
                   triton.InferRequestedOutput("predict_proba", binary_data=False)]
        result = tc.infer("lr", [tensor], outputs=outputs, request_id="t-1")
        assert result.get_response()["id"] == "t-1"
        np.testing.assert_array_equal(result.as_numpy("predict"), model.predict(x))
        np.testing.assert_allclose(result.as_numpy("predict_proba"), model.predict_proba(x))

        for datatype, dtype in (("FP32", np.float32), ("INT32", np.int32), ("INT64", np.int64), ("UINT8", np.uint8)):
            rows = np.array([[1, 2, 3], [4, 5, 6]], dtype=dtype)
            tensor = triton.InferInput("input", [2, 3], datatype)
            tensor.set_data_from_numpy(rows, binary_data=False)
            answer = tc.infer("sum", [tensor], model_version="1",
                              outputs=[triton.InferRequestedOutput("predict", binary_data=False)])
            assert answer.as_numpy("predict").tolist() == [6.0, 15.0]

        wrong = triton.InferInput("input", [1, 4], "FP64")
        wrong.set_data_from_numpy(np.ones((1, 4)), binary_data=False)
        with pytest.raises(InferenceServerException, match="shape"):
            tc.infer("sum", [wrong])
        plain = triton.InferInput("input", [1, 3], "FP64")
        plain.set_data_from_numpy(np.ones((1, 3)), binary_data=False)
        assert tc.infer("sum", [plain]).as_numpy("predict").tolist() == [3.0]  # binary outputs asked: JSON given
        binary = triton.InferInput("input", [1, 3], "FP64")
        binary.set_data_from_numpy(np.ones((1, 3)), binary_data=True)
        with pytest.raises(InferenceServerException, match="binary"):
            tc.infer("sum", [binary])
        tc.close()


def test_mlflow_scoring_client_switches_by_changing_the_url(client: shipyard.Client) -> None:
    with warnings.catch_warnings():  # MLflow warns about its own type hints on import
        warnings.simplefilter("ignore")
        from mlflow.pyfunc.scoring_server.client import ScoringServerClient

    x = table(3)
    expected = client.load_model("models:/lr/1").predict(x).tolist()
    with in_process(ServeConfig.for_uri("models:/lr@production"), client) as server:
        mlflow_client = ScoringServerClient("127.0.0.1", server.port)
        mlflow_client.wait_server_ready(timeout=10)
        assert mlflow_client.get_version() == shipyard.__version__
        for data in (x, x.to_numpy()):  # what dump_input_data supports (its dict branch is broken in 3.17)
            response = mlflow_client.invoke(data)
            assert list(np.asarray(response.get_predictions()).ravel()) == expected, type(data)
        assert list(np.asarray(mlflow_client.invoke(x, params={"k": 1}).get_predictions()).ravel()) == expected


def test_bodies_mlflow_writes_for_input_examples(client: shipyard.Client) -> None:
    import httpx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from mlflow.models.utils import convert_input_example_to_serving_input

    x = table(2)
    expected = client.load_model("models:/lr/1").predict(x).tolist()
    with in_process(ServeConfig.for_uri("models:/lr@production"), client) as server:
        for example in (x, x.to_numpy(), {c: x[c].tolist() for c in COLUMNS}):
            with warnings.catch_warnings():  # pandas deprecations inside MLflow's own code
                warnings.simplefilter("ignore")
                body = convert_input_example_to_serving_input(example)
            r = httpx.post(f"{server.url}/invocations", content=body, headers={"content-type": "application/json"})
            assert r.status_code == 200, (body[:200], r.text)
            assert r.json()["predictions"] == expected
        records = pd.DataFrame(x).to_json(orient="records")
        r = httpx.post(f"{server.url}/invocations", content=f'{{"dataframe_records": {records}}}')
        assert r.json()["predictions"] == expected
