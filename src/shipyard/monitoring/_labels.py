"""Ground-truth labels: checking uploaded frames, and joining labels to logged predictions.

Labels reach Shipyard two ways: posted to a serving ``/v1/feedback`` (kept beside the
inference log as ``feedback/<date>/…`` segments: request_id, timestamp, model, label)
or uploaded in batches (:meth:`shipyard.Client.log_labels`, kept in the metadata
store). Both are keyed by request id; a label may name the ``row`` of a multi-row
request, and one without a row (``-1``) labels every row of its request. When both
sources, or several uploads, label the same (request, row), the latest arrival wins.

A label can only arrive after its prediction was made, so the labels of a window
starting at ``t`` are found among those that arrived at or after ``t``: that bounds
what a window's performance has to read.

>>> import pandas as pd
>>> normalize_labels(pd.DataFrame({"request_id": ["a", "b"], "label": [1, 0]}))["row"].tolist()
[-1, -1]
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from shipyard.errors import InvalidInput

__all__ = ["decode_label", "empty_labels", "encode_label", "encode_labels", "join_labels", "latest_labels",
           "normalize_labels"]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}\Z")
_MODEL = re.compile(r"^(?:|[A-Za-z0-9][A-Za-z0-9_.\-]{0,255})\Z")
LABEL_COLUMNS = ("model", "request_id", "row", "label", "arrived_at")


def empty_labels() -> pd.DataFrame:
    return pd.DataFrame({"model": pd.Series([], dtype=object), "request_id": pd.Series([], dtype=object),
                         "row": pd.Series([], dtype=np.int64), "label": pd.Series([], dtype=object),
                         "arrived_at": pd.Series([], dtype=np.int64)})


def encode_label(value: Any) -> str:
    """The stored form of a label: a JSON scalar (NaN and None are ``null``)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        value = None
    return orjson.dumps(value).decode()


def decode_label(text: str | None) -> Any:
    return None if text is None else orjson.loads(text)


def _check_label(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, str | bool | int | float):
        if isinstance(value, float) and math.isnan(value):
            return None
        if isinstance(value, float) and math.isinf(value):
            raise InvalidInput(f"label must be finite, got {value!r}", field="label")
        return value
    raise InvalidInput(f"label must be a number, string, boolean or null, got {type(value).__name__}",
                       field="label")


def _checked_labels(column: pd.Series) -> list[Any]:
    """The labels as Python scalars (NaN: None); anything but numbers, text, booleans is refused."""
    kind = pd.api.types.infer_dtype(column, skipna=True)
    if kind in ("integer", "boolean", "string", "empty"):
        return [None if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in column.tolist()]
    if kind in ("floating", "mixed-integer-float"):
        values = np.asarray(column, dtype=np.float64)
        if np.isinf(values).any():
            raise InvalidInput("label must be finite", field="label")
        return [None if math.isnan(v) else v for v in values.tolist()]
    return [_check_label(v) for v in column.tolist()]


def encode_labels(values: list[Any]) -> list[str]:
    """:func:`encode_label` of each value, numbers in one call."""
    if values and all(type(v) in (int, float) for v in values):
        return orjson.dumps(values).decode()[1:-1].split(",")
    return [encode_label(v) for v in values]


