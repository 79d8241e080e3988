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

__all__ += ["monitor_labels", "monitor_points", "monitor_segments", "monitor_windows", "monitors"]

# --- features (revision 0005): feature definitions (versioned) and materialization state ---

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

__all__ += ["feature_materializations", "feature_objects"]

# --- alerts (revision 0006): alert rules and the alerts they raised ---

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

__all__ += ["alert_events", "alert_rules", "alerts"]
