"""Alert tables (revision 0006): rules, alert states, and their history."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from shipyard.store.schema._meta import metadata

__all__ = ["alert_events", "alert_rules", "alerts"]

# A rule watches one series (of one monitor, or of every monitor with "*"), optionally
# filtered by labels, and fires once its condition has held for ``for_windows``
# consecutive windows. ``labels`` is canonical JSON (sorted keys); ``notify`` a JSON list.
alert_rules = Table(
    "alert_rules",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("monitor", String(256), nullable=False),  # a monitor's name, or "*"
    Column("series", String(128), nullable=False),
    Column("labels", String(512), nullable=False),
    Column("op", String(2), nullable=False),
    Column("threshold", Double, nullable=False),
    Column("for_windows", Integer, nullable=False),
    Column("severity", String(16), nullable=False),
    Column("notify", Text, nullable=False),
    Column("repeat_interval_ms", BigInteger, nullable=True),  # NULL: notify once per firing
    Column("enabled", Integer, nullable=False),
    Column("description", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# One row per fingerprint (rule + monitor + point labels), reused by every firing of that
# label set: ``count`` is how many times it has fired. Transitions are claimed with a
# conditional UPDATE (or an INSERT that loses on the primary key), so of two concurrent
# evaluators exactly one sees each transition and notifies.
alerts = Table(
    "alerts",
    metadata,
    Column("fingerprint", String(64), primary_key=True),
    Column("rule", String(128), nullable=False),
    Column("monitor", String(256), nullable=False),
    Column("labels", String(512), nullable=False),
    Column("state", String(16), nullable=False),  # firing | resolved
    Column("severity", String(16), nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("resolved_at", BigInteger, nullable=True),
    Column("last_value", Double, nullable=True),
    Column("last_window_end", BigInteger, nullable=True),
    Column("last_notified_at", BigInteger, nullable=True),
    Column("count", Integer, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_alerts_rule", "rule"),
    Index("ix_alerts_state", "state"),
)

# Append-only: every transition (fired, resolved, renotified) and every notification
# outcome (notified, notify_failed), in the order they happened.
alert_events = Table(
    "alert_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("rule", String(128), nullable=False),
    Column("fingerprint", String(64), nullable=True),
    Column("monitor", String(256), nullable=True),
    Column("labels", String(512), nullable=True),
    Column("severity", String(16), nullable=True),
    Column("value", Double, nullable=True),
    Column("window_end", BigInteger, nullable=True),
    Column("notifier", String(128), nullable=True),
    Column("detail", Text, nullable=True),
    Index("ix_alert_events_rule", "rule", "id"),
    Index("ix_alert_events_fingerprint", "fingerprint", "id"),
)
