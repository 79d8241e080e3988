"""Columns of a frame as the statistics need them: sorted finite floats, or category counts.

Any tabular input (pandas or polars DataFrame, Arrow table or batch, a mapping of
columns) becomes an Arrow table once; each column is then read on its own, so
memory holds the columns in flight rather than a second copy of the frame.

A column is ``numeric`` (integers, floats, decimals, timestamps as their integer
ticks) or ``categorical`` (strings, booleans, dictionaries; values compared as text,
booleans as ``"true"``/``"false"``). Nulls, NaN and infinities count as missing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shipyard.datasets._profiling import column_kind
from shipyard.datasets._tables import as_table

__all__ = ["as_table", "category_counts", "kind_of", "sorted_finite", "text"]


def kind_of(type_: pa.DataType) -> str | None:
    """``numeric`` or ``categorical`` for an Arrow type; None for types drift cannot compare."""
    kind = column_kind(type_)
    if kind == "temporal":
        return "numeric"
    return kind if kind in ("numeric", "categorical") else None


def _floats(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    type_ = column.type
    if pa.types.is_dictionary(type_):
        column = column.cast(type_.value_type)
        type_ = type_.value_type
    if pa.types.is_temporal(type_):
        column = column.cast(pa.int64() if type_.bit_width == 64 else pa.int32())
    if not pa.types.is_floating(column.type) or pa.types.is_float16(column.type):
        column = column.cast(pa.float64())
    if isinstance(column, pa.ChunkedArray):
        if column.num_chunks == 0:
            return np.empty(0)
        column = column.combine_chunks() if column.num_chunks > 1 else column.chunk(0)
    # Nulls become NaN here (a copy only when the column has nulls or is not float64).
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)


def sorted_finite(column: pa.ChunkedArray | pa.Array | np.ndarray) -> tuple[np.ndarray, int]:
    """The finite values of a numeric column, sorted, and how many values were missing.

    One sort (numpy's, which releases the GIL); the missing values (NaN after null
    conversion, and ±inf) sort to the ends and are cut off without another pass.
    """
    values = column if isinstance(column, np.ndarray) else _floats(column)
    ordered = np.sort(values.astype(np.float64, copy=False))
    low = int(np.searchsorted(ordered, -np.inf, side="right"))
    high = int(np.searchsorted(ordered, np.inf, side="left"))
    return ordered[low:high], values.size - (high - low)


def category_counts(column: pa.ChunkedArray | pa.Array) -> tuple[list[str], np.ndarray, int]:
    """The distinct values of a column as text, their counts (same order) and the null count."""
    type_ = column.type
    if pa.types.is_dictionary(type_):
        column = column.cast(type_.value_type)
    nulls = column.null_count
    if len(column) - nulls == 0:
        return [], np.empty(0, dtype=np.int64), nulls
    counted = pc.value_counts(column)
    values = counted.field("values")
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = values.cast(pa.string())
    keep = pc.is_valid(values)
    values, counts = pc.filter(values, keep), pc.filter(counted.field("counts"), keep)
    return values.to_pylist(), np.asarray(counts.to_numpy(zero_copy_only=False), dtype=np.int64), nulls


def text(value: Any) -> str:
    """A category value as text, the way Arrow casts it (booleans as ``true``/``false``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
