"""Feature store tables (revision 0005): versioned definitions, materialization state."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    String,
    Table,
    Text,
)

from shipyard.store.schema._meta import metadata

__all__ = ["feature_materializations", "feature_objects"]

# Every applied version of an entity, feature view or on-demand view. ``spec`` is the
# definition as JSON; ``fingerprint`` its sha256, so an unchanged apply adds nothing.
feature_objects = Table(
    "feature_objects",
    metadata,
    Column("kind", String(32), primary_key=True),  # entity | feature_view | on_demand_view
    Column("name", String(256), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("spec", Text, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("forced", Integer, nullable=False),  # 1: stored over an incompatible change
    Column("created_at", BigInteger, nullable=False),
)

# Per view, what the last materialization wrote: its interval [start, end) in
# microseconds since the epoch (UTC), the rows written and when.
feature_materializations = Table(
    "feature_materializations",
    metadata,
    Column("view", String(256), primary_key=True),
    Column("interval_start", BigInteger, nullable=True),
    Column("interval_end", BigInteger, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("materialized_at", BigInteger, nullable=False),
)
