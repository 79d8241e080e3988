"""Alert methods of the client: rules, alerts, history, evaluation, Prometheus export.

Embedded, the client evaluates rules itself over its monitor store's series and
sends notifications through the notifiers of its own configuration
(``[alerts.notifiers.<name>]``). Remote, it asks the server to evaluate: the server's
configuration holds the notifiers, so secrets stay in one place.

>>> client.create_alert_rule("drift_share > 0.3 for 2 windows", name="drift",  # doctest: +SKIP
...                          monitor="churn", notify=["slack"])
>>> [e.title for e in client.evaluate_alerts()]                             # doctest: +SKIP
['[FIRING] drift (warning) on churn']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from shipyard.client._base import ClientBase
from shipyard.errors import ConfigError

if TYPE_CHECKING:
    from shipyard.monitoring.alert_entities import Alert, AlertEvent, HistoryEntry
    from shipyard.monitoring.alerts import AlertEngine
    from shipyard.monitoring.alerts_store import AlertStore
    from shipyard.monitoring.notifiers import Notifier
    from shipyard.monitoring.rules import AlertRule
    from shipyard.monitoring.series import SeriesStore

__all__ = ["AlertsMixin"]


class AlertsMixin(ClientBase):
    """Alert rules over monitored series, the alerts they raise, and their notifications."""

    @property
    def alert_store(self) -> AlertStore:
        """The alerts backend (opened on first use)."""
        store: AlertStore | None = self.__dict__.get("_alert_store")
        if store is None:
            if self.config.url:
                from shipyard.remote.alerts import RemoteAlertStore

                store = RemoteAlertStore(self.config.url, token=self.config.token)
            else:
                from shipyard.monitoring.alerts_store import SqlAlertStore

                store = SqlAlertStore(self.tracking_store.db)  # type: ignore[attr-defined]
            self.__dict__["_alert_store"] = store
        return store

    def close(self) -> None:
        try:
            super().close()
        finally:
            store = self.__dict__.get("_alert_store")
            if store is not None:
                store.close()

    # -- rules --------------------------------------------------------------------------

    def create_alert_rule(self, condition: str | AlertRule, *, name: str | None = None, monitor: str = "*",
                          severity: str = "warning", notify: Iterable[str] | str = (),
                          repeat_interval: str | int | None = None, description: str | None = None,
                          enabled: bool = True, replace: bool = False) -> AlertRule:
        """Store a rule such as ``"drift_share > 0.3 for 2 windows"`` (or an :class:`AlertRule`).

        ``monitor``: one monitor's name or ``"*"`` for all; ``notify``: notifier
        names; ``repeat_interval``: re-notify a still-firing alert this often
        (``"4h"``). ``AlreadyExists`` if the name is taken, unless ``replace``.
        """
        from shipyard.monitoring.rules import AlertRule, parse_rule

        rule = condition if isinstance(condition, AlertRule) else parse_rule(
            condition, name=name, monitor=monitor, severity=severity, notify=notify,
            repeat_interval=repeat_interval, description=description, enabled=enabled)
        return self.alert_store.create_rule(rule, replace=replace)

    def get_alert_rule(self, name: str) -> AlertRule:
        return self.alert_store.get_rule(name)

    def list_alert_rules(self) -> list[AlertRule]:
        return self.alert_store.list_rules()

    def delete_alert_rule(self, name: str) -> None:
        """Delete a rule and its alerts; the history keeps them."""
        self.alert_store.delete_rule(name)

    # -- alerts -------------------------------------------------------------------------

    def list_alerts(self, state: str | None = None, rule: str | None = None) -> list[Alert]:
        """Alerts (``state``: ``firing`` or ``resolved``), firing ones first."""
        return self.alert_store.list_alerts(state, rule)

    def alert_history(self, rule: str | None = None, fingerprint: str | None = None,
                      limit: int = 100) -> list[HistoryEntry]:
        """The newest history lines (transitions and notification outcomes), newest first."""
        return self.alert_store.history(rule, fingerprint, limit)

    def evaluate_alerts(self, now_ms: int | None = None) -> list[AlertEvent]:
        """Evaluate every rule now (or at ``now_ms``); the transitions claimed, after notifying."""
        if self.config.url:
            return self.alert_store.evaluate(now_ms)  # type: ignore[attr-defined]
        engine: AlertEngine | None = self.__dict__.get("_alert_engine")
        if engine is None:  # kept: its webhook notifiers pool their connections
            engine = self.__dict__["_alert_engine"] = self.alert_engine()
        return engine.evaluate(now_ms)

    def alert_engine(self, series: SeriesStore | None = None,
                     notifiers: Mapping[str, Notifier] | None = None) -> AlertEngine:
        """An engine over this client's stores and configured notifiers (embedded clients only)."""
        from shipyard.monitoring.alerts import AlertEngine

        if self.config.url:
            raise ConfigError("a remote client evaluates alerts on the server: call evaluate_alerts()", field="url")
        store: Any = self.alert_store
        return AlertEngine(store, series if series is not None else self.monitor_store,  # type: ignore[attr-defined]
                           self.alert_notifiers if notifiers is None else notifiers)

    @property
    def alert_notifiers(self) -> dict[str, Notifier]:
        """The notifiers of this configuration's ``[alerts.notifiers.<name>]`` tables, plus ``log``."""
        from shipyard.monitoring.notifiers import notifiers_from_config

        return notifiers_from_config(self.config.alerts)

    def export_prometheus_rules(self, *, default_window: str | int = "1h") -> str:
        """Every enabled rule as a Prometheus rules file (YAML) over the exported gauges.

        Each monitor's window comes from its definition; rules on monitors that do
        not exist (yet) assume ``default_window`` (see
        :mod:`shipyard.monitoring.prometheus_rules`).
        """
        from shipyard.monitoring.entities import parse_duration
        from shipyard.monitoring.prometheus_rules import render_prometheus_rules

        monitors = self.monitor_store.list_monitors()  # type: ignore[attr-defined]
        windows = {m.name: m.window_s for m in monitors}
        return render_prometheus_rules(self.list_alert_rules(), windows,
                                       default_window_s=parse_duration(default_window, "default_window"))
