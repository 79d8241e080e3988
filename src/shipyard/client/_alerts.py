"""``client.alerts``: rules, alerts, history, evaluation, Prometheus export.

Embedded, the client evaluates rules itself over its monitor store's series and
sends notifications through the notifiers of its own configuration
(``[alerts.notifiers.<name>]``). Remote, it asks the server to evaluate: the server's
configuration holds the notifiers, so secrets stay in one place.

>>> client.alerts.create_alert_rule("drift_share > 0.3 for 2 windows", name="drift",  # doctest: +SKIP
...                                 monitor="churn", notify=["slack"])
>>> [e.title for e in client.alerts.evaluate_alerts()]                             # doctest: +SKIP
['[FIRING] drift (warning) on churn']
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from shipyard.client._backend import Backend, LocalBackend, RemoteBackend
from shipyard.errors import ConfigError, InvalidInput, NotFound

if TYPE_CHECKING:
    from shipyard.alerting import (
        Alert,
        AlertEngine,
        AlertEvent,
        AlertRule,
        AlertStore,
        HistoryEntry,
        Notifier,
        SeriesStore,
    )

__all__ = ["Alerts"]


class Alerts:
    """Alert rules over monitored series, the alerts they raise, and their notifications."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self.config = backend.config
        self._engine: AlertEngine | None = None
        self._engine_lock = threading.Lock()

    @property
    def store(self) -> AlertStore:
        """The alert store (opened on first use)."""
        return self._backend.alerts

    def close(self) -> None:
        """Release the engine's notifiers (their pooled connections), if an engine was made."""
        engine, self._engine = self._engine, None
        if engine is not None:
            for notifier in engine.notifiers.values():
                close = getattr(notifier, "close", None)
                if close is not None:
                    close()

    # -- rules --------------------------------------------------------------------------

    def create_alert_rule(self, condition: str | AlertRule, *, name: str | None = None, monitor: str = "*",
                          severity: str = "warning", notify: Iterable[str] | str = (),
                          repeat_interval: str | int | None = None, description: str | None = None,
                          enabled: bool = True, replace: bool = False) -> AlertRule:
        """Store a rule such as ``"drift_share > 0.3 for 2 windows"`` (or an :class:`AlertRule`).

        ``monitor``: one monitor's name or ``"*"`` for all; ``notify``: notifier
        names, each configured where alerts are evaluated (``[alerts.notifiers.<name>]``,
        or ``log``), else ``InvalidInput`` naming the configured ones; ``repeat_interval``:
        re-notify a still-firing alert this often (``"4h"``). ``AlreadyExists`` if the name
        is taken, unless ``replace``. The series must be one a monitor writes (of the
        monitor's task, when the monitor exists), else ``InvalidInput`` listing them. The
        monitor itself may be created later (``shipyard alerts rule add`` wants it to exist).
        """
        from shipyard.alerting import AlertRule, parse_rule

        rule = condition if isinstance(condition, AlertRule) else parse_rule(
            condition, name=name, monitor=monitor, severity=severity, notify=notify,
            repeat_interval=repeat_interval, description=description, enabled=enabled)
        if not self.config.url:  # a server checks against its own notifiers
            from shipyard.alerting._notifiers import check_notifiers

            check_notifiers(rule.notify, self.alert_notifiers)
        self._check_series(rule)
        return self.store.create_rule(rule, replace=replace)

    def _check_series(self, rule: AlertRule) -> None:
        """Refuse a rule on a series no monitor writes: it could never fire."""
        from shipyard.monitoring._window import series_names

        task = None
        if rule.monitor != "*":
            with contextlib.suppress(NotFound):  # not created yet: any task's series
                task = self._backend.monitoring.get_monitor(rule.monitor).task
        known = series_names(task)
        if rule.series in known:
            return
        whose = f"a {task} monitor" if task else "a monitor"
        raise InvalidInput(f"rule: {whose} writes no series {rule.series!r}; it writes {', '.join(known)}",
                           field="rule", series=rule.series, known=list(known))

    def get_alert_rule(self, name: str) -> AlertRule:
        return self.store.get_rule(name)

    def list_alert_rules(self) -> list[AlertRule]:
        return self.store.list_rules()

    def delete_alert_rule(self, name: str) -> None:
        """Delete a rule and its alerts; the history keeps them."""
        self.store.delete_rule(name)

    # -- alerts -------------------------------------------------------------------------

    def list_alerts(self, state: str | None = None, rule: str | None = None) -> list[Alert]:
        """Alerts (``state``: ``firing`` or ``resolved``), firing ones first."""
        return self.store.list_alerts(state, rule)

    def alert_history(self, rule: str | None = None, fingerprint: str | None = None,
                      limit: int = 100) -> list[HistoryEntry]:
        """The newest history lines (transitions and notification outcomes), newest first."""
        return self.store.history(rule, fingerprint, limit)

    def evaluate_alerts(self, now_ms: int | None = None) -> list[AlertEvent]:
        """Evaluate every rule now (or at ``now_ms``); the transitions claimed, after notifying."""
        if isinstance(self._backend, RemoteBackend):
            return self._backend.alerts.evaluate(now_ms)
        if self._engine is None:
            with self._engine_lock:
                if self._engine is None:  # kept: its webhook notifiers pool their connections
                    self._engine = self.alert_engine()
        return self._engine.evaluate(now_ms)

    def alert_engine(self, series: SeriesStore | None = None,
                     notifiers: Mapping[str, Notifier] | None = None) -> AlertEngine:
        """An engine over this client's stores and configured notifiers (embedded clients only)."""
        from shipyard.alerting import AlertEngine

        if not isinstance(self._backend, LocalBackend):
            raise ConfigError("a remote client evaluates alerts on the server: call evaluate_alerts()", field="url")
        return AlertEngine(self._backend.alerts, series if series is not None else self._backend.monitoring,
                           self.alert_notifiers if notifiers is None else notifiers)

    @property
    def alert_notifiers(self) -> dict[str, Notifier]:
        """The notifiers of this configuration's ``[alerts.notifiers.<name>]`` tables, plus ``log``."""
        from shipyard.alerting import notifiers_from_config

        return notifiers_from_config(self.config.alerts)

    def export_prometheus_rules(self, *, default_window: str | int = "1h") -> str:
        """Every enabled rule as a Prometheus rules file (YAML) over the exported gauges.

        Each monitor's window comes from its definition; rules on monitors that do
        not exist (yet) assume ``default_window`` (see
        :mod:`shipyard.alerting._prometheus`).
        """
        from shipyard.alerting import render_prometheus_rules
        from shipyard.timeutil import parse_duration

        monitors = self._backend.monitoring.list_monitors()
        windows = {m.name: m.window_s for m in monitors}
        return render_prometheus_rules(self.list_alert_rules(), windows,
                                       default_window_s=parse_duration(default_window, "default_window"))
