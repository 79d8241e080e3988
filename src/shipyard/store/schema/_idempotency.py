"""Idempotency keys (revision 0008): the response each keyed write gave, for answering its retries."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, String, Table, Text

from shipyard.store.schema._meta import metadata

__all__ = ["idempotency_keys"]

# A client sends an ``Idempotency-Key`` with a write that appends data; the server keeps
# the key with the write's response (JSON, NULL for an empty answer) in the write's own
# transaction, so a retry after a lost response gets the same answer without writing
# twice. ``scope`` is the route the key was used on: a key replayed on another route
# is refused rather than answered with an unrelated response. Rows older than the
# retention are purged by garbage collection.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("scope", String(256), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("response", Text, nullable=True),
    Index("ix_idempotency_keys_created_at", "created_at"),
)
