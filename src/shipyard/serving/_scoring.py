"""MLflow's scoring protocol (``POST /invocations``), so clients of ``mlflow models serve`` work unchanged.

A JSON body holds exactly one of:

``dataframe_split``   ``{"columns": [...], "data": [[...], ...], "index": [...]}`` (pandas ``orient="split"``)
``dataframe_records`` ``[{"col": value, ...}, ...]`` (pandas ``orient="records"``)
``instances``         TF-serving style: a list of rows, a list of records, or a dict of columns
``inputs``            the same shapes as ``instances`` (and a dict of named tensors)

plus an optional ``params`` object (accepted and ignored: Shipyard models take no
inference parameters). ``text/csv`` bodies are read as a table with a header row.
The answer is ``{"predictions": ...}`` holding the model's ``predict`` output, as MLflow's
scoring server returns it.

>>> parse(b'{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}}', "application/json").kind
'dataframe_split'
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pandas as pd

from shipyard.serving._errors import MalformedRequest

if TYPE_CHECKING:
    from shipyard.models import Signature

__all__ = ["FORMATS", "ScoringRequest", "encode", "model_input", "parse"]

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")


@dataclass(frozen=True, slots=True)
class ScoringRequest:
    kind: str
    payload: Any


def _fail(message: str, field: str = "body") -> MalformedRequest:
    return MalformedRequest(message, field=field)


def parse(body: bytes, content_type: str | None) -> ScoringRequest:
    """Read the body's format key (or CSV); :class:`MalformedRequest` when it has none or several."""
    if content_type and content_type.split(";")[0].strip().lower() == "text/csv":
        try:
            return ScoringRequest("csv", pd.read_csv(io.BytesIO(body)))
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise _fail(f"the CSV body could not be read: {exc}") from None
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _fail(f"the body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise _fail(f"the body must be a JSON object with one of {list(FORMATS)}")
    present = [key for key in FORMATS if key in payload]
    unknown = sorted(set(payload) - set(FORMATS) - {"params"})
    if len(present) != 1 or unknown:
        raise _fail(f"the body must have exactly one of {list(FORMATS)} (and optionally 'params'); "
                    f"got keys {sorted(payload)}")
    params = payload.get("params")
    if params is not None and not isinstance(params, dict):
        raise _fail("'params' must be an object", "params")
    return ScoringRequest(present[0], payload[present[0]])


def _array(value: Any, field: str) -> np.ndarray:
    try:
        return np.array(value)
    except (ValueError, TypeError) as exc:
        raise _fail(f"{field}: rows must all have the same length ({exc})", field) from None


def _rows(data: Any, field: str) -> list[Any]:
    if not isinstance(data, list) or not data:
        raise _fail(f"{field} must be a non-empty list", field)
    return data


def model_input(request: ScoringRequest, signature: Signature | None) -> Any:
    """The request's table or tensors, in a form the signature's validator reads."""
    kind, payload = request.kind, request.payload
    if kind == "csv":
        return payload
    if kind == "dataframe_split":
        return _dataframe_split(payload, signature)
    if kind == "dataframe_records":
        return _dataframe_records(payload)
    return _instances(kind, payload, signature)


def _dataframe_split(payload: Any, signature: Signature | None) -> Any:
    """A table of ``columns`` and row-wise ``data``: a dict of columns, or a numeric matrix when
    the columns are the signature's in its order; rows alone (no ``columns``) as an array."""
    if not isinstance(payload, dict) or "data" not in payload:
        raise _fail("dataframe_split must be an object with 'data' (and 'columns')", "dataframe_split")
    data = _rows(payload["data"], "dataframe_split.data")
    columns = payload.get("columns")
    if columns is None:
        return _array(data, "dataframe_split.data")
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise _fail("dataframe_split.columns must be a list of strings", "dataframe_split")
    if not all(isinstance(row, list) and len(row) == len(columns) for row in data):
        raise _fail(f"every row of dataframe_split.data must be a list of {len(columns)} values", "dataframe_split")
    matrix = _numeric_matrix(data, columns, signature)
    if matrix is not None:
        return matrix
    return {name: list(values) for name, values in zip(columns, zip(*data, strict=True), strict=True)}


def _numeric_matrix(data: list[Any], columns: list[str], signature: Signature | None) -> np.ndarray | None:
    """``data`` as one numeric matrix when its ``columns`` are the signature's, in its order
    (the validator then takes it by position); None otherwise."""
    if signature is None or signature.kind != "columns" or columns != signature.names:
        return None
    matrix = np.array(data)
    return matrix if matrix.ndim == 2 and matrix.dtype.kind in "biuf" else None


def _dataframe_records(payload: Any) -> list[dict[str, Any]]:
    records = _rows(payload, "dataframe_records")
    if not all(isinstance(r, dict) for r in records):
        raise _fail("dataframe_records must be a list of objects", "dataframe_records")
    return records


def _instances(kind: str, payload: Any, signature: Signature | None) -> Any:
    """``instances`` or ``inputs`` (``kind``): a dict of named tensors, a list of records (of
    named tensors when the signature takes tensors), or rows read as one array."""
    if isinstance(payload, dict):
        if not payload:
            raise _fail(f"{kind} must not be empty", kind)
        return {str(k): _array(v, f"{kind}.{k}") for k, v in payload.items()}
    rows = _rows(payload, kind)
    if not all(isinstance(r, dict) for r in rows):
        return _array(rows, kind)
    if signature is not None and signature.kind == "tensor":  # TF-serving rows of named tensors
        names = rows[0].keys()
        if any(r.keys() != names for r in rows):
            raise _fail(f"every object in {kind} must have the same keys", kind)
        return {str(k): _array([r[k] for r in rows], f"{kind}.{k}") for k in names}
    return rows


def encode(outputs: dict[str, Any]) -> bytes:
    """``{"predictions": ...}`` as MLflow's scoring server writes it."""
    return orjson.dumps({"predictions": _jsonable(outputs["predict"])}, option=orjson.OPT_SERIALIZE_NUMPY)


def _jsonable(value: Any) -> Any:
    if isinstance(value, pd.DataFrame):
        return value.to_dict(orient="records")
    if isinstance(value, pd.Series):
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biuf" and value.dtype.byteorder != ">":
            return np.ascontiguousarray(value)
        return value.tolist()
    return value
