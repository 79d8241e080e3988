"""Registry tables (revision 0002): models, versions, aliases, the audit log, lineage edges."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from shipyard.store.schema._meta import metadata

__all__ = [
    "audit_log",
    "lineage_edges",
    "model_aliases",
    "model_version_files",
    "model_version_tags",
    "model_versions",
    "registered_model_tags",
    "registered_models",
    "registry_state",
]

registered_models = Table(
    "registered_models",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("description", Text, nullable=True),
    Column("policy", Text, nullable=True),  # JSON promotion policy, None when unguarded
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

registered_model_tags = Table(
    "registered_model_tags",
    metadata,
    Column("name", String(256), ForeignKey("registered_models.name"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("name", String(256), ForeignKey("registered_models.name"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("source", String(1024), nullable=False),
    Column("run_id", String(32), nullable=True),
    Column("status", String(32), nullable=False),
    Column("description", Text, nullable=True),
    Column("flavor", String(64), nullable=True),
    Column("signature", Text, nullable=True),  # JSON
    Column("metrics", Text, nullable=True),  # JSON snapshot of the source run's metrics
    Column("user", String(256), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_model_versions_run", "run_id"),
)

model_version_tags = Table(
    "model_version_tags",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

# Every file of a version's package, by digest: a version is immutable and shares
# bytes with the run it came from (no copy in the object store).
model_version_files = Table(
    "model_version_files",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Index("ix_model_version_files_digest", "digest"),  # who references a blob (garbage collection)
)

model_aliases = Table(
    "model_aliases",
    metadata,
    Column("name", String(256), ForeignKey("registered_models.name"), primary_key=True),
    Column("alias", String(256), primary_key=True),
    Column("version", Integer, nullable=False),
)

# Bumped in the same transaction as any alias or version change, so a resolver's
# cache can be validated with one primary-key read.
registry_state = Table(
    "registry_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("generation", BigInteger, nullable=False),
)

# Append-only: rows are inserted, never updated or deleted.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", BigInteger, nullable=False),
    Column("actor", String(256), nullable=True),
    Column("action", String(64), nullable=False),
    Column("entity_type", String(64), nullable=False),
    Column("entity_id", String(512), nullable=False),
    Column("before", Text, nullable=True),  # JSON
    Column("after", Text, nullable=True),  # JSON
    Column("reason", Text, nullable=True),
    Column("forced", Integer, nullable=False, default=0),
    Index("ix_audit_log_entity", "entity_type", "entity_id", "id"),
)

# Directed edges between typed nodes: ("run", id) -produced-> ("model_version", "churn/3").
lineage_edges = Table(
    "lineage_edges",
    metadata,
    Column("src_type", String(32), primary_key=True),
    Column("src_id", String(512), primary_key=True),
    Column("relation", String(32), primary_key=True),
    Column("dst_type", String(32), primary_key=True),
    Column("dst_id", String(512), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_lineage_dst", "dst_type", "dst_id"),
)
