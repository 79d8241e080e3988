"""Tables of the metadata store, as SQLAlchemy Core metadata.

This package is the single description of the schema (one module per domain, every
table re-exported here); Alembic revisions under ``shipyard/store/migrations`` create
and evolve it. Conventions that hold across
every table:

* times are integer milliseconds since the Unix epoch (UTC);
* run ids are 32 lowercase hex characters; experiment ids are integers exposed as strings;
* a metric value of NULL means NaN (SQLite cannot store NaN; ±inf are stored as-is);
* names owned by users are capped at 250 characters for keys, 256 for names.
"""

from shipyard.store.schema._access import access_grants, access_state, access_tokens, users
from shipyard.store.schema._alerts import alert_events, alert_rules, alerts
from shipyard.store.schema._automation import automation_leases, automation_policies, automation_runs
from shipyard.store.schema._datasets import dataset_manifests, dataset_versions, datasets
from shipyard.store.schema._features import feature_materializations, feature_objects
from shipyard.store.schema._idempotency import idempotency_keys
from shipyard.store.schema._meta import metadata
from shipyard.store.schema._monitoring import (
    monitor_labels,
    monitor_points,
    monitor_segments,
    monitor_windows,
    monitors,
)
from shipyard.store.schema._registry import (
    audit_log,
    lineage_edges,
    model_aliases,
    model_version_files,
    model_version_tags,
    model_versions,
    registered_model_tags,
    registered_models,
    registry_state,
)
from shipyard.store.schema._serving import serving_deployments
from shipyard.store.schema._tracking import (
    artifacts,
    experiment_tags,
    experiments,
    latest_metrics,
    metrics,
    params,
    run_tags,
    runs,
)

__all__ = [
    "access_grants",
    "access_state",
    "access_tokens",
    "alert_events",
    "alert_rules",
    "alerts",
    "artifacts",
    "audit_log",
    "automation_leases",
    "automation_policies",
    "automation_runs",
    "dataset_manifests",
    "dataset_versions",
    "datasets",
    "experiment_tags",
    "experiments",
    "feature_materializations",
    "feature_objects",
    "idempotency_keys",
    "latest_metrics",
    "lineage_edges",
    "metadata",
    "metrics",
    "model_aliases",
    "model_version_files",
    "model_version_tags",
    "model_versions",
    "monitor_labels",
    "monitor_points",
    "monitor_segments",
    "monitor_windows",
    "monitors",
    "params",
    "registered_model_tags",
    "registered_models",
    "registry_state",
    "run_tags",
    "runs",
    "serving_deployments",
    "users",
]
