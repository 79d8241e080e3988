"""Tabular data in and out: DataFrames to Arrow, and Parquet/CSV files checked on the way in.

Every Arrow or parser error about a file becomes ``InvalidInput(field="source",
path=<file>)`` naming the file, so a ragged CSV, a truncated Parquet file or a
column whose type changes between the files of a folder is reported clearly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from shipyard.errors import InvalidInput

__all__ = ["as_table", "detect_format", "inspect_parquet", "read_csv_files", "read_files", "reading"]

_PARQUET = (".parquet", ".pq")
_CSV = (".csv",)


def detect_format(paths: Sequence[str]) -> str:
    """``parquet`` or ``csv`` when every file has that suffix, else ``files`` (opaque)."""
    lowered = [p.lower() for p in paths]
    if lowered and all(p.endswith(_PARQUET) for p in lowered):
        return "parquet"
    if lowered and all(p.endswith(_CSV) for p in lowered):
        return "csv"
    return "files"


@contextlib.contextmanager
def reading(name: str) -> Iterator[None]:
    """Translate Arrow/OS errors raised while reading file ``name`` into InvalidInput."""
    try:
        yield
    except (pa.ArrowException, OSError, ValueError) as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInput(f"cannot read {name!r}: {text}", field="source", path=name) from None


def inspect_parquet(files: Sequence[Path], names: Sequence[str]) -> tuple[pa.Schema, int]:
    """The shared schema and total row count of Parquet files (footers only).

    Raises InvalidInput for an unreadable (e.g. truncated) file or a column that is
    missing or typed differently in some file.
    """
    import pyarrow.parquet as pq

    schema: pa.Schema | None = None
    rows = 0
    for path, name in zip(files, names, strict=True):
        with reading(name):
            meta = pq.ParquetFile(path)
            file_schema = meta.schema_arrow
            rows += meta.metadata.num_rows
        schema = _same_schema(schema, file_schema.remove_metadata(), names[0], name)
    assert schema is not None
    return schema, rows


def read_csv_files(files: Sequence[Path], names: Sequence[str]) -> pa.Table:
    """Read CSV files into one table; ragged rows or type changes raise InvalidInput."""
    from pyarrow import csv

    tables = []
    schema: pa.Schema | None = None
    for path, name in zip(files, names, strict=True):
        with reading(name):
            table = csv.read_csv(path)
        schema = _same_schema(schema, table.schema, names[0], name)
        tables.append(table)
    return pa.concat_tables(tables) if len(tables) > 1 else tables[0]


def read_files(files: Sequence[Path], fmt: str, names: Sequence[str] | None = None) -> pa.Table:
    """The table stored in ``files`` of format ``parquet`` or ``csv``."""
    names = list(names) if names is not None else [p.name for p in files]
    if fmt == "csv":
        return read_csv_files(files, names)
    if fmt != "parquet":
        raise InvalidInput(f"these files are not tabular (format {fmt!r}); use .path() to read them",
                           field="format")
    import pyarrow.parquet as pq

    inspect_parquet(files, names)
    tables = []
    for path, name in zip(files, names, strict=True):
        with reading(name):
            tables.append(pq.read_table(path))
    if len(tables) == 1:
        return tables[0]
    return pa.concat_tables([t.replace_schema_metadata(None) for t in tables])


def _same_schema(seen: pa.Schema | None, schema: pa.Schema, first: str, name: str) -> pa.Schema:
    if seen is None:
        return schema
    theirs = {f.name: f.type for f in schema}
    for field in seen:
        if field.name not in theirs:
            raise InvalidInput(f"column {field.name!r} of {first!r} is missing from {name!r}",
                               field="source", path=name, column=field.name)
        if theirs[field.name] != field.type:
            raise InvalidInput(
                f"column {field.name!r} changes type between files: {field.type} in {first!r}, "
                f"{theirs[field.name]} in {name!r}", field="source", path=name, column=field.name)
    extra = [n for n in theirs if n not in seen.names]
    if extra:
        raise InvalidInput(f"{name!r} has columns {extra} that {first!r} lacks", field="source", path=name)
    return seen


def as_table(data: Any, *, keep_index: bool = False) -> pa.Table:
    """``data`` as an Arrow table: pandas or polars DataFrame, Arrow table or batch, a
    mapping of columns, or anything with ``to_arrow()`` (a dataset handle).

    ``keep_index`` keeps a pandas index that is not the default range as a column.
    """
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    module = type(data).__module__.split(".")[0]
    if module == "pandas":
        import pandas as pd

        if isinstance(data, pd.DataFrame):
            try:
                return pa.Table.from_pandas(data, preserve_index=None if keep_index else False)
            except (pa.ArrowException, ValueError, TypeError) as exc:
                raise InvalidInput(f"cannot convert the DataFrame to Arrow: {exc}", field="data") from None
    if hasattr(data, "to_arrow"):
        table = data.to_arrow()
        if isinstance(table, pa.Table):
            return table
    if isinstance(data, dict):
        try:
            return pa.table(data)
        except (pa.ArrowException, ValueError, TypeError) as exc:
            raise InvalidInput(f"cannot make a table of the mapping: {exc}", field="data") from None
    raise InvalidInput(
        f"expected a pandas or polars DataFrame, an Arrow table or a dataset handle, got {type(data).__name__}",
        field="data")
