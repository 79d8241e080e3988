"""Serving tables (revision 0013): the ``shipyard serve`` processes running now.

One row per serving process, written by its supervisor when its workers are ready,
refreshed by its heartbeat and deleted when it stops cleanly. A row whose heartbeat
stopped (the process was killed, or its host lost) stays, called gone once the heartbeat
is late, until a week has passed and another server registers.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from shipyard.store.schema._meta import metadata

__all__ = ["serving_deployments"]

serving_deployments = Table(
    "serving_deployments",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("url", String(1024), nullable=False),
    Column("host", String(256), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("heartbeat_at", BigInteger, nullable=False),
    Column("interval_ms", Integer, nullable=False),  # the promised heartbeat period
    Column("models", Text, nullable=False),  # JSON: what is served, as configured
    Column("stats", Text, nullable=True),  # JSON: the latest metrics summary
    Column("previous_stats", Text, nullable=True),  # JSON: the one before (rates are their difference)
    Index("ix_serving_deployments_heartbeat", "heartbeat_at"),
)
