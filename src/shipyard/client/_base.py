"""Client assembly: one configuration, the stores it opens, the writer, and shutdown."""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.config import Config, load_config
from shipyard.tracking import BatchWriter, TrackingStore

if TYPE_CHECKING:
    from shipyard.datasets import DatasetStore
    from shipyard.monitoring.backend import MonitorStore
    from shipyard.registry import RegistryStore

__all__ = ["ClientBase"]


@dataclass
class RunState:
    """What this client knows of a run it logs to, so most mistakes fail at the call."""

    finished: bool
    params: dict[str, str]
    keys: set[str] = field(default_factory=set)


class ClientBase:
    """Opens the stores named by a :class:`Config` on first use and closes them."""

    def __init__(self, config: Config | None = None, **overrides: Any) -> None:
        self.config = (config.with_(**overrides) if overrides else config) if config else load_config(**overrides)
        self._tracking: TrackingStore | None = None
        self._registry: RegistryStore | None = None
        self._datasets: DatasetStore | None = None
        self._monitoring: MonitorStore | None = None  # opened on first use by MonitoringMixin
        self._writer: BatchWriter | None = None
        self._runs: dict[str, RunState] = {}

    def __repr__(self) -> str:
        where = self.config.url or self.config.database_url
        return f"Client({where!r})"

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def tracking_store(self) -> TrackingStore:
        """The tracking backend (opened on first use)."""
        if self._tracking is None:
            self._open_stores()
        assert self._tracking is not None
        return self._tracking

    @property
    def registry_store(self) -> RegistryStore:
        """The model registry backend (opened on first use)."""
        if self._registry is None:
            self._open_stores()
        assert self._registry is not None
        return self._registry

    def _open_stores(self) -> None:
        if self.config.url:
            from shipyard.remote import RemoteDatasetStore, RemoteRegistryStore, RemoteTrackingStore

            self._tracking = RemoteTrackingStore(self.config.url, token=self.config.token)
            self._datasets = RemoteDatasetStore(self.config.url, token=self.config.token)
            self._registry = RemoteRegistryStore(self.config.url, token=self.config.token,
                                                 cache_dir=self.model_cache_dir)
            return
        from shipyard.datasets.sql_store import SqlDatasetStore
        from shipyard.registry.sql_store import SqlRegistryStore
        from shipyard.store.artifacts import open_artifact_store
        from shipyard.store.db import Database
        from shipyard.tracking.sql_store import SqlTrackingStore

        db = Database(self.config.database_url)
        db.ensure_schema()
        artifacts = open_artifact_store(self.config.artifacts_uri, s3_endpoint_url=self.config.s3_endpoint_url)
        self._tracking = SqlTrackingStore(db, artifacts)
        self._registry = SqlRegistryStore(db, artifacts, self._tracking, self.model_cache_dir)
        self._datasets = SqlDatasetStore(db, artifacts)

    @property
    def model_cache_dir(self) -> Path:
        """Where verified local copies of model packages are kept."""
        return self.config.home.absolute() / "cache" / "models"

    @property
    def _batch_writer(self) -> BatchWriter:
        if self._writer is None:
            spool = None
            if self.config.url:
                from shipyard.tracking.spool import DiskSpool

                spool = DiskSpool(self.config.spool_dir)
            writer = BatchWriter(self.tracking_store.log_batch, self.config.flush_interval, spool)
            # Flush at interpreter exit even if the client is never closed.
            weakref.finalize(self, writer.close)
            self._writer = writer
        return self._writer

    def flush(self) -> None:
        """Write every buffered point now; raise the first error any flush met."""
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        """Flush and release connections. The client may not be used afterwards."""
        try:
            if self._writer is not None:
                self._writer.close()
        finally:
            if self._registry is not None:
                self._registry.close()
            if self._tracking is not None:
                self._tracking.close()
