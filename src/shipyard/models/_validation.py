"""Checking input against a signature: the rules, compiled once per signature.

:meth:`Signature.validate` delegates here. The rules:

* Columns are found by name in a DataFrame, a dict or records, and by position in an
  ndarray (which must then have exactly one column per input). Extra columns are
  ignored and dropped; the result follows the signature's order.
* A missing column raises ``InvalidInput(field=name)``: "column 'age' is missing".
  An optional column may be absent and is filled with NaN, NaT or None. In records,
  a row that lacks a required key is an error; one that lacks an optional key is a
  missing value.
* Safe casts are silent: bool or int into a wider int (or a narrower one when every
  value fits), bool, int or float into any float (float64 → float32 loses precision,
  not meaning, and JSON clients can only send float64), str into ``string``.
* Everything else raises ``InvalidInput`` naming the column and both dtypes: strings
  into numbers, floats with a fractional part or NaN into ints, ints out of range,
  numbers into ``string``, anything but bool into ``bool``.
* Tensors must have the signature's number of dimensions and every fixed dimension;
  an array lacking only the batch dimension is taken as one row.

Result: a 2-D ndarray when every column shares one numeric dtype (an ndarray that
already has that dtype and width is returned as is: the serving fast path), a
DataFrame for mixed columns, an ndarray for a single tensor, a dict for named tensors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput
from shipyard.models._signature import ColumnSpec, is_missing

if TYPE_CHECKING:
    from shipyard.models._signature import Signature

__all__ = ["Validator"]


class _Unsafe(Exception):
    """A cast that would change values; the caller names the column."""


class Validator:
    """A signature's checks, precomputed; :attr:`validate` is the one to call."""

    validate: Callable[[Any], Any]

    def __init__(self, signature: Signature) -> None:
        self._specs = tuple(signature.inputs)
        self._names = [spec.name for spec in self._specs]
        self._dtypes = [spec.numpy_dtype for spec in self._specs]
        self._width = len(self._specs)
        self._columns = signature.kind == "columns"
        self._label = "column" if self._columns else "tensor"
        distinct = set(self._dtypes)
        only = next(iter(distinct))
        self._matrix_dtype = only if len(distinct) == 1 and only is not None and only.kind in "biuf" else None
        # Chosen once, so a call goes straight to the right path.
        if self._columns:
            self.validate = self._validate_columns
        elif self._width == 1:
            self.validate = self._validate_tensor
        else:
            self.validate = self._validate_named

    # -- columns -----------------------------------------------------------------

    def _validate_columns(self, data: Any) -> Any:
        if type(data) is np.ndarray:
            if data.dtype == self._matrix_dtype and data.ndim == 2 and data.shape[1] == self._width:
                return data
            return self._from_matrix(data)
        if isinstance(data, list | tuple) and not (data and isinstance(data[0], Mapping)):
            return self._from_matrix(np.asarray(data))
        found, rows = _by_name(data, self._specs)
        columns: list[np.ndarray | None] = []
        for spec, dtype, raw in zip(self._specs, self._dtypes, found, strict=True):
            if raw is None:
                if not spec.optional:
                    raise InvalidInput(f"column {spec.name!r} is missing", field=spec.name)
                columns.append(None)
                continue
            column = self._cast(raw, spec, dtype)
            if column.ndim != 1:
                raise InvalidInput(
                    f"column {spec.name!r} must be one value per row; got shape {column.shape}",
                    field=spec.name,
                )
            if rows is None:
                rows = len(column)
            elif len(column) != rows:
                raise InvalidInput(
                    f"column {spec.name!r} has {len(column)} rows; expected {rows}", field=spec.name
                )
            columns.append(column)
        filled = [
            _missing(spec, dtype, rows or 0) if column is None else column
            for spec, dtype, column in zip(self._specs, self._dtypes, columns, strict=True)
        ]
        return self._assemble(filled)

    def _from_matrix(self, matrix: np.ndarray) -> Any:
        if matrix.ndim == 1:
            # One row of a wide table, or many rows of a one-column table.
            matrix = matrix.reshape(1, -1) if self._width > 1 else matrix.reshape(-1, 1)
        if matrix.ndim != 2 or matrix.shape[1] != self._width:
            raise InvalidInput(
                f"input has shape {matrix.shape}; expected (n, {self._width}) for columns {self._names}",
                field="input",
            )
        if self._matrix_dtype is not None:
            try:
                return _cast(matrix, self._matrix_dtype, self._specs[0].dtype)
            except _Unsafe:
                pass  # fall through: the per-column pass below names the culprit
        columns = [
            self._cast(matrix[:, j], spec, dtype)
            for j, (spec, dtype) in enumerate(zip(self._specs, self._dtypes, strict=True))
        ]
        return self._assemble(columns)

    def _assemble(self, columns: list[np.ndarray]) -> Any:
        if self._matrix_dtype is not None:
            return np.column_stack(columns)
        return pd.DataFrame(dict(zip(self._names, columns, strict=True)), copy=False)

    # -- tensors -----------------------------------------------------------------

    def _validate_tensor(self, data: Any) -> np.ndarray:
        spec, dtype = self._specs[0], self._dtypes[0]
        if type(data) is not np.ndarray:
            data = _one_tensor(data, spec)
        return self._tensor(data, spec, dtype)

    def _validate_named(self, data: Any) -> dict[str, np.ndarray]:
        found, _ = _by_name(data, self._specs)
        out: dict[str, np.ndarray] = {}
        for spec, dtype, raw in zip(self._specs, self._dtypes, found, strict=True):
            if raw is None:
                if not spec.optional:
                    raise InvalidInput(f"tensor {spec.name!r} is missing", field=spec.name)
                continue
            out[spec.name] = self._tensor(raw, spec, dtype)
        return out

    def _tensor(self, array: np.ndarray, spec: ColumnSpec, dtype: np.dtype[Any] | None) -> np.ndarray:
        expected = spec.shape
        if expected is not None and not _fits(array.shape, expected):
            if array.ndim == len(expected) - 1 and _fits((1, *array.shape), expected):
                array = array[np.newaxis]  # a single example without its batch dimension
            else:
                shown = "(" + ", ".join("n" if d == -1 else str(d) for d in expected) + ")"
                raise InvalidInput(
                    f"tensor {spec.name!r} has shape {array.shape}; expected {shown}", field=spec.name
                )
        if dtype is not None and array.dtype == dtype:
            return array
        return self._cast(array, spec, dtype)

    def _cast(self, values: np.ndarray, spec: ColumnSpec, dtype: np.dtype[Any] | None) -> np.ndarray:
        try:
            return _cast(values, dtype, spec.dtype)
        except _Unsafe as unsafe:
            reason = f" ({unsafe})" if str(unsafe) else ""
            raise InvalidInput(
                f"{self._label} {spec.name!r} has dtype {values.dtype}, which cannot be safely cast "
                f"to {spec.dtype}{reason}",
                field=spec.name,
                expected=spec.dtype,
                actual=str(values.dtype),
            ) from None


