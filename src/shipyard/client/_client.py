"""The :class:`Client`: one backend, a facade per domain over it, and the flat methods users call.

The client assembles; it holds no domain logic. Its parts, built when it is:

* ``client.backend`` — the :class:`~shipyard.client._backend.Backend` that owns every
  connection (database, artifact store, HTTP stores) and opens each on first use;
* ``client.tracking`` (:class:`Tracking`), ``client.registry`` (:class:`ModelRegistry`),
  ``client.datasets`` (:class:`Datasets`), ``client.monitoring`` (:class:`Monitoring`),
  ``client.alerts`` (:class:`Alerts`), ``client.automation`` (:class:`Automation`) and
  ``client.features`` (a :class:`~shipyard.features.FeatureStore`) — one facade per domain, each handed the
  backend and the facades it needs, so no domain reaches into another.

A new domain (access control, say) joins the same way: a facade module in
this package, built from the backend in ``__init__`` and closed in :meth:`Client.close`.

Every method users called on the client before the facades existed stays, as a
thin delegation to its facade (``client.log_metric`` is ``client.tracking.log_metric``),
documented by the facade method it forwards to.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar, cast

from shipyard.client._alerts import Alerts
from shipyard.client._automation import Automation
from shipyard.client._backend import Backend, open_backend
from shipyard.client._datasets import Datasets
from shipyard.client._deployments import Deployments
from shipyard.client._models import ModelRegistry
from shipyard.client._monitoring import Monitoring
from shipyard.client._tracking import Tracking
from shipyard.config import Config, load_config

if TYPE_CHECKING:
    from shipyard.alerting import AlertStore, Notifier
    from shipyard.datasets import DatasetStore
    from shipyard.features import FeatureRegistry, FeatureStore
    from shipyard.features.online import OnlineStore
    from shipyard.monitoring._backend import MonitorStore
    from shipyard.registry import RegistryStore
    from shipyard.tracking import TrackingStore

__all__ = ["FACADES", "Client"]

P = ParamSpec("P")
R = TypeVar("R")

FACADES = ("alerts", "automation", "datasets", "features", "monitoring", "registry", "tracking")
"""The per-domain facades every client has, as attributes."""


def _flat(facade: str, method: Callable[Concatenate[Any, P], R]) -> Callable[Concatenate[Client, P], R]:
    """A client method that forwards to ``method`` of the facade ``facade``, with its
    signature and documentation."""
    name = method.__name__

    def forward(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return cast(R, getattr(getattr(self, facade), name)(*args, **kwargs))

    functools.update_wrapper(forward, method)
    forward.__qualname__ = f"Client.{name}"
    forward.__doc__ = f"Forwards to ``client.{facade}.{name}``. {method.__doc__ or ''}".rstrip()
    return forward


class Client:
    """Access to tracking, the model registry, datasets, monitoring, alerts and features for
    one configuration.

    With ``url`` set (argument, ``SHIPYARD_URL`` or ``shipyard.toml``) the client talks
    to a ``shipyard server``; otherwise it opens the metadata database and artifact
    store itself. Nothing is opened until first use; :meth:`close` (or the ``with``
    block) flushes what is buffered and closes what was opened.

    >>> with Client(home="/tmp/shipyard-doc") as client:                  # doctest: +SKIP
    ...     run = client.tracking.create_run("churn")
    ...     client.tracking.log_metric(run.id, "loss", 0.3, step=1)
    ...     client.registry.set_alias("churn", "production", 3)
    """

    def __init__(self, config: Config | None = None, **overrides: Any) -> None:
        self.config = (config.with_(**overrides) if overrides else config) if config else load_config(**overrides)
        self.backend: Backend = open_backend(self.config)
        self.tracking = Tracking(self.backend)
        self.datasets = Datasets(self.backend, self.tracking)
        self.registry = ModelRegistry(self.backend, self.tracking, self.datasets)
        self.alerts = Alerts(self.backend)
        self.monitoring = Monitoring(self.backend, self.alerts)
        self.automation = Automation(self.backend)
        self.deployments = Deployments(self.backend)  # the registered shipyard serve processes
        self._features: FeatureStore | None = None
        self._features_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Client({self.config.url or self.config.database_url!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def features(self) -> FeatureStore:
        """The feature store over this configuration's registry, online store and datasets
        (made on first use; one per client)."""
        if self._features is None:
            with self._features_lock:
                if self._features is None:
                    from shipyard.features import FeatureStore

                    self._features = FeatureStore(self.config, registry=self.backend.feature_registry,
                                                  online=self.backend.online_store, datasets=self.datasets)
        return self._features

    def close(self) -> None:
        """Flush what is buffered, then close what was opened: the facades' own resources,
        then the backend's connections (newest first). The first error is raised after
        everything was closed; a client used again afterwards opens afresh."""
        try:
            self.tracking.close()
        finally:
            try:
                self.alerts.close()
                if self._features is not None:
                    self._features.close()
            finally:
                self.backend.close()

    def flush(self) -> None:
        """Write every buffered point now; raise the first error any flush met."""
        self.tracking.flush()

    # -- the stores, for services that work on them directly -----------------------------------

    @property
    def tracking_store(self) -> TrackingStore:
        """The tracking store (opened on first use), with every started run created in it."""
        return self.tracking.store

    @property
    def registry_store(self) -> RegistryStore:
        """The model registry store (opened on first use)."""
        return self.backend.registry

    @property
    def dataset_store(self) -> DatasetStore:
        """The dataset store (opened on first use)."""
        return self.backend.datasets

    @property
    def monitor_store(self) -> MonitorStore:
        """The monitor store (opened on first use)."""
        return self.backend.monitoring

    @property
    def alert_store(self) -> AlertStore:
        """The alert store (opened on first use)."""
        return self.backend.alerts

    @property
    def feature_registry(self) -> FeatureRegistry:
        """Versioned feature definitions (opened on first use)."""
        return self.backend.feature_registry

    @property
    def feature_online_store(self) -> OnlineStore:
        """The online store of this configuration (opened on first use)."""
        return self.backend.online_store

    @property
    def feature_store(self) -> FeatureStore:
        """Same as :attr:`features`."""
        return self.features

    @property
    def model_cache_dir(self) -> Path:
        """Where verified local copies of model packages are kept."""
        return self.backend.model_cache_dir

    @property
    def dataset_cache_dir(self) -> Path:
        """Where verified local copies of dataset versions are kept."""
        return self.datasets.cache_dir

    @property
    def alert_notifiers(self) -> dict[str, Notifier]:
        """The notifiers of this configuration's ``[alerts.notifiers.<name>]`` tables, plus ``log``."""
        return self.alerts.alert_notifiers

    # -- tracking -------------------------------------------------------------------------------

    create_experiment = _flat("tracking", Tracking.create_experiment)
    get_experiment = _flat("tracking", Tracking.get_experiment)
    get_experiment_by_name = _flat("tracking", Tracking.get_experiment_by_name)
    set_experiment = _flat("tracking", Tracking.set_experiment)
    list_experiments = _flat("tracking", Tracking.list_experiments)
    delete_experiment = _flat("tracking", Tracking.delete_experiment)
    create_run = _flat("tracking", Tracking.create_run)
    get_run = _flat("tracking", Tracking.get_run)
    end_run = _flat("tracking", Tracking.end_run)
    delete_run = _flat("tracking", Tracking.delete_run)
    restore_run = _flat("tracking", Tracking.restore_run)
    search_runs = _flat("tracking", Tracking.search_runs)
    get_metric_history = _flat("tracking", Tracking.get_metric_history)
    compare_runs = _flat("tracking", Tracking.compare_runs)
    log_metric = _flat("tracking", Tracking.log_metric)
    log_metrics = _flat("tracking", Tracking.log_metrics)
    log_param = _flat("tracking", Tracking.log_param)
    log_params = _flat("tracking", Tracking.log_params)
    set_tag = _flat("tracking", Tracking.set_tag)
    set_tags = _flat("tracking", Tracking.set_tags)
    log_batch = _flat("tracking", Tracking.log_batch)
    log_artifact = _flat("tracking", Tracking.log_artifact)
    log_artifacts = _flat("tracking", Tracking.log_artifacts)
    log_bytes = _flat("tracking", Tracking.log_bytes)
    list_artifacts = _flat("tracking", Tracking.list_artifacts)
    download_artifacts = _flat("tracking", Tracking.download_artifacts)

    # -- models and the registry ------------------------------------------------------------------

    log_model = _flat("registry", ModelRegistry.log_model)
    load_model = _flat("registry", ModelRegistry.load_model)
    model_path = _flat("registry", ModelRegistry.model_path)
    register_model = _flat("registry", ModelRegistry.register_model)
    create_registered_model = _flat("registry", ModelRegistry.create_registered_model)
    get_registered_model = _flat("registry", ModelRegistry.get_registered_model)
    set_registered_model_tag = _flat("registry", ModelRegistry.set_registered_model_tag)
    set_model_version_tag = _flat("registry", ModelRegistry.set_model_version_tag)
    search_registered_models = _flat("registry", ModelRegistry.search_registered_models)
    delete_registered_model = _flat("registry", ModelRegistry.delete_registered_model)
    get_model_version = _flat("registry", ModelRegistry.get_model_version)
    search_model_versions = _flat("registry", ModelRegistry.search_model_versions)
    delete_model_version = _flat("registry", ModelRegistry.delete_model_version)
    resolve_model = _flat("registry", ModelRegistry.resolve_model)
    set_alias = _flat("registry", ModelRegistry.set_alias)
    delete_alias = _flat("registry", ModelRegistry.delete_alias)
    get_model_version_by_alias = _flat("registry", ModelRegistry.get_model_version_by_alias)
    rollback_alias = _flat("registry", ModelRegistry.rollback_alias)
    set_promotion_policy = _flat("registry", ModelRegistry.set_promotion_policy)
    model_history = _flat("registry", ModelRegistry.model_history)
    lineage = _flat("registry", ModelRegistry.lineage)
    convert_model = _flat("registry", ModelRegistry.convert_model)
    model_card = _flat("registry", ModelRegistry.model_card)

    # -- datasets -------------------------------------------------------------------------------

    register_dataset = _flat("datasets", Datasets.register_dataset)
    get_dataset = _flat("datasets", Datasets.get_dataset)
    get_dataset_version = _flat("datasets", Datasets.get_dataset_version)
    list_datasets = _flat("datasets", Datasets.list_datasets)
    list_dataset_versions = _flat("datasets", Datasets.list_dataset_versions)
    list_dataset_files = _flat("datasets", Datasets.list_dataset_files)
    pull_dataset = _flat("datasets", Datasets.pull_dataset)
    diff_datasets = _flat("datasets", Datasets.diff_datasets)
    infer_contract = _flat("datasets", Datasets.infer_contract)
    validate_dataset = _flat("datasets", Datasets.validate_dataset)
    log_input = _flat("datasets", Datasets.log_input)
    log_output = _flat("datasets", Datasets.log_output)
    dataset_lineage = _flat("datasets", Datasets.dataset_lineage)

    # -- monitoring -----------------------------------------------------------------------------

    create_monitor = _flat("monitoring", Monitoring.create_monitor)
    get_monitor = _flat("monitoring", Monitoring.get_monitor)
    list_monitors = _flat("monitoring", Monitoring.list_monitors)
    delete_monitor = _flat("monitoring", Monitoring.delete_monitor)
    list_monitor_windows = _flat("monitoring", Monitoring.list_monitor_windows)
    run_monitor = _flat("monitoring", Monitoring.run_monitor)
    run_monitors = _flat("monitoring", Monitoring.run_monitors)
    log_labels = _flat("monitoring", Monitoring.log_labels)
    query_series = _flat("monitoring", Monitoring.query_series)
    series_frame = _flat("monitoring", Monitoring.series_frame)
    monitor_report = _flat("monitoring", Monitoring.monitor_report)

    # -- alerts ---------------------------------------------------------------------------------

    create_alert_rule = _flat("alerts", Alerts.create_alert_rule)
    get_alert_rule = _flat("alerts", Alerts.get_alert_rule)
    list_alert_rules = _flat("alerts", Alerts.list_alert_rules)
    delete_alert_rule = _flat("alerts", Alerts.delete_alert_rule)
    list_alerts = _flat("alerts", Alerts.list_alerts)
    alert_history = _flat("alerts", Alerts.alert_history)
    evaluate_alerts = _flat("alerts", Alerts.evaluate_alerts)
    alert_engine = _flat("alerts", Alerts.alert_engine)
    export_prometheus_rules = _flat("alerts", Alerts.export_prometheus_rules)
