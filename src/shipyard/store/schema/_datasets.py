"""Dataset tables (revision 0003): names, content-addressed versions, manifests."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)

from shipyard.store.schema._meta import metadata

__all__ = ["dataset_manifests", "dataset_versions", "datasets"]

datasets = Table(
    "datasets",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("description", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# An immutable version: ``digest`` is the content hash of its files (sha256 of the
# sorted "sha256  path" manifest), unique per dataset, so equal content is one version.
dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("name", String(256), ForeignKey("datasets.name"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("format", String(16), nullable=False),
    Column("num_files", Integer, nullable=False),
    Column("num_bytes", BigInteger, nullable=False),
    Column("num_rows", BigInteger, nullable=True),
    Column("schema", Text, nullable=True),  # JSON {"columns": [{"name", "type"}…]}
    Column("profile", Text, nullable=True),  # JSON, see shipyard.datasets._profile
    Column("source", Text, nullable=True),
    Column("description", Text, nullable=True),
    Column("tags", Text, nullable=True),  # JSON object
    Column("run_id", String(32), nullable=True),
    Column("user", String(256), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Index("ux_dataset_versions_name_digest", "name", "digest", unique=True),
    Index("ix_dataset_versions_digest", "digest"),
)

# The file list of a version, once per content hash: zlib-compressed JSON
# [[path, sha256, size], …] sorted by path. One row instead of one per file makes a
# new version of a 20,000-file folder a single insert; the bytes live in the
# artifact store.
dataset_manifests = Table(
    "dataset_manifests",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("num_files", Integer, nullable=False),
    Column("manifest", LargeBinary, nullable=False),
)
