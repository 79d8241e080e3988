"""The Open Inference Protocol (KServe v2) over REST, JSON tensor format.

Requests look like::

    {"id": "42", "inputs": [{"name": "input", "shape": [2, 3], "datatype": "FP64",
                             "data": [1, 2, 3, 4, 5, 6]}],
     "outputs": [{"name": "predict_proba"}]}

``data`` may be flat (row-major) or nested; its element count must equal the
shape's. Every datatype of the protocol is accepted: BOOL, UINT8-64, INT8-64, FP16,
FP32, FP64 and BYTES (JSON strings). The binary tensor data extension is not
supported and not advertised: a body with binary tensors gets 400; a request for
binary outputs (tritonclient's default) is answered in JSON, which clients accept.

Mapping tensors onto a model's signature: a tensor signature takes tensors by name
(one tensor: whatever its name); a column signature takes either one tensor per
column (shape ``[n]`` or ``[n, 1]``) or a single ``[n, columns]`` tensor by position.
A model answers ``predict`` by default and ``predict_proba`` when requested.

>>> request = decode(b'{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]}')
>>> request.inputs[0][1]
array([[1., 2.]], dtype=float32)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pandas as pd

from shipyard.serving._errors import MalformedRequest

if TYPE_CHECKING:
    from shipyard.models import Signature

__all__ = ["DATATYPES", "InferRequest", "datatype_of", "decode", "encode", "model_input", "tensor_metadata"]

DATATYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8), "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32), "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8), "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32), "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16), "FP32": np.dtype(np.float32), "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(object),
}
_BY_DTYPE = {dtype: name for name, dtype in DATATYPES.items() if name != "BYTES"}
OUTPUTS = ("predict", "predict_proba")


def datatype_of(dtype: np.dtype[Any] | None) -> str:
    """The protocol's datatype for a numpy dtype (strings and objects are BYTES)."""
    if dtype is None:
        return "BYTES"
    return _BY_DTYPE.get(np.dtype(dtype), "BYTES")


@dataclass(frozen=True, slots=True)
class InferRequest:
    """A decoded inference request: ``inputs`` as (name, array) and the outputs asked for."""

    id: str | None
    inputs: list[tuple[str, np.ndarray]]
    outputs: list[str] | None


def _fail(message: str, field: str = "body") -> MalformedRequest:
    return MalformedRequest(message, field=field)


def _tensor(item: Any, index: int) -> tuple[str, np.ndarray]:
    if not isinstance(item, dict):
        raise _fail(f"inputs[{index}] must be an object with name, shape, datatype and data", "inputs")
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise _fail(f"inputs[{index}] needs a non-empty string 'name'", "inputs")
    shape = item.get("shape")
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise _fail(f"tensor {name!r}: 'shape' must be a list of non-negative integers", name)
    datatype = item.get("datatype")
    dtype = DATATYPES.get(datatype) if isinstance(datatype, str) else None
    if dtype is None:
        raise _fail(f"tensor {name!r}: 'datatype' must be one of {sorted(DATATYPES)}, got {datatype!r}", name)
    parameters = item.get("parameters")
    if isinstance(parameters, dict) and "binary_data_size" in parameters:
        raise _fail("the binary tensor data extension is not supported; send JSON data", name)
    if "data" not in item:
        raise _fail(f"tensor {name!r} has no 'data'", name)
    data = item["data"]
    if not isinstance(data, list):
        data = [data]
    try:
        array = _typed(data, str(datatype), dtype, name)
    except (ValueError, TypeError, OverflowError) as exc:
        raise _fail(f"tensor {name!r}: data does not fit datatype {datatype}: {exc}", name) from None
    expected = math.prod(shape)
    if array.size != expected:
        raise _fail(f"tensor {name!r} has {array.size} values but shape {shape} needs {expected}", name)
    return name, array.reshape(shape)


def _typed(data: list[Any], datatype: str, dtype: np.dtype[Any], name: str) -> np.ndarray:
    """``data`` as ``dtype``, refusing anything that would change a value."""
    raw = np.array(data)
    if datatype == "BYTES":
        if raw.dtype.kind != "U":
            raise _fail(f"tensor {name!r}: BYTES data must be JSON strings", name)
        return raw.astype(object).ravel()
    if raw.dtype.kind not in "biuf":
        raise _fail(f"tensor {name!r}: {datatype} data must be numbers"
                    + (" (true or false)" if datatype == "BOOL" else ""), name)
    if dtype.kind == "b":
        if raw.dtype.kind != "b":
            raise _fail(f"tensor {name!r}: BOOL data must be true or false", name)
    elif dtype.kind in "iu" and raw.size:
        if raw.dtype.kind == "f" and not (np.isfinite(raw).all() and (np.trunc(raw) == raw).all()):
            raise _fail(f"tensor {name!r}: {datatype} data must be whole numbers", name)
        info = np.iinfo(dtype)
        if raw.min() < info.min or raw.max() > info.max:
            raise _fail(f"tensor {name!r}: values out of range for {datatype}", name)
    return raw.astype(dtype, copy=False)