def _fits(shape: tuple[int, ...], expected: tuple[int, ...]) -> bool:
    return len(shape) == len(expected) and all(e in (-1, a) for e, a in zip(expected, shape, strict=True))


def _by_name(data: Any, specs: tuple[ColumnSpec, ...]) -> tuple[list[np.ndarray | None], int | None]:
    """Each spec's raw values (None when absent) and the row count, if the input says."""
    if isinstance(data, pd.DataFrame):
        present = set(data.columns)
        return [data[s.name].to_numpy() if s.name in present else None for s in specs], len(data)
    if isinstance(data, pd.Series):  # one row, e.g. df.iloc[0]
        data = data.to_dict()
    if isinstance(data, Mapping):
        return [np.atleast_1d(np.asarray(data[s.name])) if s.name in data else None for s in specs], None
    if isinstance(data, list | tuple) and all(isinstance(r, Mapping) for r in data):
        return [_from_records(data, s) for s in specs], len(data)
    raise InvalidInput(
        f"expected a DataFrame, ndarray, dict of arrays or list of records; got {type(data).__name__}",
        field="input",
    )


def _from_records(records: list[Mapping[str, Any]] | tuple[Mapping[str, Any], ...], spec: ColumnSpec) -> Any:
    values = [record.get(spec.name) for record in records]
    absent = [i for i, record in enumerate(records) if spec.name not in record]
    if len(absent) == len(records):
        return None
    if absent and not spec.optional:
        raise InvalidInput(f"column {spec.name!r} is missing from record {absent[0]}", field=spec.name)
    if spec.shape is not None or any(isinstance(v, list | tuple | np.ndarray) for v in values):
        return np.asarray(values)
    return np.array(values, dtype=object)


