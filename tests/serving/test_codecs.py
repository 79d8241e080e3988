"""The protocols' codecs: Open Inference Protocol tensors and MLflow scoring bodies."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from shipyard.models import ColumnSpec, Signature
from shipyard.serving import MalformedRequest
from shipyard.serving import _scoring as scoring
from shipyard.serving import _v2 as v2

COLUMNS = Signature([ColumnSpec("a", "float64"), ColumnSpec("b", "float64")])


@pytest.mark.parametrize(("datatype", "data", "dtype"), [
    ("BOOL", [True, False], np.bool_), ("UINT8", [1, 255], np.uint8), ("UINT16", [1, 2], np.uint16),
    ("UINT32", [1, 2], np.uint32), ("UINT64", [1, 2], np.uint64), ("INT8", [-128, 127], np.int8),
    ("INT16", [1, 2], np.int16), ("INT32", [1, 2], np.int32), ("INT64", [1, 2], np.int64),
    ("FP16", [0.5, 1.5], np.float16), ("FP32", [0.5, 1.5], np.float32), ("FP64", [0.5, 1.5], np.float64),
    ("BYTES", ["x", "y"], object),
])
def test_every_datatype_decodes_to_its_numpy_dtype(datatype: str, data: list, dtype: type) -> None:
    body = orjson.dumps({"inputs": [{"name": "t", "shape": [2], "datatype": datatype, "data": data}]})
    (name, array), = v2.decode(body).inputs
    assert array.dtype == np.dtype(dtype) and array.tolist() == data


@pytest.mark.parametrize(("tensor", "message"), [
    ({"name": "t", "shape": [3], "datatype": "FP64", "data": [1, 2]}, "has 2 values but shape"),
    ({"name": "t", "shape": [1], "datatype": "UINT8", "data": [300]}, "out of range"),
    ({"name": "t", "shape": [1], "datatype": "INT32", "data": [1.5]}, "whole numbers"),
    ({"name": "t", "shape": [1], "datatype": "FP32", "data": ["1.5"]}, "must be numbers"),
    ({"name": "t", "shape": [1], "datatype": "BOOL", "data": [1]}, "true or false"),
    ({"name": "t", "shape": [1], "datatype": "FP99", "data": [1]}, "datatype"),
    ({"name": "t", "shape": [-1], "datatype": "FP64", "data": [1]}, "non-negative"),
    ({"name": "t", "shape": [1], "datatype": "FP64", "data": [1], "parameters": {"binary_data_size": 8}}, "binary"),
])
def test_malformed_tensors_name_the_tensor(tensor: dict, message: str) -> None:
    with pytest.raises(MalformedRequest, match=message) as info:
        v2.decode(orjson.dumps({"inputs": [tensor]}))
    assert info.value.field == "t"


def test_nested_data_and_column_tensors_map_onto_a_column_signature() -> None:
    matrix = v2.decode(b'{"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP64", "data": [[1, 2], [3, 4]]}]}')
    assert v2.model_input(matrix.inputs, COLUMNS).shape == (2, 2)
    per_column = v2.decode(orjson.dumps({"inputs": [
        {"name": "a", "shape": [2, 1], "datatype": "FP64", "data": [1, 2]},
        {"name": "b", "shape": [2], "datatype": "FP64", "data": [3, 4]}]}))
    mapped = v2.model_input(per_column.inputs, COLUMNS)
    assert mapped["a"].tolist() == [1.0, 2.0] and mapped["b"].tolist() == [3.0, 4.0]


def test_responses_carry_each_requested_output_with_datatype_and_shape() -> None:
    body = v2.encode("m", "3", "req-1", {"predict": np.array([1, 0]), "predict_proba": np.array([[.2, .8], [.9, .1]])},
                     ["predict", "predict_proba"])
    decoded = orjson.loads(body)
    assert decoded["id"] == "req-1" and decoded["model_version"] == "3"
    assert decoded["outputs"][0] == {"name": "predict", "datatype": "INT64", "shape": [2], "data": [1, 0]}
    assert decoded["outputs"][1]["shape"] == [2, 2]
    with pytest.raises(MalformedRequest, match="unknown output"):
        v2.check_outputs(["bogus"], has_proba=True)


@pytest.mark.parametrize("body", [
    {"dataframe_split": {"columns": ["b", "a"], "data": [[2.0, 1.0]]}},
    {"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 2.0]], "index": [7]}},
    {"dataframe_records": [{"a": 1.0, "b": 2.0}]},
    {"instances": [{"a": 1.0, "b": 2.0}]},
    {"instances": [[1.0, 2.0]]},
    {"inputs": {"a": [1.0], "b": [2.0]}},
    {"inputs": [[1.0, 2.0]], "params": {"x": 1}},
])
def test_every_mlflow_format_reaches_the_same_row(body: dict) -> None:
    request = scoring.parse(orjson.dumps(body), "application/json")
    assert COLUMNS.validate(scoring.model_input(request, COLUMNS)).tolist() == [[1.0, 2.0]]


def test_csv_bodies_are_read_as_a_table() -> None:
    request = scoring.parse(b"a,b\n1.0,2.0\n", "text/csv")
    assert COLUMNS.validate(scoring.model_input(request, COLUMNS)).tolist() == [[1.0, 2.0]]


@pytest.mark.parametrize(("body", "message"), [
    (b"not json", "not valid JSON"),
    (b"[1, 2]", "JSON object"),
    (b'{"dataframe_split": {}, "inputs": []}', "exactly one"),
    (b'{"columns": ["a"]}', "exactly one"),
    (b'{"dataframe_split": {"columns": ["a", "b"], "data": [[1.0]]}}', "2 values"),
    (b'{"dataframe_records": [1, 2]}', "list of objects"),
    (b'{"inputs": [[1, 2], [3]]}', "same length"),
])
def test_malformed_scoring_bodies_say_what_is_wrong(body: bytes, message: str) -> None:
    with pytest.raises(MalformedRequest, match=message):
        scoring.model_input(scoring.parse(body, None), COLUMNS)
