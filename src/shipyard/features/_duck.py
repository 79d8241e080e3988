"""DuckDB plumbing shared by the offline join, materialization and push.

One connection per operation (DuckDB connections are cheap and not shared
between threads), its session time zone pinned to UTC so time-zone-aware
timestamps compare as instants and nothing depends on the machine's zone.
A view's source is checked against its definition before any query runs:
every join key, timestamp and feature column must exist with a compatible type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shipyard.errors import InvalidInput
from shipyard.features._sources import SourceContext, quote

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from shipyard.features._definitions import FeatureView

__all__ = ["SQL_TYPES", "ViewRelation", "arrow_of", "connect", "family", "reader_of", "view_relation"]

#: The DuckDB type each feature type is returned as.
SQL_TYPES = {"float64": "DOUBLE", "float32": "FLOAT", "int64": "BIGINT", "int32": "INTEGER", "bool": "BOOLEAN",
             "string": "VARCHAR", "timestamp": "TIMESTAMP"}
_INTEGER = re.compile(r"^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|U?HUGEINT|INT\d+|UINTEGER)\Z")
_FLOAT = re.compile(r"^(DOUBLE|FLOAT|REAL|DECIMAL.*|NUMERIC.*)\Z")


def connect() -> duckdb.DuckDBPyConnection:
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    # Never reach the network for an extension: sources say what they need.
    con.execute("SET autoinstall_known_extensions = false")
    return con


def arrow_of(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    """Run ``sql`` and fetch the whole result as Arrow (DuckDB 1.x and 2.x spellings)."""
    rel = con.sql(sql)
    fetch = getattr(rel, "to_arrow_table", None) or rel.arrow
    return fetch()


def reader_of(con: duckdb.DuckDBPyConnection, sql: str, batch_rows: int) -> pa.RecordBatchReader:
    """Run ``sql`` and stream the result in batches of about ``batch_rows`` rows."""
    rel = con.sql(sql)
    fetch = getattr(rel, "to_arrow_reader", None) or rel.fetch_arrow_reader
    return fetch(batch_rows)


def family(sql_type: str) -> str:
    """``int``, ``float``, ``bool``, ``string``, ``timestamp``, ``timestamptz``, ``date`` or ``other``."""
    t = sql_type.upper()
    if _INTEGER.match(t):
        return "int"
    if _FLOAT.match(t):
        return "float"
    if t == "BOOLEAN":
        return "bool"
    if t in ("VARCHAR", "TEXT", "STRING") or t.startswith("ENUM"):
        return "string"
    if t.startswith("TIMESTAMP WITH TIME ZONE") or t == "TIMESTAMPTZ":
        return "timestamptz"
    if t.startswith("TIMESTAMP"):
        return "timestamp"
    if t == "DATE":
        return "date"
    return "other"


_ACCEPTS = {"float64": {"float", "int"}, "float32": {"float", "int"}, "int64": {"int"}, "int32": {"int"},
            "bool": {"bool"}, "string": {"string"}, "timestamp": {"timestamp", "timestamptz", "date"}}


@dataclass
class ViewRelation:
    """A view's source as a checked relation: SQL text and the types of its columns."""

    view: FeatureView
    sql: str
    types: dict[str, str]

    @property
    def aware(self) -> bool:
        """Whether the event timestamps carry a time zone."""
        return family(self.types[self.view.source.timestamp]) == "timestamptz"

    def ts_type(self) -> str:
        return "TIMESTAMPTZ" if self.aware else "TIMESTAMP"

    def feature_expr(self, feature: str) -> str:
        dtype = self.view.features[feature]
        col = quote(feature)
        if dtype == "timestamp":
            return f"CAST({col} AS {'TIMESTAMPTZ' if family(self.types[feature]) == 'timestamptz' else 'TIMESTAMP'})"
        return f"CAST({col} AS {SQL_TYPES[dtype]})"


def view_relation(ctx: SourceContext, view: FeatureView) -> ViewRelation:
    """The view's source as a relation, checked against the definition (``InvalidInput`` naming
    the view and column when a column is missing or has an incompatible type)."""
    sql = view.source.relation(ctx)
    try:
        described = ctx.con.execute(f"DESCRIBE SELECT * FROM {sql}").fetchall()
    except Exception as exc:  # duckdb.Error: unreadable files, bad queries
        raise InvalidInput(f"the source of view {view.name!r} cannot be read: {exc}", field="source",
                           view=view.name) from None
    types = {str(row[0]): str(row[1]) for row in described}
    src = view.source

    def need(column: str, what: str, accepted: set[str]) -> None:
        if column not in types:
            raise InvalidInput(f"the source of view {view.name!r} has no {what} column {column!r} "
                               f"(it has {', '.join(sorted(types))})", field=column, view=view.name)
        if family(types[column]) not in accepted:
            raise InvalidInput(f"{what} column {column!r} of view {view.name!r} is {types[column]} in the "
                               f"source, which does not match the definition", field=column, view=view.name)

    for key in view.join_keys:
        need(key, "join key", {"int", "string", "bool"})
    need(src.timestamp, "timestamp", {"timestamp", "timestamptz", "date"})
    if src.created_timestamp:
        need(src.created_timestamp, "created-timestamp", {"timestamp", "timestamptz", "date"})
    for feature, dtype in view.features.items():  # all of them: a source must match its whole definition
        need(feature, f"feature ({dtype})", _ACCEPTS[dtype])
    return ViewRelation(view, sql, types)
