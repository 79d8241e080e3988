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
    from shipyard.features._backend import Applied, FeatureObject, FeatureRegistry, MaterializationState
    from shipyard.features._definitions import Entity, FeatureView, OnDemandFeatureView, RequestField
    from shipyard.features._lookup import OnlineLookup
    from shipyard.features._metrics import FreshnessCollector
    from shipyard.features._offline import HistoricalFeatures
    from shipyard.features._retrieval import OnlineResponse
    from shipyard.features._skew import SkewReport, check_skew
    from shipyard.features._sources import CsvSource, DataFrameSource, DatasetSource, ParquetSource
    from shipyard.features._sql_source import SqlSource
    from shipyard.features._sql_store import SqlFeatureRegistry
    from shipyard.features._store import FeatureStore
    from shipyard.features.online import OnlineStore, RedisOnlineStore, SqliteOnlineStore, open_online_store

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
    "SkewReport",
    "SqlFeatureRegistry",
    "SqlSource",
    "SqliteOnlineStore",
    "check_skew",
    "open_online_store",
]

_WHERE = {
    "Entity": "_definitions", "FeatureView": "_definitions", "OnDemandFeatureView": "_definitions",
    "RequestField": "_definitions",
    "FreshnessCollector": "_metrics",
    "HistoricalFeatures": "_offline",
    "OnlineStore": "online", "RedisOnlineStore": "online", "SqliteOnlineStore": "online",
    "open_online_store": "online",
    "Applied": "_backend", "FeatureObject": "_backend", "FeatureRegistry": "_backend",
    "MaterializationState": "_backend", "SqlFeatureRegistry": "_sql_store",
    "OnlineResponse": "_retrieval",
    "OnlineLookup": "_lookup",
    "SkewReport": "_skew", "check_skew": "_skew",
    "CsvSource": "_sources", "DataFrameSource": "_sources", "DatasetSource": "_sources", "ParquetSource": "_sources",
    "SqlSource": "_sql_source",
    "FeatureStore": "_store",
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__, globals())
