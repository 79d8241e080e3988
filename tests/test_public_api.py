"""The public surface: ``shipyard.__all__`` is deliberate, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest

import shipyard
import shipyard.alerting
import shipyard.tracking

EXPORTED = [
    "ActiveRun",
    "AlreadyExists",
    "BeatsHolder",
    "Client",
    "CompatibleSignature",
    "Config",
    "ConfigError",
    "Conflict",
    "Experiment",
    "IntegrityError",
    "InvalidInput",
    "MaxLatency",
    "Metric",
    "MinMetric",
    "MissingExtra",
    "ModelVersion",
    "NotFound",
    "PermissionDenied",
    "PromotionPolicy",
    "PromotionRefused",
    "RegisteredModel",
    "Run",
    "RunStatus",
    "ShipyardError",
    "StorageError",
    "Unavailable",
    "active_run",
    "autolog",
    "batch_predict",
    "choice",
    "data",
    "datasets",
    "end_run",
    "features",
    "get_client",
    "load_config",
    "load_model",
    "log_artifact",
    "log_artifacts",
    "log_input",
    "log_labels",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_output",
    "log_param",
    "log_params",
    "loguniform",
    "monitoring",
    "pipeline",
    "randint",
    "register_model",
    "save_model",
    "serve",
    "set_client",
    "set_tag",
    "set_tags",
    "start_run",
    "step",
    "tune",
    "uniform",
]

# Faces, migrations, storage drivers and optional extras: each is imported only by
# the module that needs it, never by ``import shipyard``.
HEAVY_MODULES = [
    "alembic",
    "boto3",
    "duckdb",
    "fastapi",
    "httpx",
    "optuna",
    "pandas",  # each CLI command paid 0.35 s for it through shipyard.serving
    "psycopg",
    "pyarrow",
    "ray",
    "redis",
    "rich",
    "s3fs",
    "sklearn",
    "sqlalchemy",
    "starlette",
    "torch",
    "typer",
    "uvicorn",
    "xgboost",
]


def test_top_level_exports_are_exactly_the_pinned_names() -> None:
    assert shipyard.__all__ == EXPORTED


@pytest.mark.parametrize("module", [shipyard, shipyard.tracking, shipyard.alerting, shipyard.monitoring],
                         ids=lambda m: m.__name__)
def test_all_is_sorted_and_unique(module: types.ModuleType) -> None:
    assert module.__all__ == sorted(set(module.__all__))


@pytest.mark.parametrize("module", [shipyard, shipyard.tracking, shipyard.alerting, shipyard.monitoring],
                         ids=lambda m: m.__name__)
def test_every_exported_name_resolves(module: types.ModuleType) -> None:
    missing = [name for name in module.__all__ if getattr(module, name, None) is None]
    assert missing == []


def test_the_search_names_are_the_tuning_package_s_loaded_on_first_use() -> None:
    import shipyard.tuning

    for name in ("tune", "uniform", "loguniform", "randint", "choice"):
        assert getattr(shipyard, name) is getattr(shipyard.tuning, name)


def test_batch_predict_is_the_scoring_package_s_loaded_on_first_use() -> None:
    import shipyard.scoring

    assert shipyard.batch_predict is shipyard.scoring.batch_predict


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from shipyard import *", namespace)
    assert sorted(k for k in namespace if k != "__builtins__") == EXPORTED


def test_top_level_error_classes_are_the_ones_in_errors() -> None:
    import shipyard.errors

    exported = [name for name in EXPORTED if name in shipyard.errors.__all__]
    assert len(exported) >= 10
    for name in exported:
        assert getattr(shipyard, name) is getattr(shipyard.errors, name)


# Runs in a fresh interpreter: records, for each heavy module, which module imported it first.
_PROBE = """
import builtins, sys
heavy, first = set(HEAVY), {}
real_import = builtins.__import__
def spy(name, globals=None, *args, **kwargs):
    top = name.partition(".")[0]
    if top in heavy and top not in sys.modules and top not in first:
        first[top] = (globals or {}).get("__name__", "?")
    return real_import(name, globals, *args, **kwargs)
