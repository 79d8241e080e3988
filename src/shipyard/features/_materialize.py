"""Materialization and push: the latest row per entity, computed in DuckDB, into the online store.

``latest_rows`` keeps, per entity key, the row with the greatest (event time,
created time) among the source rows with event time in ``[start, end)`` — a
``QUALIFY row_number()`` over the source, so only one row per entity ever leaves
DuckDB — and streams them in batches to the online store, whose newer-wins write
makes overlapping or repeated intervals harmless. Times are microseconds since
the epoch, UTC; naive source timestamps are taken as UTC for the interval bounds.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidInput
from shipyard.features._duck import ViewRelation, reader_of, view_relation
from shipyard.features._sources import SourceContext, quote

if TYPE_CHECKING:
    import pyarrow as pa

    from shipyard.features._definitions import FeatureView
    from shipyard.features.online import OnlineStore

__all__ = ["BATCH_ROWS", "latest_rows_sql", "push_rows", "to_us", "write_latest"]

BATCH_ROWS = 50_000


def to_us(value: Any, field: str) -> int:
    """Microseconds since the epoch (UTC) of a datetime (naive: UTC), a pandas Timestamp,
    an ISO string or a number of seconds."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(f"{field} must be an ISO date or time, got {value!r}", field=field) from None
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return (value - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value * 1_000_000)
    raise InvalidInput(f"{field} must be a datetime, got {value!r}", field=field)


def _key_expr(view: FeatureView) -> str:
    parts = [f"CAST({quote(k)} AS VARCHAR)" for k in view.join_keys]
    return parts[0] if len(parts) == 1 else f"concat_ws(chr(31), {', '.join(parts)})"


def latest_rows_sql(rel: ViewRelation, start_us: int | None, end_us: int | None) -> str:
    """SQL giving ``key, event_ts, __payload``: the latest row per entity in [start, end), its
    features as one JSON object built by DuckDB.

    ``arg_max`` over a struct of the row, by (event time, created time), in one hash
    aggregation: several times faster than ranking every row with a window.
    """
    view = rel.view
    src = view.source
    ts = quote(src.timestamp)
    bound = "CAST(make_timestamp({}) AS TIMESTAMPTZ)" if rel.aware else "make_timestamp({})"
    where = [f"{quote(k)} IS NOT NULL" for k in view.join_keys] + [f"{ts} IS NOT NULL"]
    if start_us is not None:
        where.append(f"{ts} >= {bound.format(int(start_us))}")
    if end_us is not None:
        where.append(f"{ts} < {bound.format(int(end_us))}")
    order = ts
    if src.created_timestamp:
        ts_type = "TIMESTAMPTZ" if rel.aware else "TIMESTAMP"
        created = (f"COALESCE(CAST({quote(src.created_timestamp)} AS {ts_type}), "
                   f"CAST('-infinity' AS {ts_type}))")
        order = f"{{'t': CAST({ts} AS {ts_type}), 'c': {created}}}"
    row = ", ".join([f"__ts: epoch_us({ts})", *(f"{quote(f)}: {rel.feature_expr(f)}" for f in view.features)])
    keys = ", ".join(quote(k) for k in view.join_keys)
    latest = (f"SELECT {keys}, arg_max({{{row}}}, {order}) AS __row FROM {rel.sql} "
              f"WHERE {' AND '.join(where)} GROUP BY {keys}")
    payload = ", ".join(f"{quote(f)}: {_json_value(f'__row.{quote(f)}', view.features[f])}" for f in view.features)
    return (f"SELECT {_key_expr(view)} AS key, __row.__ts AS event_ts, to_json({{{payload}}}) AS __payload "
            f"FROM ({latest})")


def _json_value(expr: str, dtype: str) -> str:
    """A feature as it goes into the online JSON: NaN and infinities as null (JSON has
    neither), float32 widened to double and timestamps as µs, as the Python encoder does."""
    if dtype in ("float64", "float32"):
        return f"CASE WHEN isfinite({expr}) THEN CAST({expr} AS DOUBLE) END"
    if dtype == "timestamp":
        return f"epoch_us({expr})"
    return expr


def write_latest(ctx: SourceContext, view: FeatureView, online: OnlineStore, start_us: int | None,
                 end_us: int | None) -> int:
    """Materialize one view's interval into ``online``; the number of entity rows written."""
    import pyarrow as pa

    rel = view_relation(ctx, view)
    written = 0
    for batch in reader_of(ctx.con, latest_rows_sql(rel, start_us, end_us), BATCH_ROWS):
        if batch.num_rows:
            written += online.write(view.name, pa.Table.from_batches([batch]))
    return written


def push_rows(ctx: SourceContext, view: FeatureView, table: pa.Table, online: OnlineStore) -> int:
    """Write fresh rows of ``view`` (keys, timestamp, every feature) straight to ``online``.

    Only the latest row per entity in ``table`` is written, and only where it is at
    least as new as the stored one.
    """
    from shipyard.features._definitions import FeatureView as _FV
    from shipyard.features._sources import DataFrameSource

    src = view.source
    needed = [*view.join_keys, src.timestamp, *view.features]
    missing = [c for c in needed if c not in table.column_names]
    if missing:
        raise InvalidInput(f"rows pushed to view {view.name!r} have no column {missing[0]!r}", field=missing[0],
                           view=view.name)
    created = src.created_timestamp if src.created_timestamp in table.column_names else None
    pushed = _FV(view.name, view.entities, DataFrameSource(table, src.timestamp, created), view.features,
                 ttl=view.ttl)
    return write_latest(ctx, pushed, online, None, None)
