"""The signature's checks on a dataset: once for its columns, then row by row in each batch.

:func:`check_columns` runs before any work starts: the input must hold every required
signature column, and nothing else except the ``passthrough`` columns (ids and the like,
carried to the output untouched); a column whose Arrow type can never meet its signature
dtype (a timestamp for a float) is refused too. Every refusal is ``InvalidInput`` with
``field="input"``.

:func:`check_batch` finds the rows of one record batch that break the signature, so they
can be set aside with a reason instead of failing the job:

* a null in a required column, or NaN in a required float column (as serving refuses);
* a string that is not a number in a numeric column (numeric strings are parsed);
* a fractional or out-of-range value in an integer column.

What is left is handed to the model through :meth:`Model.predict`, which applies the
signature's own validation; should that still refuse the batch, the rows are validated
one at a time and only those it refuses are set aside (:func:`split_refused`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from shipyard.errors import InvalidInput
from shipyard.models import ColumnSpec, Model, Signature

__all__ = ["Rejected", "check_batch", "check_columns", "split_refused"]


@dataclass(frozen=True)
class Rejected:
    """Rows of one batch (positions within it) set aside, each with its reason."""

    rows: np.ndarray
    reasons: list[str]


def _numeric(spec: ColumnSpec) -> bool:
    dtype = spec.numpy_dtype
    return dtype is not None and dtype.kind in "biuf"


def _compatible(spec: ColumnSpec, kind: pa.DataType) -> bool:
    if pa.types.is_null(kind):
        return True
    dtype = spec.numpy_dtype
    if dtype is None:
        return spec.dtype == "object" or pa.types.is_string(kind) or pa.types.is_large_string(kind)
    if dtype.kind in "iuf":
        return (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
                or pa.types.is_string(kind) or pa.types.is_large_string(kind))
    if dtype.kind == "b":
        return pa.types.is_boolean(kind)
    if dtype.kind == "M":
        return pa.types.is_timestamp(kind) or pa.types.is_date(kind)
    return True


def check_columns(signature: Signature | None, schema: pa.Schema, passthrough: Sequence[str],
                  prediction_column: str) -> None:
    """Refuse an input whose columns do not match ``signature`` (see the module docstring)."""
    if signature is None or signature.kind != "columns":
        raise InvalidInput("scoring a dataset needs a model whose signature names its input columns "
                           "(save it with a DataFrame input example)", field="model_uri")
    names = list(schema.names)
    specs = {spec.name: spec for spec in signature.inputs}
    missing = [n for n, s in specs.items() if n not in names and not s.optional]
    unknown_pass = [n for n in passthrough if n not in names]
    extra = [n for n in names if n not in specs and n not in passthrough]
    problems = []
    if missing:
        problems.append(f"missing signature columns {missing}")
    if extra:
        problems.append(f"extra columns {extra} (name them as passthrough columns to carry them over)")
    if unknown_pass:
        problems.append(f"passthrough columns {unknown_pass} are not in the input")
    if problems:
        raise InvalidInput(f"the input's columns do not match the model's signature: {'; '.join(problems)}",
                           field="input", missing=missing, extra=extra)
    if prediction_column in names:
        raise InvalidInput(f"the input already has a column {prediction_column!r}; choose another "
                           "prediction column name", field="prediction_column")
    for name, spec in specs.items():
        if name in names and not _compatible(spec, schema.field(name).type):
            raise InvalidInput(f"column {name!r} is {schema.field(name).type} in the input, which can never "
                               f"be {spec.dtype} as the signature needs", field="input", column=name)


def _as_numbers(column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A string column parsed as float64, and where a present value did not parse."""
    raw = column.to_numpy(zero_copy_only=False)
    parsed = pd.to_numeric(pd.Series(raw, dtype=object), errors="coerce").to_numpy(dtype=np.float64,
                                                                                   na_value=np.nan)
    present = ~pd.isna(raw)
    return parsed, present & np.isnan(parsed)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_batch(batch: pa.RecordBatch, signature: Signature) -> tuple[pd.DataFrame, Rejected]:
    """The signature's columns of the rows that pass the row checks, as a DataFrame (numeric
    strings parsed), and the rows set aside; row positions are within ``batch``."""
    rows = batch.num_rows
    bad = np.zeros(rows, dtype=bool)
    reasons: dict[int, str] = {}
    frame: dict[str, Any] = {}

    def reject(mask: np.ndarray, reason: Any) -> None:
        for i in np.flatnonzero(mask & ~bad):
            reasons[int(i)] = reason(int(i)) if callable(reason) else reason
        bad[mask] = True

    for spec in signature.inputs:
        if spec.name not in batch.schema.names:
            continue  # an optional column the input lacks: the signature fills it
        column = batch.column(spec.name)
        if not spec.optional and column.null_count:
            reject(column.is_null().to_numpy(zero_copy_only=False), f"column {spec.name!r} is null")
        if _numeric(spec) and (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            values, unparsed = _as_numbers(column)
            raw = column
            reject(unparsed, lambda i, raw=raw, s=spec: f"column {s.name!r} holds {_shown(raw[i].as_py())}, "
                                                        f"not a number")
        else:
            values = column.to_numpy(zero_copy_only=False)
        dtype = spec.numpy_dtype
        if dtype is not None and dtype.kind in "iu" and values.dtype.kind == "f":
            info = np.iinfo(dtype)
            with np.errstate(invalid="ignore"):
                wrong = np.isfinite(values) & ((np.trunc(values) != values) | (values < info.min)
                                               | (values > info.max))
            reject(wrong, lambda i, v=values, s=spec: f"column {s.name!r} holds {_shown(v[i].item())}, "
                                                      f"not an {s.dtype}")
        elif dtype is not None and dtype.kind == "f" and not spec.optional and values.dtype.kind == "f":
            reject(np.isnan(values), f"column {spec.name!r} is NaN")
        frame[spec.name] = values
    kept = np.flatnonzero(~bad)
    clean = pd.DataFrame({name: values[kept] if len(kept) < rows else values for name, values in frame.items()},
                         copy=False)
    order = np.flatnonzero(bad)
    return clean, Rejected(order, [reasons[int(i)] for i in order])


def split_refused(model: Model, clean: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Rows of ``clean`` (positions) that the signature's validation refuses on their own,
    with its message: the slow path, taken only when the whole batch was refused."""
    refused: list[int] = []
    reasons: list[str] = []
    validate = model.signature.validate if model.signature is not None else None
    for i in range(len(clean)):
        try:
            if validate is not None:
                validate(clean.iloc[i:i + 1])
        except InvalidInput as exc:
            refused.append(i)
            reasons.append(str(exc))
    return np.asarray(refused, dtype=np.int64), reasons
