"""Checking what a policy names: every model, pipeline, dataset, alert rule and monitor must exist.

A policy is refused when it is applied, not when a controller first needs what it
names: :class:`References` looks each name up in the store that owns it and raises
:class:`~shipyard.errors.NotFound` naming the policy's field (``retrain.pipeline``,
``triggers[0].rule``). A pipeline exists once it has run here (its definition is kept
with its experiment: see :mod:`shipyard.pipelines._recording`).
"""

from __future__ import annotations

from collections.abc import Callable

from shipyard.alerting import AlertStore
from shipyard.automation._policy import AutomationPolicy
from shipyard.datasets import DatasetStore
from shipyard.errors import NotFound
from shipyard.monitoring._backend import MonitorStore
from shipyard.registry import RegistryStore
from shipyard.tracking import TrackingStore

__all__ = ["References"]

_WHAT = {"model": "registered model", "pipeline": "pipeline", "dataset": "dataset", "alert_rule": "alert rule",
         "monitor": "monitor"}


class References:
    """Looks up what policies name, in the stores that own each kind of thing."""

    def __init__(self, *, registry: RegistryStore, tracking: TrackingStore, datasets: DatasetStore,
                 alerts: AlertStore, monitoring: MonitorStore) -> None:
        self.registry = registry
        self.tracking = tracking
        self.datasets = datasets
        self.alerts = alerts
        self.monitoring = monitoring

    def check(self, policy: AutomationPolicy) -> None:
        """``NotFound`` (``field``: the policy's field, ``resource``: the kind) for the first name
        that does not exist, in the order the policy's fields are written."""
        lookups: dict[str, Callable[[str], object]] = {
            "model": self.registry.get_registered_model, "pipeline": self._pipeline,
            "dataset": self.datasets.resolve, "alert_rule": self.alerts.get_rule,
            "monitor": self.monitoring.get_monitor}
        for kind, name, field in policy.references:
            try:
                lookups[kind](name)
            except NotFound:
                raise NotFound(f"{field}: {_WHAT[kind]} {name!r} not found", resource=kind, name=name,
                               field=field) from None

    def _pipeline(self, name: str) -> None:
        from shipyard.pipelines._records import list_pipelines

        if any(definition.name == name for definition in list_pipelines(self.tracking)):
            return
        raise NotFound(f"pipeline {name!r} not found", resource="pipeline", name=name)
