"""Freshness as a Prometheus gauge: ``shipyard_feature_freshness_seconds{view}``.

The age, at scrape time, of the newest value the online store holds for each
online feature view (materialized or pushed). A view with nothing stored yet has
no sample, so an alert rule such as
``shipyard_feature_freshness_seconds > 3600 or absent(...)`` catches both.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from shipyard.errors import ShipyardError

if TYPE_CHECKING:
    from shipyard.features._store import FeatureStore

__all__ = ["FreshnessCollector", "freshness_collector"]

METRIC = "shipyard_feature_freshness_seconds"


class FreshnessCollector:
    """A prometheus-client collector over a :class:`~shipyard.features.FeatureStore`."""

    def __init__(self, store: FeatureStore) -> None:
        self.store = store

    def describe(self) -> list[Any]:
        return []  # unchecked collector: the views are known only at scrape time

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        gauge = GaugeMetricFamily(METRIC, "Age in seconds of the newest value in the online store, per feature view.",
                                  labels=["view"])
        try:
            from shipyard.features._definitions import FeatureView

            views = [v for v in self.store.list_views() if isinstance(v, FeatureView) and v.online]
            now = time.time()
            for view in views:
                newest = self.store.online.freshness(view.name)
                if newest is not None:
                    gauge.add_metric([view.name], max(0.0, now - newest / 1e6))
        except ShipyardError:
            pass  # a scrape must not fail because a store is briefly unreachable: no samples instead
        yield gauge


def freshness_collector(client: Any) -> FreshnessCollector:
    """Collector factory for ``shipyard server``'s ``/metrics``: the client's feature store."""
    return FreshnessCollector(client.feature_store)
