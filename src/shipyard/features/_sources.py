"""Where a feature view's rows come from, as a relation DuckDB can scan.

Every source names its event-timestamp column (``timestamp``) and optionally a
created-timestamp column for late corrections. :meth:`Source.relation` registers
what it needs on a DuckDB connection and returns SQL text usable after ``FROM``;
the caller selects only the columns it needs, so Parquet scans read only those
(projection pushdown) and filters on them are pushed into the scan.

* :class:`ParquetSource` — a file, a folder (every ``*.parquet`` below it) or a glob,
  local or any fsspec URL (``s3://…``: the fsspec filesystem is registered with DuckDB);
* :class:`CsvSource` — the same for CSV (types detected by DuckDB);
* :class:`DataFrameSource` — a pandas or polars DataFrame or an Arrow table, scanned in
  place (no copy); it lives only in the process that defined it;
* :class:`DatasetSource` — a Shipyard dataset version (``"churn@3"``), read from the
  verified local cache;
* :class:`~shipyard.features._sql_source.SqlSource` — a table or query in PostgreSQL or a
  DuckDB database file (its own module).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "literal",
    "CsvSource",
    "DataFrameSource",
    "DatasetSource",
    "ParquetSource",
    "Source",
    "SourceContext",
    "quote",
    "source_from_spec",
]

#: Resolves a dataset reference to (local folder of its files, format).
DatasetResolver = Callable[[str], tuple[Path, str]]


def quote(name: str) -> str:
    """A SQL identifier, double-quoted."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass
class SourceContext:
    """What sources need to become relations: the connection and the hooks to the outside."""

    con: duckdb.DuckDBPyConnection
    datasets: DatasetResolver | None = None
    storage_options: Mapping[str, Any] = field(default_factory=dict)
    _names: Any = field(default_factory=itertools.count)
    _filesystems: set[str] = field(default_factory=set)
    _attached: dict[str, str] = field(default_factory=dict)

    def fresh_name(self, prefix: str) -> str:
        return f"__sy_{prefix}_{next(self._names)}"

    def register_fs(self, url: str) -> None:
        """Let DuckDB read ``url`` through fsspec (its own HTTP extensions may be absent offline)."""
        protocol = url.split("://", 1)[0]
        if protocol in self._filesystems or protocol in ("file", "local"):
            return
        import fsspec

        try:
            fs = fsspec.filesystem(protocol, **dict(self.storage_options))
        except (ImportError, ValueError) as exc:
            raise InvalidInput(f"cannot open {url!r}: {exc}", field="path") from None
        self.con.register_filesystem(fs)
        self._filesystems.add(protocol)


class Source:
    """Base of every source: the timestamp columns and the relation contract."""

    type: str = ""
    timestamp: str
    created_timestamp: str | None

    def _init_ts(self, timestamp: str, created_timestamp: str | None) -> None:
        if not isinstance(timestamp, str) or not timestamp:
            raise InvalidInput(f"{type(self).__name__} needs timestamp= (the event-timestamp column)",
                               field="timestamp")
        if created_timestamp is not None and (not isinstance(created_timestamp, str) or not created_timestamp):
            raise InvalidInput("created_timestamp must be a column name", field="created_timestamp")
        if created_timestamp == timestamp:
            raise InvalidInput("created_timestamp must differ from timestamp", field="created_timestamp")
        self.timestamp = timestamp
        self.created_timestamp = created_timestamp

    def relation(self, ctx: SourceContext) -> str:
        """SQL text to put after ``FROM`` (registering whatever it needs on ``ctx.con``)."""
        raise NotImplementedError

    def _spec(self) -> dict[str, Any]:
        return {"type": self.type, "timestamp": self.timestamp, "created_timestamp": self.created_timestamp}

    def to_spec(self) -> dict[str, Any]:
        return self._spec()

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.to_spec() == self.to_spec()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(repr(sorted(self.to_spec().items())))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_spec().items() if k != "type" and v is not None)
        return f"{type(self).__name__}({args})"