def decode(body: bytes) -> InferRequest:
    """Parse an inference request body; :class:`MalformedRequest` says what is wrong."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _fail(f"the body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise _fail("the body must be a JSON object with 'inputs'")
    inputs = payload.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise _fail("'inputs' must be a non-empty list of tensors", "inputs")
    tensors = [_tensor(item, i) for i, item in enumerate(inputs)]
    names = [name for name, _ in tensors]
    if len(set(names)) != len(names):
        raise _fail(f"input names repeat: {names}", "inputs")
    # Asking for binary *outputs* (tritonclient does by default) gets JSON outputs: the
    # response has no Inference-Header-Content-Length, which clients read as all-JSON.
    outputs = payload.get("outputs")
    requested = None
    if outputs is not None:
        if not isinstance(outputs, list) or not all(isinstance(o, dict) and isinstance(o.get("name"), str)
                                                    for o in outputs):
            raise _fail("'outputs' must be a list of objects with a 'name'", "outputs")
        requested = [o["name"] for o in outputs]
    request_id = payload.get("id")
    return InferRequest(request_id if isinstance(request_id, str) else None, tensors, requested)


def model_input(tensors: list[tuple[str, np.ndarray]], signature: Signature | None) -> Any:
    """The tensors arranged the way the model's signature takes them (see module docs)."""
    if signature is None:
        return tensors[0][1] if len(tensors) == 1 else dict(tensors)
    if signature.kind == "tensor":
        if len(tensors) == 1 and len(signature.inputs) == 1:
            return tensors[0][1]
        return dict(tensors)
    names = signature.names
    if len(tensors) == 1 and tensors[0][1].ndim == 2 and (tensors[0][0] not in names or len(names) == 1):
        matrix = tensors[0][1]
        return matrix.reshape(-1) if len(names) == 1 and matrix.shape[1] == 1 else matrix
    return {name: (a.reshape(-1) if a.ndim == 2 and a.shape[1] == 1 else a) for name, a in tensors}


def check_outputs(requested: list[str] | None, has_proba: bool) -> bool:
    """Validate requested output names; return whether ``predict_proba`` is wanted."""
    if not requested:
        return False
    known = OUTPUTS if has_proba else OUTPUTS[:1]
    for name in requested:
        if name not in known:
            raise _fail(f"unknown output {name!r}; this model has {list(known)}", "outputs")
    return "predict_proba" in requested


def _output(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, pd.Series | pd.DataFrame):
        value = value.to_numpy()
    array = np.asarray(value)
    datatype = datatype_of(array.dtype)
    if datatype == "BYTES":
        data: Any = [str(v) for v in array.ravel().tolist()]
    else:
        data = np.ascontiguousarray(array.ravel())
        if data.dtype.byteorder == ">":
            data = data.astype(data.dtype.newbyteorder("="))
    return {"name": name, "datatype": datatype, "shape": list(array.shape), "data": data}


def encode(model: str, version: str, request_id: str | None, outputs: dict[str, Any],
           requested: list[str] | None) -> bytes:
    """The response body: every requested output (default ``predict``) as a tensor."""
    wanted = requested or ["predict"]
    tensors: list[dict[str, Any]] = []
    for name in wanted:
        value = outputs[name]
        if isinstance(value, dict):
            tensors.extend(_output(f"{name}.{key}", v) for key, v in value.items())
        elif isinstance(value, pd.DataFrame) and name == "predict":
            tensors.extend(_output(str(column), value[column]) for column in value.columns)
        else:
            tensors.append(_output(name, value))
    body: dict[str, Any] = {"model_name": model, "model_version": version, "outputs": tensors}
    if request_id is not None:
        body["id"] = request_id
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)


def tensor_metadata(signature: Signature | None, has_proba: bool) -> tuple[list[Any], list[Any]]:
    """``inputs`` and ``outputs`` of the model metadata response."""
    inputs: list[dict[str, Any]] = []
    if signature is not None:
        for spec in signature.inputs:
            shape = list(spec.shape) if spec.shape is not None else [-1]
            inputs.append({"name": spec.name, "datatype": datatype_of(spec.numpy_dtype), "shape": shape})
    predict_type = "FP64"
    if signature is not None and signature.outputs:
        predict_type = datatype_of(signature.outputs[0].numpy_dtype)
    outputs = [{"name": "predict", "datatype": predict_type, "shape": [-1]}]
    if has_proba:
        outputs.append({"name": "predict_proba", "datatype": "FP64", "shape": [-1, -1]})
    return inputs, outputs