builtins.__import__ = spy
import shipyard
print(" ".join(f"{m}<-{first.get(m, '?')}" for m in sorted(heavy) if m in sys.modules))
"""


def test_importing_shipyard_does_not_import_heavy_modules() -> None:
    probe = f"HEAVY = {HEAVY_MODULES!r}\n{_PROBE}"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []  # each entry reads "heavy<-module that imported it"


ALERTING_EXPORTED = [
    "Alert",
    "AlertEngine",
    "AlertEvent",
    "AlertRule",
    "AlertStateStore",
    "AlertStore",
    "Delivery",
    "EmailNotifier",
    "HistoryEntry",
    "LogNotifier",
    "Notifier",
    "Point",
    "SeriesStore",
    "SqlAlertStore",
    "WebhookNotifier",
    "notifiers_from_config",
    "parse_rule",
    "render_prometheus_rules",
]
# Alerting names users reach through ``shipyard.monitoring``: re-exported, defined in ``shipyard.alerting``.
MONITORING_ALERT_NAMES = ["AlertEngine", "AlertRule", "EmailNotifier", "LogNotifier", "Notifier", "WebhookNotifier",
                          "parse_rule"]


def test_alerting_exports_are_exactly_the_pinned_names() -> None:
    assert shipyard.alerting.__all__ == ALERTING_EXPORTED


def test_monitoring_re_exports_the_alerting_names_it_always_offered() -> None:
    import shipyard.monitoring

    for name in MONITORING_ALERT_NAMES:
        assert name in shipyard.monitoring.__all__, name
        assert getattr(shipyard.monitoring, name) is getattr(shipyard.alerting, name), name
        assert getattr(shipyard.alerting, name).__module__.startswith("shipyard.alerting."), name


# -- the client: facades per domain, and the flat methods users already call ------------------

FACADES = {
    "alerts": "Alerts",
    "automation": "Automation",
    "datasets": "Datasets",
    "features": "FeatureStore",
    "monitoring": "Monitoring",
    "registry": "ModelRegistry",
    "tracking": "Tracking",
}

# Each forwards to the facade method of the same name (the facade named first).
FLAT_METHODS = {
    "tracking": [
        "compare_runs", "create_experiment", "create_run", "delete_experiment", "delete_run", "download_artifacts",
        "end_run", "get_experiment", "get_experiment_by_name", "get_metric_history", "get_run", "list_artifacts",
        "list_experiments", "log_artifact", "log_artifacts", "log_batch", "log_bytes", "log_metric", "log_metrics",
        "log_param", "log_params", "restore_run", "search_runs", "set_experiment", "set_tag", "set_tags",
    ],
    "registry": [
        "convert_model", "create_registered_model", "delete_alias", "delete_model_version",
        "delete_registered_model", "get_model_version", "get_model_version_by_alias", "get_registered_model",
        "lineage", "load_model", "log_model", "model_card", "model_history", "model_path", "register_model",
        "resolve_model", "rollback_alias", "search_model_versions", "search_registered_models", "set_alias",
        "set_model_version_tag", "set_promotion_policy", "set_registered_model_tag",
    ],
    "datasets": [
        "dataset_lineage", "diff_datasets", "get_dataset", "get_dataset_version", "infer_contract",
        "list_dataset_files", "list_dataset_versions", "list_datasets", "log_input", "log_output", "pull_dataset",
        "register_dataset", "validate_dataset",
    ],
    "monitoring": [
        "create_monitor", "delete_monitor", "get_monitor", "list_monitor_windows", "list_monitors", "log_labels",
        "monitor_report", "query_series", "run_monitor", "run_monitors", "series_frame",
    ],
    "alerts": [
        "alert_engine", "alert_history", "create_alert_rule", "delete_alert_rule", "evaluate_alerts",
        "export_prometheus_rules", "get_alert_rule", "list_alert_rules", "list_alerts",
    ],
}

# The client's own: its life cycle, and the stores for services that work on them directly.
CLIENT_OWN = ["close", "flush"]
CLIENT_PROPERTIES = [
    "alert_notifiers", "alert_store", "dataset_cache_dir", "dataset_store", "feature_online_store",
    "feature_registry", "feature_store", "features", "model_cache_dir", "monitor_store", "registry_store",
    "tracking_store",
]


def _public_client_members() -> tuple[list[str], list[str]]:
    import inspect

    from shipyard.client import Client

    names = [n for n in dir(Client) if not n.startswith("_")]
    properties = sorted(n for n in names if isinstance(inspect.getattr_static(Client, n), property))
    return sorted(set(names) - set(properties)), properties


def test_client_public_methods_and_properties_are_exactly_the_pinned_ones() -> None:
    methods, properties = _public_client_members()
    assert methods == sorted([*CLIENT_OWN, *(m for ms in FLAT_METHODS.values() for m in ms)])
    assert properties == CLIENT_PROPERTIES


def test_each_flat_method_forwards_to_its_facade_with_the_facades_signature_and_docs() -> None:
    import inspect

    from shipyard import client as client_module

    for facade, methods in FLAT_METHODS.items():
        facade_class = getattr(client_module, FACADES[facade])
        for name in methods:
            flat = getattr(client_module.Client, name)
            target = getattr(facade_class, name)
            assert flat.__wrapped__ is target, name
            assert inspect.signature(flat) == inspect.signature(target), name
            assert flat.__doc__.startswith(f"Forwards to ``client.{facade}.{name}``."), name


def test_client_facades_are_attributes_and_building_them_opens_nothing(tmp_path: Path) -> None:
    from shipyard import Client
    from shipyard import client as client_module
    from shipyard.features import FeatureStore

    with Client(home=tmp_path) as client:
        for attribute, class_name in FACADES.items():
            if attribute != "features":
                assert type(getattr(client, attribute)) is getattr(client_module, class_name), attribute
        assert client.backend.opened == []  # a client opens nothing until first use
        assert isinstance(client.features, FeatureStore) and client.features is client.feature_store
        assert client.backend.opened == ["db", "feature_registry", "online_store"]


def test_a_flat_call_and_its_facade_call_reach_the_same_store(tmp_path: Path) -> None:
    from shipyard import Client

    with Client(home=tmp_path) as client:
        run = client.create_run("api")
        client.tracking.log_metric(run.id, "loss", 0.5)
        client.log_metric(run.id, "loss", 0.25, step=1)
        client.end_run(run.id)
        assert [m.value for m in client.tracking.get_metric_history(run.id, "loss")] == [0.5, 0.25]
        assert client.tracking_store is client.backend.tracking


def test_the_backend_opens_each_resource_once_and_closes_them_newest_first(tmp_path: Path) -> None:
    import threading

    from shipyard.client import LocalBackend
    from shipyard.config import load_config

    backend = LocalBackend(load_config(home=tmp_path))
    closed: list[str] = []
    opens: list[str] = []

    def opener(name: str) -> object:
        opens.append(name)
        return name

    threads = [threading.Thread(target=backend._resource, args=("a", lambda: opener("a"), closed.append))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    backend._resource("b", lambda: opener("b"), closed.append)
    assert opens == ["a", "b"] and backend.opened == ["a", "b"]
    backend.close()
    assert closed == ["b", "a"] and backend.opened == []


def test_closing_a_client_closes_what_it_opened_and_only_that(tmp_path: Path) -> None:
    from shipyard import Client

    client = Client(home=tmp_path)
    client.list_datasets()
    assert client.backend.opened == ["db", "artifacts", "datasets"]  # no tracking, registry or monitoring
    client.close()
    assert client.backend.opened == []


def test_a_remote_client_has_the_same_facades_over_http_stores(tmp_path: Path) -> None:
    from shipyard import Client
    from shipyard.client import RemoteBackend

    with Client(home=tmp_path, url="http://127.0.0.1:9") as client:  # nothing listens: nothing is asked
        assert isinstance(client.backend, RemoteBackend) and client.backend.opened == []
        assert type(client.tracking_store).__name__ == "RemoteTrackingStore"
        assert type(client.registry.store).__name__ == "RemoteRegistryStore"
        assert type(client.monitoring.store).__name__ == "RemoteMonitorStore"
        assert type(client.alerts.store).__name__ == "RemoteAlertStore"
        assert type(client.datasets.store).__name__ == "RemoteDatasetStore"
