"""Tables of the metadata store, as SQLAlchemy Core metadata.

This module is the single description of the schema; Alembic revisions under
``shipyard/store/migrations`` create and evolve it. Conventions that hold across
every table:

* times are integer milliseconds since the Unix epoch (UTC);
* run ids are 32 lowercase hex characters; experiment ids are integers exposed as strings;
* a metric value of NULL means NaN (SQLite cannot store NaN; ±inf are stored as-is);
* names owned by users are capped at 250 characters for keys, 256 for names.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = [
    "artifacts",
    "audit_log",
    "dataset_manifests",
    "dataset_versions",
    "datasets",
    "experiment_tags",
    "experiments",
    "latest_metrics",
    "lineage_edges",
    "metadata",
    "metrics",
    "model_aliases",
    "model_version_files",
    "model_version_tags",
    "model_versions",
    "params",
    "registered_model_tags",
    "registered_models",
    "registry_state",
    "run_tags",
    "runs",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

experiments = Table(
    "experiments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(256), nullable=False, unique=True),
    Column("artifact_location", String(1024), nullable=True),
    Column("lifecycle_stage", String(32), nullable=False, default="active"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column("experiment_id", Integer, ForeignKey("experiments.id"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.id"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("status", String(16), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=True),
    Column("parent_run_id", String(32), nullable=True),
    Column("lifecycle_stage", String(32), nullable=False, default="active"),
    Column("user", String(256), nullable=True),
    Column("environment", Text, nullable=True),
    Index("ix_runs_experiment_start", "experiment_id", "start_time"),
    Index("ix_runs_parent", "parent_run_id"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
    Index("ix_params_key_value", "key", "run_id"),
)

run_tags = Table(
    "run_tags",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

# Every logged point; deliberately without a uniqueness constraint so that
# concurrent writers never collide and re-logged steps keep their history.
metrics = Table(
    "metrics",
    metadata,
    Column("run_id", String(32), nullable=False),
    Column("key", String(250), nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("value", Double, nullable=True),
    Index("ix_metrics_run_key_step", "run_id", "key", "step"),
)

# The newest point (highest step, then timestamp) per run and key: what search filters on.
latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("value", Double, nullable=True),
    Index("ix_latest_metrics_key_value", "key", "value"),
)

# Logical artifact paths of a run, pointing into the content-addressed object store.
artifacts = Table(
    "artifacts",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id"), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# -- model registry (revision 0002) ---------------------------------------------------

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

# -- datasets (revision 0003) ----------------------------------------------------------

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
    Column("profile", Text, nullable=True),  # JSON, see shipyard.datasets.profile
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

# --- monitoring (revision 0004): monitors, their window results, alert rules and alerts ---

# --- features (revision 0005): feature definitions (versioned) and materialization state ---

# --- alerts (revision 0006): alert rules and the alerts they raised ---