def normalize_labels(frame: Any, *, model: str | None = None, label: str = "label") -> pd.DataFrame:
    """A checked label frame with columns ``model, request_id, row, label``.

    ``frame``: a pandas DataFrame (or anything ``pd.DataFrame`` accepts) with
    ``request_id`` and ``label`` (or the column named by ``label``), and optionally
    ``row`` and ``model``; ``model`` fills a missing model column. Bad request ids,
    rows below -1, labels that are not scalars: ``InvalidInput`` naming the field.
    """
    if not isinstance(frame, pd.DataFrame):
        try:
            frame = pd.DataFrame(frame)
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"labels must be a table with request_id and label: {exc}", field="labels") from None
    for needed in ("request_id", label):
        if needed not in frame.columns:
            raise InvalidInput(f"labels need a {needed!r} column (have {list(frame.columns)})", field=needed)
    n = len(frame)
    ids = frame["request_id"]
    if n and (pd.api.types.infer_dtype(ids, skipna=False) != "string"
              or not ids.astype(str).str.fullmatch(_REQUEST_ID.pattern.strip("^$")).all()):
        bad = next(r for r in ids.tolist() if not isinstance(r, str) or not _REQUEST_ID.match(r))
        raise InvalidInput(f"request_id must be 1-128 letters, digits or ._:- (got {bad!r})", field="request_id")
    if "row" in frame.columns:
        rows = frame["row"].fillna(-1) if frame["row"].isna().any() else frame["row"]
        try:
            rows_arr = np.asarray(rows, dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidInput("row must hold integers (-1: every row of the request)", field="row") from None
        if (rows_arr < -1).any() or (rows_arr != np.floor(rows_arr)).any() or (rows_arr > 2**31 - 1).any():
            raise InvalidInput("row must hold integers from -1 (every row of the request)", field="row")
        row_values = rows_arr.astype(np.int64)
    else:
        row_values = np.full(n, -1, dtype=np.int64)
    if "model" in frame.columns:
        models = frame["model"].astype(object).where(frame["model"].notna(), "").tolist()
    else:
        models = [model or ""] * n
    for m in set(models):
        if not isinstance(m, str) or not _MODEL.match(m):
            raise InvalidInput(f"model must be a served model's name, got {m!r}", field="model")
    values = _checked_labels(frame[label])
    out = pd.DataFrame({"model": pd.Series(models, dtype=object), "request_id": pd.Series(ids.tolist(), dtype=object),
                        "row": row_values, "label": pd.Series(values, dtype=object)})
    # One label per key: the last one given wins, as a later upload would.
    return out.drop_duplicates(["model", "request_id", "row"], keep="last").reset_index(drop=True)


def latest_labels(*frames: pd.DataFrame) -> pd.DataFrame:
    """The union of label frames, one label per (request_id, row): the latest arrival."""
    parts = [f for f in frames if len(f)]
    if not parts:
        return empty_labels()
    merged = pd.concat(parts, ignore_index=True)
    merged = merged.sort_values("arrived_at", kind="stable")
    return merged.drop_duplicates(["request_id", "row"], keep="last").reset_index(drop=True)


def join_labels(predictions: pd.DataFrame | pa.Table, labels: pd.DataFrame) -> pd.Series:
    """The label of each prediction row (``request_id``, ``row``), or None where none is known.

    A label for the exact (request, row) wins over one for the whole request (row -1).
    Arrow hash lookups (``index_in``), not a merge: a window of 100,000 predictions
    joins in tens of milliseconds.
    """
    n = len(predictions) if isinstance(predictions, pd.DataFrame) else predictions.num_rows
    values = np.full(n, None, dtype=object)
    if len(labels) and n:
        table = predictions if isinstance(predictions, pa.Table) else pa.table({
            "request_id": pa.array(predictions["request_id"].tolist(), type=pa.string()),
            "row": pa.array(np.asarray(predictions["row"], dtype=np.int64))})
        ids = table["request_id"].cast(pa.string())
        whole = labels[labels["row"] == -1].drop_duplicates("request_id", keep="last")
        if len(whole):
            found = _positions(ids, pa.array(whole["request_id"].tolist(), type=pa.string()))
            hit = found >= 0
            values[hit] = whole["label"].to_numpy(dtype=object)[found[hit]]
        exact = labels[labels["row"] >= 0].drop_duplicates(["request_id", "row"], keep="last")
        if len(exact):
            rows = table["row"].cast(pa.int64()).cast(pa.string()) if "row" in table.column_names \
                else pa.array(["0"] * n)
            keys = pc.binary_join_element_wise(ids, rows, "\x1f")
            wanted = pa.array((exact["request_id"].astype(str) + "\x1f"
                               + exact["row"].astype(np.int64).astype(str)).tolist(), type=pa.string())
            found = _positions(keys, wanted)
            hit = found >= 0
            values[hit] = exact["label"].to_numpy(dtype=object)[found[hit]]
    index = predictions.index if isinstance(predictions, pd.DataFrame) else None
    return pd.Series(values, index=index, dtype=object)


def _positions(values: Any, lookup: pa.Array) -> np.ndarray:
    """For each value, its position in ``lookup`` (unique), or -1."""
    found = pc.index_in(values, value_set=lookup)
    return np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
