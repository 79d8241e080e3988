"""Point-in-time correct training sets: one DuckDB ASOF join per feature view.

For each entity row (join keys + timestamp ``ts``) and each view, the value is the
row of that entity with the greatest event time ``<= ts`` (never a later one);
among rows with that same event time, the one with the greatest created
timestamp (a late correction wins). It counts only when ``event time >= ts - ttl``
(the TTL edge is inclusive); otherwise, and for entities with no history, the
features are null. Every entity row comes back exactly once, in the caller's
order, duplicates included: the join carries a row number and the result is
sorted by it. The entity frame's own columns never pass through DuckDB, so they
come back with the caller's types and index.

Time zones: the entity timestamps and a view's event timestamps must both be
time-zone aware (compared as instants) or both naive (compared as written);
mixing them raises :class:`~shipyard.errors.InvalidInput` naming the view, since
guessing a zone would silently shift every value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidInput, MissingExtra
from shipyard.features._duck import ViewRelation, arrow_of, family, view_relation
from shipyard.features._sources import SourceContext, quote

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from shipyard.features._definitions import FeatureView
    from shipyard.features._plan import Plan

__all__ = ["HistoricalFeatures", "historical_features", "to_arrow_table"]

_ROW = "__sy_row"


def to_arrow_table(data: Any, field: str = "entity_df") -> pa.Table:
    """A pandas or polars DataFrame or an Arrow table as Arrow (no copy where possible)."""
    import pyarrow as pa

    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    module = type(data).__module__
    if module.startswith("pandas"):
        try:
            return pa.Table.from_pandas(data, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise InvalidInput(f"{field} cannot be read as a table: {exc}", field=field) from None
    if module.startswith("polars"):
        return data.to_arrow()
    raise InvalidInput(f"{field} must be a pandas or polars DataFrame or an Arrow table, got {type(data).__name__}",
                       field=field)


def _entity_ts_type(table: pa.Table, timestamp: str) -> tuple[str, bool]:
    """The SQL type the entity timestamps are compared as, and whether they are aware."""
    import pyarrow as pa

    col_type = table.schema.field(timestamp).type
    if pa.types.is_timestamp(col_type):
        return ("TIMESTAMPTZ", True) if col_type.tz else ("TIMESTAMP", False)
    if pa.types.is_date(col_type):
        return "TIMESTAMP", False
    raise InvalidInput(f"entity timestamp column {timestamp!r} must hold timestamps, got {col_type}",
                       field=timestamp)


def historical_features(ctx: SourceContext, entity: pa.Table, plan: Plan, timestamp: str) -> pa.Table:
    """The feature columns (``plan.offline_columns``), one row per entity row, in order."""
    import numpy as np
    import pyarrow as pa

    missing = [c for c in [*plan.join_keys, timestamp] if c not in entity.column_names]
    if missing:
        what = "timestamp" if missing[0] == timestamp else "join key"
        raise InvalidInput(f"entity_df has no {what} column {missing[0]!r} (it has "
                           f"{', '.join(entity.column_names)})", field=missing[0])
    ts_sql, aware = _entity_ts_type(entity, timestamp)
    n = entity.num_rows
    keys_and_ts = entity.select([*dict.fromkeys([*plan.join_keys, timestamp])])
    base = keys_and_ts.append_column(_ROW, pa.array(np.arange(n, dtype=np.int64)))
    con = ctx.con
    con.register("__sy_entity", base)
    entity_types = {str(r[0]): str(r[1]) for r in con.execute("DESCRIBE SELECT * FROM __sy_entity").fetchall()}
    select = [f"e.{_ROW}"]
    joins = []
    for i, step in enumerate(plan.views):
        rel = view_relation(ctx, step.view)
        if rel.aware != aware:
            raise InvalidInput(
                f"the entity timestamps ({timestamp!r}) are {'time-zone aware' if aware else 'naive'} but the "
                f"event timestamps of view {step.view.name!r} are {'aware' if rel.aware else 'naive'}: make both "
                f"aware (compared as instants) or both naive", field=timestamp, view=step.view.name)
        _check_keys(step.view, rel, entity_types)
        alias = f"v{i}"
        joins.append(_asof(rel, alias, step.features, ts_sql))
        valid = f"{alias}.__ts IS NOT NULL"
        if step.view.ttl_us is not None:
            valid = f"{alias}.__ts >= e.__ts - INTERVAL '{int(step.view.ttl_us)} microseconds'"
        for feature, out in zip(step.features, step.outputs, strict=True):
            select.append(f"CASE WHEN {valid} THEN {alias}.{quote(feature)} END AS {quote(out)}")
    ts_col = quote(timestamp)
    keys = ", ".join(quote(k) for k in plan.join_keys)
    tc = f", {{'t': CAST({ts_col} AS {ts_sql}), 'c': CAST('infinity' AS {ts_sql})}} AS __tc"
    entity_sql = (f"(SELECT {_ROW}, {keys + ', ' if keys else ''}CAST({ts_col} AS {ts_sql}) AS __ts"
                  f"{tc if any(s.view.source.created_timestamp for s in plan.views) else ''} "
                  f"FROM __sy_entity) AS e")
    sql = f"SELECT {', '.join(select)} FROM {entity_sql} {' '.join(joins)} ORDER BY e.{_ROW}"
    try:
        result = arrow_of(con, sql)
    except Exception as exc:  # duckdb.Error: a type DuckDB could not reconcile
        raise InvalidInput(f"the point-in-time join failed: {exc}", field="entity_df") from None
    if result.num_rows != n:  # the join's contract; never expected
        raise AssertionError(f"point-in-time join returned {result.num_rows} rows for {n} entity rows")
    return result.drop_columns([_ROW])


def _check_keys(view: FeatureView, rel: ViewRelation, entity_types: dict[str, str]) -> None:
    for key in view.join_keys:
        mine, theirs = family(entity_types[key]), family(rel.types[key])
        if mine != theirs:
            raise InvalidInput(f"join key {key!r} is {entity_types[key]} in entity_df but {rel.types[key]} in the "
                               f"source of view {view.name!r}", field=key, view=view.name)


def _asof(rel: ViewRelation, alias: str, features: Sequence[str], ts_sql: str) -> str:
    """``ASOF LEFT JOIN`` of one view on the join keys and event time.

    With a created timestamp the inequality is on the pair (event time, created
    time), compared as a struct against (entity time, +infinity): the match is the
    greatest event time at or before the entity's, and among rows sharing it the
    greatest created time, in the same single pass as a plain ASOF join.
    """
    view = rel.view
    src = view.source
    keys = [quote(k) for k in view.join_keys]
    ts = f"CAST({quote(src.timestamp)} AS {ts_sql})"
    cols = [*keys, f"{ts} AS __ts", *(f"{rel.feature_expr(f)} AS {quote(f)}" for f in features)]
    inequality = f"e.__ts >= {alias}.__ts"
    if src.created_timestamp:
        created = f"COALESCE(CAST({quote(src.created_timestamp)} AS {ts_sql}), CAST('-infinity' AS {ts_sql}))"
        cols.append(f"{{'t': {ts}, 'c': {created}}} AS __tc")
        inequality = f"e.__tc >= {alias}.__tc"
    inner = f"SELECT {', '.join(cols)} FROM {rel.sql}"
    on = " AND ".join([*(f"e.{k} = {alias}.{k}" for k in keys), inequality])
    return f"ASOF LEFT JOIN ({inner}) AS {alias} ON {on}"


@dataclass
class HistoricalFeatures:
    """A training set: the caller's entity rows with their point-in-time feature values.

    ``features`` holds only the feature columns (one row per entity row, in order);
    the ``to_*`` methods put them beside the entity frame as the caller gave it.
    """

    entity_df: Any
    features: pa.Table
    views: list[tuple[str, int]]  # (view, version) read, for lineage
    _register: Any = None

    @property
    def columns(self) -> list[str]:
        return self.features.column_names

    def __len__(self) -> int:
        return self.features.num_rows

    def to_arrow(self) -> pa.Table:
        table = to_arrow_table(self.entity_df)
        for name in self.features.column_names:
            table = table.append_column(name, self.features.column(name))
        return table

    def to_pandas(self) -> pd.DataFrame:
        """The entity frame with the features beside it; integer and boolean features use
        pandas' nullable dtypes (``Int64``, ``boolean``), so a missing value stays missing
        without turning the column into floats."""
        import pandas as pd
        import pyarrow as pa

        nullable = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int32Dtype(), pa.bool_(): pd.BooleanDtype()}
        features = self.features.to_pandas(types_mapper=nullable.get)
        if isinstance(self.entity_df, pd.DataFrame):
            features.index = self.entity_df.index
            return pd.concat([self.entity_df, features], axis=1)
        frame = to_arrow_table(self.entity_df).to_pandas()
        return pd.concat([frame, features], axis=1)

    def to_polars(self) -> Any:
        try:
            import polars as pl
        except ImportError:
            raise MissingExtra("polars", "polars") from None
        return pl.from_arrow(self.to_arrow())

    def to_dataset(self, name: str, *, description: str | None = None) -> Any:
        """Register the training set as a new version of dataset ``name``, with lineage edges
        from every feature view version it read; returns the dataset version."""
        if self._register is None:
            raise InvalidInput("this feature store has no dataset access to register with", field="name")
        return self._register(name, self.to_arrow(), description, self.views)
