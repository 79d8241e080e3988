"""What the UI previews of a run's files, read on the server: a table's head, a model's manifest.

A browser cannot read Parquet, and a CSV's head is better cut by a real parser than by
the first bytes; ``table_head`` answers the first rows of either as JSON. A model
package's ``model.yaml`` is YAML; ``model_package`` answers it parsed and checked by
:class:`~shipyard.models.ModelManifest`, signature included.

>>> head = table_head_of_bytes("scores.csv", b"fold,auc\\n1,0.81\\n2,0.79\\n", 1)
>>> head["columns"], head["rows"], head["total_rows"]
(['fold', 'auc'], [['1', '0.81']], None)
"""

from __future__ import annotations

import csv
import io
import math
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field

from shipyard.errors import InvalidInput
from shipyard.models import ModelManifest
from shipyard.tracking import TrackingStore

__all__ = ["CSV_HEAD_BYTES", "TABLE_SUFFIXES", "ModelPackage", "TableHead", "model_package", "table_head",
           "table_head_of_bytes"]

#: The most bytes of a CSV read to find its head rows (a row longer than this is cut).
CSV_HEAD_BYTES = 1024 * 1024
#: The files ``table_head`` reads, by suffix.
TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")
_MANIFEST_BYTES = 4 * 1024 * 1024


class TableHead(BaseModel):
    """The first rows of a CSV, TSV or Parquet file; Parquet adds column types and the row count."""

    path: str
    format: str = Field(description="csv or parquet")
    columns: list[str]
    types: list[str] | None = None
    rows: list[list[Any]]
    total_rows: int | None = Field(description="null when only the head was read (CSV)")


class ModelPackage(BaseModel):
    """A logged model package's ``model.yaml``, parsed and checked (flavor, signature, files…)."""

    path: str
    manifest: dict[str, Any]
    problem: str | None = Field(default=None, description="why the manifest does not check, when it does not")


def _suffix(path: str) -> str:
    name = path.rsplit("/", 1)[-1].lower()
    return name[name.rfind("."):] if "." in name else ""


def _cell(value: Any) -> Any:
    """A JSON-safe cell: numbers and booleans stay, NaN is null, anything else is text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    return str(value)


def _first_bytes(chunks: Iterator[bytes], limit: int) -> tuple[bytes, bool]:
    out = bytearray()
    for chunk in chunks:
        out += chunk
        if len(out) > limit:
            return bytes(out[:limit]), True
    return bytes(out), False


def table_head_of_bytes(path: str, data: bytes, rows: int, truncated: bool = False) -> dict[str, Any]:
    """The head of a CSV or TSV given its first bytes: ``{format, columns, rows, total_rows}``.

    ``total_rows`` is null: only the head was read. A row cut off by ``truncated`` is dropped.
    """
    text = data.decode("utf-8", errors="replace")
    if truncated:
        text = text[: text.rfind("\n") + 1]
    reader = csv.reader(io.StringIO(text), delimiter="\t" if _suffix(path) == ".tsv" else ",")
    columns = next(reader, [])
    body = [row for _, row in zip(range(rows), reader, strict=False)]
    return {"path": path, "format": "csv", "columns": columns, "rows": body, "total_rows": None}


def table_head(store: TrackingStore, run_id: str, path: str, rows: int) -> dict[str, Any]:
    """The first ``rows`` rows of the run's CSV, TSV or Parquet file ``path``.

    Parquet answers its column names and types and its total row count (from the footer);
    only the first row group it needs is decoded. Any other kind of file is InvalidInput.
    """
    suffix = _suffix(path)
    if suffix not in TABLE_SUFFIXES:
        raise InvalidInput(f"only {', '.join(TABLE_SUFFIXES)} files have a table head, not {path!r}", field="path")
    if suffix in (".csv", ".tsv"):
        data, truncated = _first_bytes(store.open_artifact(run_id, path), CSV_HEAD_BYTES)
        return table_head_of_bytes(path, data, rows, truncated)
    import pyarrow as pa
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory(prefix="shipyard-head-") as tmp:
        local = store.download_artifact(run_id, path, Path(tmp) / "table.parquet")
        try:
            parquet = pq.ParquetFile(local)
            batch = next(parquet.iter_batches(batch_size=rows), None)
        except (pa.ArrowException, OSError) as exc:
            raise InvalidInput(f"{path!r} is not a readable Parquet file: {exc}", field="path") from None
        schema = parquet.schema_arrow
        table = [] if batch is None else batch.to_pylist()
        return {
            "path": path, "format": "parquet",
            "columns": schema.names,
            "types": [str(f.type) for f in schema],
            "rows": [[_cell(row.get(name)) for name in schema.names] for row in table[:rows]],
            "total_rows": parquet.metadata.num_rows,
        }


def model_package(store: TrackingStore, run_id: str, path: str) -> dict[str, Any]:
    """The manifest of the model package logged under ``path`` (its ``model.yaml``), checked.

    A folder without ``model.yaml`` is NotFound (from the store); one that is not a YAML
    mapping is InvalidInput. A mapping that does not check as a manifest is answered as
    written, with ``problem`` saying what is wrong.
    """
    folder = path.strip("/")
    manifest_path = f"{folder}/model.yaml" if folder else "model.yaml"
    data, truncated = _first_bytes(store.open_artifact(run_id, manifest_path), _MANIFEST_BYTES)
    if truncated:
        raise InvalidInput(f"{manifest_path!r} is larger than a model manifest can be", field="path")
    try:
        values = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{manifest_path!r} is not YAML: {exc}", field="path") from None
    if not isinstance(values, dict):
        raise InvalidInput(f"{manifest_path!r} is not a mapping", field="path")
    try:
        checked = ModelManifest.from_dict(values).to_dict()
    except InvalidInput as exc:  # shown as written, with what is wrong with it
        return {"path": folder, "manifest": _plain(values), "problem": exc.message}
    return {"path": folder, "manifest": _plain(checked), "problem": None}


def _plain(value: Any) -> Any:
    """YAML's dates and other objects as text, so the manifest encodes as JSON."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return _cell(value)
