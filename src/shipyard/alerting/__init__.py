"""Alerting: rules over monitored series, the engine that fires and resolves them, notifiers.

A domain package that knows nothing of monitors: it reads time series through the
:class:`SeriesStore` contract (:mod:`~shipyard.alerting._series`), which the monitoring
stores implement, and keeps rules, alert states and their history in an
:class:`AlertStore` (:class:`SqlAlertStore` on the metadata database).

* :func:`parse_rule` → :class:`AlertRule` (``drift_share > 0.3 for 2 windows``);
* :class:`AlertEngine` evaluates every rule, claims each transition once (of several
  evaluators, one notifies) and hands :class:`AlertEvent`\\ s to the notifiers;
* :class:`WebhookNotifier`, :class:`EmailNotifier`, :class:`LogNotifier` behind the
  :class:`Notifier` protocol, built from ``shipyard.toml`` by :func:`notifiers_from_config`;
* :func:`render_prometheus_rules`: the same rules as Prometheus alerting rules.

Names are loaded on first use, so ``import shipyard`` stays light (no SQLAlchemy or YAML).

>>> from shipyard.alerting import parse_rule
>>> parse_rule("accuracy < 0.85 for 2 windows", name="quality").condition
'accuracy < 0.85 for 2 windows'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipyard._lazy import lazy_exports

if TYPE_CHECKING:
    from shipyard.alerting._backend import AlertStateStore, AlertStore
    from shipyard.alerting._engine import AlertEngine
    from shipyard.alerting._entities import Alert, AlertEvent, Delivery, HistoryEntry
    from shipyard.alerting._notifiers import (
        EmailNotifier,
        LogNotifier,
        Notifier,
        WebhookNotifier,
        notifiers_from_config,
    )
    from shipyard.alerting._prometheus import render_prometheus_rules
    from shipyard.alerting._rules import AlertRule, parse_rule
    from shipyard.alerting._series import Point, SeriesStore
    from shipyard.alerting._sql_store import SqlAlertStore

# Public name -> the submodule defining it. Add a name here and to __all__ (kept sorted) to export it.
_WHERE = {
    "AlertRule": "_rules", "parse_rule": "_rules",
    "Alert": "_entities", "AlertEvent": "_entities", "Delivery": "_entities", "HistoryEntry": "_entities",
    "AlertEngine": "_engine",
    "AlertStateStore": "_backend", "AlertStore": "_backend",
    "SqlAlertStore": "_sql_store",
    "EmailNotifier": "_notifiers", "LogNotifier": "_notifiers", "Notifier": "_notifiers",
    "WebhookNotifier": "_notifiers",
    "notifiers_from_config": "_notifiers",
    "Point": "_series", "SeriesStore": "_series",
    "render_prometheus_rules": "_prometheus",
}

__all__ = [
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


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__, globals())
