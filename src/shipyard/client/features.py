"""Feature-store methods of the client: the registry, the online store and a FeatureStore over them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shipyard.client._base import ClientBase

if TYPE_CHECKING:
    from shipyard.features.online.base import OnlineStore
    from shipyard.features.registry import FeatureRegistry
    from shipyard.features.store import FeatureStore

__all__ = ["FeaturesMixin"]


class FeaturesMixin(ClientBase):
    """Feature definitions and online values, embedded or through a ``shipyard server``.

    Remote (``url`` set): the registry is the server's; so is the online store unless
    ``online_store`` names one (a shared Redis, say), in which case lookups go there
    directly. Embedded: the registry is in the metadata database and the online
    store is ``online_store`` (default: ``<home>/online.db``).
    """

    @property
    def feature_registry(self) -> FeatureRegistry:
        """Versioned feature definitions (opened on first use)."""
        found: FeatureRegistry | None = self.__dict__.get("_feature_registry")
        if found is None:
            if self.config.url:
                from shipyard.remote.features import RemoteFeatureRegistry

                found = RemoteFeatureRegistry(self.config.url, token=self.config.token)
            else:
                from shipyard.features.registry import SqlFeatureRegistry

                found = SqlFeatureRegistry(self.tracking_store.db)  # type: ignore[attr-defined]
            self.__dict__["_feature_registry"] = found
        return found

    @property
    def feature_online_store(self) -> OnlineStore:
        """The online store of this configuration (opened on first use)."""
        found: OnlineStore | None = self.__dict__.get("_feature_online")
        if found is None:
            if self.config.url and not self.config.online_store:
                from shipyard.remote.features import RemoteOnlineStore

                found = RemoteOnlineStore(self.config.url, token=self.config.token)
            else:
                from shipyard.features.online import open_online_store

                found = open_online_store(self.config.online_store, self.config.home)
            self.__dict__["_feature_online"] = found
        return found

    @property
    def feature_store(self) -> FeatureStore:
        """A :class:`~shipyard.features.FeatureStore` over this client's registry, online store
        and datasets (one per client)."""
        found: FeatureStore | None = self.__dict__.get("_feature_store")
        if found is None:
            from shipyard.features.store import FeatureStore

            found = FeatureStore(self.config, registry=self.feature_registry, online=self.feature_online_store,
                                 datasets=self)  # type: ignore[arg-type]
            self.__dict__["_feature_store"] = found
        return found

    def close(self) -> None:
        try:
            super().close()
        finally:
            stores: list[Any] = [self.__dict__.pop(k, None) for k in ("_feature_online", "_feature_registry")]
            for store in stores:
                if store is not None:
                    store.close()