def _is_url(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def _files_glob(path: str, suffix: str, ctx: SourceContext) -> str:
    """A file, a folder (recursive glob of ``*.suffix``) or a glob, as a DuckDB path literal."""
    if any(ch in path for ch in "*?["):
        return literal(path)
    if _is_url(path):
        ctx.register_fs(path)
        import fsspec

        fs, _, _ = fsspec.get_fs_token_paths(path, storage_options=dict(ctx.storage_options))
        if path.endswith("/") or fs.isdir(path):
            return literal(path.rstrip("/") + f"/**/*.{suffix}")
        return literal(path)
    local = Path(path.removeprefix("file://")).expanduser()
    if local.is_dir():
        if not any(local.rglob(f"*.{suffix}")):
            raise NotFound(f"no *.{suffix} files under {str(local)!r}", resource="source", path=str(local))
        return literal(str(local.absolute() / "**" / f"*.{suffix}"))
    if not local.is_file():
        raise NotFound(f"source {str(local)!r} does not exist", resource="source", path=str(local))
    return literal(str(local.absolute()))


class ParquetSource(Source):
    """Parquet files: one file, a folder of them, a glob, local or an fsspec URL."""

    type = "parquet"

    def __init__(self, path: str | os.PathLike[str], timestamp: str = "event_timestamp",
                 created_timestamp: str | None = None) -> None:
        self.path = os.fspath(path)
        self._init_ts(timestamp, created_timestamp)

    def relation(self, ctx: SourceContext) -> str:
        return f"read_parquet({_files_glob(self.path, 'parquet', ctx)}, union_by_name = true)"

    def to_spec(self) -> dict[str, Any]:
        return {**self._spec(), "path": self.path}


class CsvSource(Source):
    """CSV files with a header row; DuckDB detects the column types."""

    type = "csv"

    def __init__(self, path: str | os.PathLike[str], timestamp: str = "event_timestamp",
                 created_timestamp: str | None = None, delimiter: str = ",") -> None:
        self.path = os.fspath(path)
        self.delimiter = delimiter
        self._init_ts(timestamp, created_timestamp)

    def relation(self, ctx: SourceContext) -> str:
        return (f"read_csv({_files_glob(self.path, 'csv', ctx)}, header = true, "
                f"delim = {literal(self.delimiter)}, union_by_name = true)")

    def to_spec(self) -> dict[str, Any]:
        return {**self._spec(), "path": self.path, "delimiter": self.delimiter}


class DataFrameSource(Source):
    """An in-memory table (pandas, polars or Arrow), scanned without copying.

    The registry records only its columns' roles: the data exists in the process
    that created the source, so only that process can read the view offline or
    materialize it.
    """

    type = "dataframe"

    def __init__(self, df: Any, timestamp: str = "event_timestamp", created_timestamp: str | None = None) -> None:
        self.df = df
        self._init_ts(timestamp, created_timestamp)

    def relation(self, ctx: SourceContext) -> str:
        if self.df is None:
            raise InvalidInput("this view's DataFrameSource holds no data here: its DataFrame lives in the "
                               "process that defined it", field="source")
        name = ctx.fresh_name("df")
        data = self.df
        if type(data).__module__.startswith("polars"):
            data = data.to_arrow()
        ctx.con.register(name, data)
        return quote(name)

    def __eq__(self, other: object) -> bool:
        return other is self or (isinstance(other, DataFrameSource) and other.df is self.df
                                 and other.to_spec() == self.to_spec())

    __hash__ = Source.__hash__


class DatasetSource(Source):
    """A Shipyard dataset version (``"churn@3"``; ``"churn"`` means the latest at read time)."""

    type = "dataset"

    def __init__(self, ref: str, timestamp: str = "event_timestamp", created_timestamp: str | None = None) -> None:
        if not isinstance(ref, str) or not ref:
            raise InvalidInput(f"a dataset reference is needed, got {ref!r}", field="ref")
        self.ref = ref
        self._init_ts(timestamp, created_timestamp)

    def relation(self, ctx: SourceContext) -> str:
        if ctx.datasets is None:
            raise InvalidInput("reading a DatasetSource needs a feature store with dataset access", field="source")
        folder, fmt = ctx.datasets(self.ref)
        if fmt not in ("parquet", "csv"):
            raise InvalidInput(f"dataset {self.ref!r} is not tabular (format {fmt!r})", field="source")
        glob = literal(str(Path(folder) / "**" / f"*.{fmt}"))
        if fmt == "parquet":
            return f"read_parquet({glob}, union_by_name = true)"
        return f"read_csv({glob}, header = true, union_by_name = true)"

    def to_spec(self) -> dict[str, Any]:
        return {**self._spec(), "ref": self.ref}


_BY_TYPE: dict[str, Callable[[Mapping[str, Any]], Source]] = {
    "parquet": lambda s: ParquetSource(s["path"], s["timestamp"], s.get("created_timestamp")),
    "csv": lambda s: CsvSource(s["path"], s["timestamp"], s.get("created_timestamp"), s.get("delimiter", ",")),
    "dataframe": lambda s: DataFrameSource(None, s["timestamp"], s.get("created_timestamp")),
    "dataset": lambda s: DatasetSource(s["ref"], s["timestamp"], s.get("created_timestamp")),
    "sql": lambda s: _sql_source()(s["table_or_query"], s["url"], s["timestamp"], s.get("created_timestamp")),
}


def _sql_source() -> Callable[..., Source]:
    from shipyard.features._sql_source import SqlSource

    return SqlSource


def source_from_spec(spec: Mapping[str, Any]) -> Source:
    """The source a stored spec describes (a DataFrame source comes back without its data)."""
    build = _BY_TYPE.get(spec.get("type", ""))
    if build is None:
        raise InvalidInput(f"unknown source type {spec.get('type')!r}", field="source")
    return build(spec)

