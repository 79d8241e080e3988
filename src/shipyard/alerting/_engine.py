"""The alert engine: evaluate every rule over the monitored series, claim transitions, notify.

For each enabled rule and each label set of its series (per monitor):

* **fire** when the condition held in each of the last ``for_windows`` windows, and
  those windows are consecutive (each starts where the previous ended);
* **resolve** when the alert fires and the newest window no longer satisfies it;
* **re-notify** a firing alert once its rule's repeat interval has passed since the
  last notification (rules without one notify once per firing).

A window whose value is None (nothing to compute it from: no rows, no labels yet)
decides nothing: it breaks a streak toward firing, but it does not resolve a firing
alert either, because a gap in the data is no sign of recovery.

Decisions depend only on the stored points and alert states, so evaluating twice
over the same points changes nothing the second time. Each transition is claimed in
the store before anything is sent (see :mod:`shipyard.alerting._backend`): of
several evaluators running at once, one notifies. Delivery is at most once: a crash
between the claim and the send loses that notification, never duplicates it.

>>> engine = AlertEngine(store, series, {"slack": WebhookNotifier(url)})  # doctest: +SKIP
>>> [e.title for e in engine.evaluate()]                                 # doctest: +SKIP
['[FIRING] drift (warning) on churn']
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from shipyard.alerting._backend import AlertStateStore
from shipyard.alerting._entities import Alert, AlertEvent, Delivery, HistoryEntry, fingerprint
from shipyard.alerting._notifiers import LogNotifier, Notifier
from shipyard.alerting._rules import AlertRule
from shipyard.alerting._series import Point, SeriesStore, labels_key
from shipyard.errors import ShipyardError
from shipyard.timeutil import now_ms

__all__ = ["AlertEngine"]

_MAX_SENDERS = 8
_log = logging.getLogger("shipyard.alerts")


class AlertEngine:
    """Evaluates the rules of ``store`` over ``series`` and sends transitions to ``notifiers``.

    ``notifiers`` maps the names rules use in ``notify`` to notifiers; a rule that
    names none is sent to ``log`` (a :class:`~shipyard.alerting._notifiers.LogNotifier`
    unless the mapping has its own). The engine holds no state between calls: it can
    be built per evaluation, and several can run at once over one store.
    """

    def __init__(self, store: AlertStateStore, series: SeriesStore, notifiers: Mapping[str, Notifier] | None = None,
                 *, clock: Callable[[], int] = now_ms) -> None:
        self.store = store
        self.series = series
        self.notifiers: dict[str, Notifier] = {"log": LogNotifier(), **(notifiers or {})}
        self.clock = clock

    def evaluate(self, now_ms: int | None = None) -> list[AlertEvent]:
        """Evaluate every enabled rule over the windows ended by ``now_ms`` (default: now).

        Returns the transitions this call claimed, in rule order, after notifying
        each rule's notifiers, with what became of each message in
        :attr:`~shipyard.alerting._entities.AlertEvent.deliveries`; each
        transition and each delivery (or its failure) is in the history.
        """
        now = self.clock() if now_ms is None else int(now_ms)
        latest = self._latest()
        events: list[AlertEvent] = []
        for rule in self.store.list_rules():
            if rule.enabled:
                events += self._evaluate_rule(rule, now, latest)
        if not events:
            return events
        outcomes = self._deliver(events)
        self.store.record([entry for _, entry in outcomes])
        by_event: dict[int, list[Delivery]] = {}
        for index, entry in outcomes:
            by_event.setdefault(index, []).append(Delivery(entry.notifier or "", entry.kind == "notified",
                                                           None if entry.kind == "notified" else entry.detail))
        return [replace(event, deliveries=tuple(by_event.get(i, ()))) for i, event in enumerate(events)]

    # -- deciding -----------------------------------------------------------------------

    def _evaluate_rule(self, rule: AlertRule, now: int, latest: list[Point] | None) -> list[AlertEvent]:
        since = _since(rule, now, latest)
        if since is False:
            return []  # the series has no point for this rule at all
        points = self.series.query_points(None if rule.monitor == "*" else rule.monitor, rule.series,
                                          since_ms=since, until_ms=now, labels=rule.labels or None)
        groups: dict[tuple[str, str], list[Point]] = {}
        for point in points:
            if point.window_end <= now and (rule.monitor == "*" or point.monitor == rule.monitor):
                groups.setdefault((point.monitor, labels_key(point.labels)), []).append(point)
        current = self.store.alerts_of(rule.name)
        claimed: list[AlertEvent] = []
        for (monitor, _), group in groups.items():
            group.sort(key=lambda p: (p.window_end, p.window_start))
            labels = dict(group[-1].labels)
            fp = fingerprint(rule.name, monitor, labels)
            event = self._decide(rule, group, current.get(fp), fp, monitor, labels, now)
            if event is not None and self.store.claim(event):
                claimed.append(event)
        return claimed

    def _decide(self, rule: AlertRule, points: list[Point], alert: Alert | None, fp: str, monitor: str,
                labels: dict[str, str], now: int) -> AlertEvent | None:
        newest = points[-1]
        value = _value(newest)
        firing = alert is not None and alert.state == "firing"

        def event(kind: str, started_at: int, count: int) -> AlertEvent:
            return AlertEvent(kind=kind, rule=rule, fingerprint=fp, monitor=monitor, labels=labels, value=value,
                              window_end=newest.window_end, at=now, started_at=started_at, count=count)

        if not firing:
            recent = points[-rule.for_windows:]
            if len(recent) == rule.for_windows and _consecutive(recent) and all(
                    rule.holds(_value(p)) for p in recent):
                return event("firing", now, (alert.count + 1) if alert is not None else 1)
            return None
        assert alert is not None
        if value is not None and not rule.holds(value):
            return event("resolved", alert.started_at, alert.count)
        if rule.repeat_interval_ms and (alert.last_notified_at is None
                                        or now - alert.last_notified_at >= rule.repeat_interval_ms):
            return event("repeat", alert.started_at, alert.count)
        if (alert.last_value, alert.last_window_end) != (value, newest.window_end) and value is not None:
            self.store.observe(fp, value, newest.window_end)
        return None

    def _latest(self) -> list[Point] | None:
        """The newest point of every series, when the store can tell (bounds each rule's query)."""
        latest_points = getattr(self.series, "latest_points", None)
        return list(latest_points(None)) if callable(latest_points) else None

    # -- notifying ----------------------------------------------------------------------

    def _deliver(self, events: Sequence[AlertEvent]) -> list[tuple[int, HistoryEntry]]:
        """Each notifier's outcome (a history entry) with the index of the event it concerns."""
        jobs = [(i, event, name) for i, event in enumerate(events) for name in (event.rule.notify or ("log",))]
        if len(jobs) == 1:
            return [(jobs[0][0], self._send(jobs[0][1], jobs[0][2]))]
        with ThreadPoolExecutor(min(_MAX_SENDERS, len(jobs)), thread_name_prefix="shipyard-notify") as pool:
            return list(pool.map(lambda job: (job[0], self._send(job[1], job[2])), jobs))

    def _send(self, event: AlertEvent, name: str) -> HistoryEntry:
        notifier = self.notifiers.get(name)
        if notifier is None:
            detail = f"no notifier named {name!r} is configured ([alerts.notifiers.{name}])"
            _log.warning("alert %s: %s", event.title, detail)
            return HistoryEntry.of(event, "notify_failed", notifier=name, detail=detail)
        try:
            notifier.notify(event)
        except ShipyardError as exc:
            _log.warning("alert %s: notifier %r failed: %s", event.title, name, exc)
            return HistoryEntry.of(event, "notify_failed", notifier=name, detail=str(exc))
        except Exception as exc:  # a third-party notifier's own failure must not stop the others
            _log.warning("alert %s: notifier %r failed: %s", event.title, name, type(exc).__name__)
            return HistoryEntry.of(event, "notify_failed", notifier=name, detail=f"{type(exc).__name__}: {exc}")
        return HistoryEntry.of(event, "notified", notifier=name, detail=event.kind)


def _value(point: Point) -> float | None:
    value = point.value
    return None if value is None or math.isnan(value) else float(value)


def _consecutive(points: Sequence[Point]) -> bool:
    return all(later.window_start <= earlier.window_end for earlier, later in zip(points, points[1:], strict=False))


def _since(rule: AlertRule, now: int, latest: list[Point] | None) -> int | None | bool:
    """The ``since_ms`` that still returns the rule's last ``for_windows`` windows of every
    label set; None to read all (no hint, or the newest point lies after ``now``); False
    when no stored point belongs to the rule."""
    if latest is None:
        return None
    starts = []
    for point in latest:
        if point.series != rule.series or (rule.monitor != "*" and point.monitor != rule.monitor) or any(
                point.labels.get(k) != v for k, v in rule.labels.items()):
            continue
        if point.window_end > now:
            return None
        length = max(point.window_end - point.window_start, 1)
        starts.append(point.window_end - rule.for_windows * length)
    return min(starts) if starts else False