def _one_tensor(data: Any, spec: ColumnSpec) -> np.ndarray:
    if isinstance(data, pd.DataFrame | pd.Series):
        return data.to_numpy()
    if isinstance(data, Mapping):
        if spec.name in data:
            return np.asarray(data[spec.name])
        if len(data) == 1:
            return np.asarray(next(iter(data.values())))
        raise InvalidInput(f"tensor {spec.name!r} is missing", field=spec.name)
    if isinstance(data, list | tuple) and not (data and isinstance(data[0], Mapping)):
        return np.asarray(data)
    raise InvalidInput(
        f"tensor {spec.name!r} expects an ndarray (or a DataFrame or dict holding one); "
        f"got {type(data).__name__}",
        field=spec.name,
    )


def _missing(spec: ColumnSpec, dtype: np.dtype[Any] | None, rows: int) -> np.ndarray:
    if dtype is None:
        return np.full(rows, None, dtype=object)
    if dtype.kind == "M":
        return np.full(rows, np.datetime64("NaT"), dtype=dtype)
    return np.full(rows, np.nan, dtype=dtype)


def _cast(values: np.ndarray, target: np.dtype[Any] | None, name: str) -> np.ndarray:
    """``values`` as ``target`` when the cast keeps every value, else :class:`_Unsafe`."""
    if target is None:
        return values if name == "object" else _strings(values)
    source = values.dtype
    if source == target:
        return values
    if source.kind == "O":
        values = _from_objects(values, target.kind)
        source = values.dtype
    kind = target.kind
    if kind == "f" and source.kind in "biuf":
        return values.astype(target)
    if kind in "iu" and source.kind in "biu":
        if np.can_cast(source, target) or _in_range(values, target):
            return values.astype(target)
        raise _Unsafe("values out of range")
    if kind in "iu" and source.kind == "f":
        if not (np.isfinite(values).all() and (np.trunc(values) == values).all()):
            raise _Unsafe("values with a fractional part or NaN")
        if not _in_range(values, target):
            raise _Unsafe("values out of range")
        return values.astype(target)
    if kind == source.kind and kind in "bMmc":
        return values.astype(target)
    if kind == "c" and source.kind in "biuf":
        return values.astype(target)
    raise _Unsafe("strings are not cast to numbers" if source.kind in "USO" else "")


def _in_range(values: np.ndarray, target: np.dtype[Any]) -> bool:
    if values.size == 0:
        return True
    info = np.iinfo(target)
    return bool(values.min() >= info.min and values.max() <= info.max)


def _from_objects(values: np.ndarray, kind: str) -> np.ndarray:
    items = values.ravel().tolist()
    if any(isinstance(v, str | bytes) for v in items):
        raise _Unsafe("strings are not cast to numbers")
    if kind in "fc":
        items = [np.nan if is_missing(v) else v for v in items]
    try:
        converted = np.array(items)
    except (TypeError, ValueError):
        raise _Unsafe("values are not numbers") from None
    if converted.dtype.kind == "O" or converted.shape != (len(items),):
        raise _Unsafe("values are not numbers" + (" (or are missing)" if kind in "biu" else ""))
    return converted.reshape(values.shape)


def _strings(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind in "US":
        return values.astype(object)
    if values.dtype.kind == "O" and all(isinstance(v, str) or is_missing(v) for v in values.ravel().tolist()):
        return values
    raise _Unsafe("only strings (or missing values) are accepted")
