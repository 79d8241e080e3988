"""The backend of a client: every connection one configuration needs, opened once, closed once.

A :class:`Backend` owns what the client talks to. Embedded
(:class:`LocalBackend`), that is the metadata database and the artifact store, and
the domain stores over them; remote (:class:`RemoteBackend`, ``url`` set), one HTTP
store per domain. The client's facades (``client.tracking``, ``client.registry``…)
ask it for the stores they use and never open anything themselves.

Each resource opens on first use, through one pattern (:meth:`Backend._resource`):
under a lock, so threads racing to the first use open it once, and recorded with
how to release it. :meth:`Backend.close` releases everything opened, newest first
(the stores, then the artifact store, then the database), so nothing is used after
what it depends on is gone.

>>> backend = open_backend(load_config(home="/tmp/shipyard-doc"))   # doctest: +SKIP
>>> backend.tracking.list_experiments()                               # doctest: +SKIP
>>> backend.close()                                                   # doctest: +SKIP
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from shipyard.config import Config
from shipyard.errors import Unavailable

if TYPE_CHECKING:
    from shipyard.alerting import AlertStateStore, AlertStore
    from shipyard.automation import AutomationStore, SqlAutomationStore
    from shipyard.datasets import DatasetStore
    from shipyard.features import FeatureRegistry
    from shipyard.features.online import OnlineStore
    from shipyard.monitoring._backend import MonitorStore
    from shipyard.registry import RegistryStore
    from shipyard.remote._alerts import RemoteAlertStore
    from shipyard.remote._automation import RemoteAutomationStore
    from shipyard.store import Database
    from shipyard.store.artifacts import ArtifactStore
    from shipyard.tracking import TrackingStore, ValueLimits

__all__ = ["Backend", "LocalBackend", "RemoteBackend", "open_backend"]

T = TypeVar("T")


def open_backend(config: Config) -> Backend:
    """The backend ``config`` names: a ``shipyard server`` when ``url`` is set, else embedded.
    Nothing is opened until a store is first used."""
    return RemoteBackend(config) if config.url else LocalBackend(config)


class Backend(ABC):
    """The stores of one configuration, each opened on first use and closed by :meth:`close`."""

    remote = False

    def __init__(self, config: Config) -> None:
        self.config = config
        self._lock = threading.RLock()
        self._opened: dict[str, Any] = {}
        self._closers: list[tuple[str, Callable[[], None]]] = []

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config.url or self.config.database_url!r})"

    @property
    def model_cache_dir(self) -> Path:
        """Where verified local copies of model packages are kept."""
        return self.config.home.absolute() / "cache" / "models"

    @property
    def opened(self) -> list[str]:
        """The names of the resources opened so far, oldest first."""
        with self._lock:
            return [name for name, _ in self._closers]

    def _resource(self, name: str, open_: Callable[[], T], close: Callable[[T], None] | None = None) -> T:
        """The resource ``name``, opened by ``open_`` on first use; ``close`` releases it."""
        found = self._opened.get(name)
        if found is None:
            with self._lock:
                found = self._opened.get(name)
                if found is None:
                    found = open_()
                    self._opened[name] = found
                    opened = found
                    self._closers.append((name, (lambda: close(opened)) if close else (lambda: None)))
        return found

    def close(self) -> None:
        """Release every resource opened, newest first; raise the first error after trying all.
        A later use opens afresh."""
        with self._lock:
            closers, self._closers, self._opened = self._closers, [], {}
        error: BaseException | None = None
        for _name, close in reversed(closers):
            try:
                close()
            except Exception as exc:  # keep releasing the others
                error = error or exc
        if error is not None:
            raise error

    # -- the stores every backend has ------------------------------------------------------

    @property
    @abstractmethod
    def tracking(self) -> TrackingStore:
        """The tracking store of this configuration, opened on first use."""

    @property
    @abstractmethod
    def limits(self) -> ValueLimits:
        """The longest param and tag values the tracking store keeps. A local backend knows
        them from its configuration, without opening the store, so that a first ``log_param``
        never waits for the database; a remote one asks the server."""

    @property
    @abstractmethod
    def registry(self) -> RegistryStore:
        """The registry store of this configuration, opened on first use."""

    @property
    @abstractmethod
    def datasets(self) -> DatasetStore:
        """The datasets store of this configuration, opened on first use."""

    @property
    @abstractmethod
    def monitoring(self) -> MonitorStore:
        """The monitoring store of this configuration, opened on first use."""

    @property
    @abstractmethod
    def alerts(self) -> AlertStore:
        """The alerts store of this configuration, opened on first use."""

    @property
    @abstractmethod
    def feature_registry(self) -> FeatureRegistry:
        """The feature registry store of this configuration, opened on first use."""

    @property
    @abstractmethod
    def automation(self) -> AutomationStore:
        """The automation store (policies, runs, approvals) of this configuration, opened on first use."""

    @property
    def online_store(self) -> OnlineStore:
        """The configured online store (``online_store``; default ``<home>/online.db``)."""
        from shipyard.features.online import open_online_store

        return self._resource("online_store", lambda: open_online_store(self.config.online_store,
                                                                        self.config.home), _close)


_ASK_LIMITS_EVERY_S = 30.0  # while a server is unreachable, how often it is asked for its limits again


def _close(resource: Any) -> None:
    resource.close()


class LocalBackend(Backend):
    """Embedded: the metadata database and the artifact store, shared by every domain store."""

    @property
    def db(self) -> Database:
        """The metadata database, migrated to the current schema on first use."""
        return self._resource("db", self._open_db, lambda db: db.dispose())

    def _open_db(self) -> Database:
        from shipyard.store import Database

        db = Database(self.config.database_url, busy_timeout=self.config.db_busy_timeout)
        db.ensure_schema()
        return db

    @property
    def artifacts(self) -> ArtifactStore:
        """The content-addressed artifact store."""
        from shipyard.store.artifacts import open_artifact_store

        return self._resource("artifacts", lambda: open_artifact_store(
            self.config.artifacts_uri, s3_endpoint_url=self.config.s3_endpoint_url))

    @property
    def tracking(self) -> TrackingStore:
        from shipyard.tracking._sql_store import SqlTrackingStore

        return self._resource("tracking", lambda: SqlTrackingStore(self.db, self.artifacts, self.limits), _close)

    @cached_property
    def limits(self) -> ValueLimits:
        from shipyard.tracking import ValueLimits

        return ValueLimits.of(self.config)

    @property
    def registry(self) -> RegistryStore:
        from shipyard.registry._sql_store import SqlRegistryStore

        return self._resource("registry", lambda: SqlRegistryStore(self.db, self.artifacts, self.tracking,
                                                                   self.model_cache_dir, self.limits), _close)

    @property
    def datasets(self) -> DatasetStore:
        from shipyard.datasets._sql_store import SqlDatasetStore

        return self._resource("datasets", lambda: SqlDatasetStore(self.db, self.artifacts), _close)

    @property
    def monitoring(self) -> MonitorStore:
        from shipyard.monitoring._sql_store import SqlMonitorStore

        return self._resource("monitoring", lambda: SqlMonitorStore(self.db), _close)

    @property
    def alerts(self) -> AlertStateStore:
        from shipyard.alerting import SqlAlertStore

        return self._resource("alerts", lambda: SqlAlertStore(self.db), _close)

    @property
    def feature_registry(self) -> FeatureRegistry:
        from shipyard.features import SqlFeatureRegistry

        return self._resource("feature_registry", lambda: SqlFeatureRegistry(self.db), _close)

    @property
    def automation(self) -> SqlAutomationStore:
        """The automation store; it checks what an applied policy names against this backend's stores."""
        from shipyard.automation import References, SqlAutomationStore

        return self._resource("automation", lambda: SqlAutomationStore(self.db, References(
            registry=self.registry, tracking=self.tracking, datasets=self.datasets, alerts=self.alerts,
            monitoring=self.monitoring)), _close)


