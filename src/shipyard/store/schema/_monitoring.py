"""Monitoring tables (revision 0004): monitors, their window results, labels, segments."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)

from shipyard.store.schema._meta import metadata

__all__ = ["monitor_labels", "monitor_points", "monitor_segments", "monitor_windows", "monitors"]

# A monitor watches one served model's inference log in fixed windows. ``cursor`` is the
# end of the last window computed: the next run starts there, and it moves in the same
# transaction as that window's results, so each window is computed once.
monitors = Table(
    "monitors",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("model", String(512), nullable=False),  # "churn@production", "churn/3", "churn"
    Column("reference", String(1024), nullable=True),  # "ds:churn@3"
    Column("window_s", Integer, nullable=False),
    Column("task", String(32), nullable=True),  # classification | regression
    Column("label_column", String(256), nullable=True),  # the target column of the reference
    Column("options", Text, nullable=True),  # JSON object
    Column("cursor", BigInteger, nullable=True),
    Column("label_watermark", BigInteger, nullable=True),  # labels arrived up to here are applied
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# One value per (monitor, series, label set, window); ``labels`` is canonical JSON
# (sorted keys, no spaces; "{}" when none) so equal label sets compare equal in SQL.
monitor_points = Table(
    "monitor_points",
    metadata,
    Column("monitor", String(256), primary_key=True),
    Column("series", String(128), primary_key=True),
    Column("labels", String(512), primary_key=True),
    Column("window_start", BigInteger, primary_key=True),
    Column("window_end", BigInteger, nullable=False),
    Column("value", Double, nullable=True),  # NULL: nothing to compute it from
    Index("ix_monitor_points_monitor_end", "monitor", "window_end"),
    Index("ix_monitor_points_series_end", "series", "window_end"),
)

# Each computed window: its row count, status, the model version that answered most of
# it, and its WindowProfile (zlib-compressed JSON), so a longer period is a merge of
# stored windows instead of a re-read of the log.
monitor_windows = Table(
    "monitor_windows",
    metadata,
    Column("monitor", String(256), primary_key=True),
    Column("window_start", BigInteger, primary_key=True),
    Column("window_end", BigInteger, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("version", String(64), nullable=True),
    Column("status", String(32), nullable=False),  # ok | empty | failed
    Column("detail", Text, nullable=True),
    Column("profile", LargeBinary, nullable=True),
    Column("prediction_profile", LargeBinary, nullable=True),
    Column("computed_at", BigInteger, nullable=False),
)

# Ground truth uploaded in batches (``client.log_labels``), keyed by request id; ``row``
# -1 labels every row of the request. ``model`` "" applies to any model. Labels posted
# to a serving ``/v1/feedback`` live in the inference log instead; both are joined.
monitor_labels = Table(
    "monitor_labels",
    metadata,
    Column("model", String(256), primary_key=True),
    Column("request_id", String(128), primary_key=True),
    Column("row", Integer, primary_key=True),
    Column("label", Text, nullable=True),  # JSON scalar
    Column("arrived_at", BigInteger, nullable=False),
    Index("ix_monitor_labels_arrived", "arrived_at"),
)

# The time span of each inference-log segment already read, by content digest (segments are
# immutable), so a window opens only the segments that can hold its rows.
monitor_segments = Table(
    "monitor_segments",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("first_ms", BigInteger, nullable=False),
    Column("last_ms", BigInteger, nullable=False),
    Column("rows", BigInteger, nullable=False),
)
