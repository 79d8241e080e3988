"""Feature store: definitions, point-in-time correct training sets, online stores, materialization.

>>> from shipyard import features as sf
>>> user = sf.Entity("user", join_keys=["user_id"])
>>> stats = sf.FeatureView("user_stats", entities=[user],
...                        source=sf.ParquetSource("stats/", timestamp="event_ts"),
...                        features={"avg_spend_7d": "float64", "orders_30d": "int64"}, ttl="7d")
>>> store = shipyard.Client().features  # doctest: +SKIP
>>> store.apply([user, stats])         # doctest: +SKIP

A domain package above serving and pipelines and beside monitoring (which it never
imports). Names load on first use, so ``import shipyard`` stays light (no DuckDB).

* definitions: :class:`Entity`, :class:`FeatureView`, :class:`OnDemandFeatureView`,
  :class:`RequestField`; sources :class:`ParquetSource`, :class:`CsvSource`,
  :class:`DataFrameSource`, :class:`DatasetSource`, :class:`SqlSource`;
* :class:`FeatureStore` — apply, training sets, materialize, push, online lookups;
* :class:`FeatureRegistry` (:class:`SqlFeatureRegistry`), :class:`OnlineStore`
  (:class:`SqliteOnlineStore`, :class:`RedisOnlineStore`);
* :class:`FreshnessCollector` — the ``shipyard_feature_freshness_seconds`` gauge;
* :func:`check_skew` → :class:`SkewReport` — online values against the offline path as of now;
* :class:`OnlineLookup` — serving's feature lookup over the online path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipyard._lazy import lazy_exports

if TYPE_CHECKING:
    from shipyard.features.definitions import Entity, FeatureView, OnDemandFeatureView, RequestField
    from shipyard.features.lookup import OnlineLookup
    from shipyard.features.metrics import FreshnessCollector
    from shipyard.features.offline import HistoricalFeatures
    from shipyard.features.online import OnlineStore, RedisOnlineStore, SqliteOnlineStore, open_online_store
    from shipyard.features.registry import (
        Applied,
        FeatureObject,
        FeatureRegistry,
        MaterializationState,
        SqlFeatureRegistry,
    )
    from shipyard.features.retrieval import OnlineResponse
    from shipyard.features.skew import SkewReport, check_skew
    from shipyard.features.sources import CsvSource, DataFrameSource, DatasetSource, ParquetSource
    from shipyard.features.sql_source import SqlSource
    from shipyard.features.store import FeatureStore

__all__ = [
    "Applied",
    "CsvSource",
    "DataFrameSource",
    "DatasetSource",
    "Entity",
    "FeatureObject",
    "FeatureRegistry",
    "FeatureStore",
    "FeatureView",
    "FreshnessCollector",
    "HistoricalFeatures",
    "MaterializationState",
    "OnDemandFeatureView",
    "OnlineLookup",
    "OnlineResponse",
    "OnlineStore",
    "ParquetSource",
    "RedisOnlineStore",
    "RequestField",
    "SqlFeatureRegistry",
    "SqlSource",
    "SkewReport",
    "SqliteOnlineStore",
    "check_skew",
    "open_online_store",
]

_WHERE = {
    "Entity": "definitions", "FeatureView": "definitions", "OnDemandFeatureView": "definitions",
    "RequestField": "definitions",
    "FreshnessCollector": "metrics",
    "HistoricalFeatures": "offline",
    "OnlineStore": "online", "RedisOnlineStore": "online", "SqliteOnlineStore": "online",
    "open_online_store": "online",
    "Applied": "registry", "FeatureObject": "registry", "FeatureRegistry": "registry",
    "MaterializationState": "registry", "SqlFeatureRegistry": "registry",
    "OnlineResponse": "retrieval",
    "OnlineLookup": "lookup",
    "SkewReport": "skew", "check_skew": "skew",
    "CsvSource": "sources", "DataFrameSource": "sources", "DatasetSource": "sources", "ParquetSource": "sources",
    "SqlSource": "sql_source",
    "FeatureStore": "store",
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__, globals())