class RemoteBackend(Backend):
    """A ``shipyard server`` at ``config.url``: every store speaks HTTP to it.

    The online store is the server's too, unless ``online_store`` names one (a shared
    Redis, say): then lookups go there directly.
    """

    remote = True
    _unreachable_until = 0.0  # monotonic time before which the server is not asked for its limits again

    @property
    def limits(self) -> ValueLimits:
        """The server's limits, asked once. While the server cannot be reached, this
        configuration's, so that logging goes on into the spool (the server checks values again
        when they are sent); it is asked again at most every ``_ASK_LIMITS_EVERY_S`` seconds,
        not at every call."""
        from shipyard.tracking import ValueLimits

        if time.monotonic() < self._unreachable_until:
            return ValueLimits.of(self.config)
        try:
            return self.tracking.limits
        except Unavailable:
            self._unreachable_until = time.monotonic() + _ASK_LIMITS_EVERY_S
            return ValueLimits.of(self.config)

    @property
    def _connection(self) -> dict[str, Any]:
        """What every remote store needs to reach the server: the token and the retry policy."""
        from shipyard.remote import RetryPolicy

        return {"token": self.config.token, "retry": RetryPolicy.from_config(self.config)}

    @property
    def tracking(self) -> TrackingStore:
        from shipyard.remote import RemoteTrackingStore

        return self._resource("tracking", lambda: RemoteTrackingStore(self.config.url or "", **self._connection),
                              _close)

    @property
    def registry(self) -> RegistryStore:
        from shipyard.remote import RemoteRegistryStore

        return self._resource("registry", lambda: RemoteRegistryStore(
            self.config.url or "", **self._connection, cache_dir=self.model_cache_dir), _close)

    @property
    def datasets(self) -> DatasetStore:
        from shipyard.remote import RemoteDatasetStore

        return self._resource("datasets", lambda: RemoteDatasetStore(self.config.url or "", **self._connection),
                              _close)

    @property
    def monitoring(self) -> MonitorStore:
        from shipyard.remote._monitoring import RemoteMonitorStore

        return self._resource("monitoring", lambda: RemoteMonitorStore(self.config.url or "",
                                                                       **self._connection), _close)

    @property
    def alerts(self) -> RemoteAlertStore:
        """The server's alert store; it also evaluates the rules, with the server's notifiers."""
        from shipyard.remote._alerts import RemoteAlertStore

        return self._resource("alerts", lambda: RemoteAlertStore(self.config.url or "", **self._connection),
                              _close)

    @property
    def feature_registry(self) -> FeatureRegistry:
        from shipyard.remote._features import RemoteFeatureRegistry

        return self._resource("feature_registry", lambda: RemoteFeatureRegistry(self.config.url or "",
                                                                                **self._connection), _close)

    @property
    def automation(self) -> RemoteAutomationStore:
        from shipyard.remote._automation import RemoteAutomationStore

        return self._resource("automation", lambda: RemoteAutomationStore(self.config.url or "",
                                                                          **self._connection), _close)

    @property
    def online_store(self) -> OnlineStore:
        if self.config.online_store:
            return super().online_store
        from shipyard.remote._features import RemoteOnlineStore

        return self._resource("online_store", lambda: RemoteOnlineStore(self.config.url or "",
                                                                        **self._connection), _close)
