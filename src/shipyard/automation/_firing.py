"""Which of a policy's triggers fire now, read from the stores they watch (no writes).

* ``alert`` — an alert of the rule is firing now;
* ``monitor`` — the series (with the trigger's labels, one label set at a time) is above
  (or below) the threshold in each of the last ``for_windows`` windows that have a value;
* ``schedule`` — a cron fire time fell after ``since_ms`` and at most ``now_ms``;
* ``dataset`` — the dataset's latest version was registered after ``since_ms``;
* ``manual`` — never here: a person starts such a run (``client.automation.request_run``).

``since_ms`` is when the policy last acted (its last run began, or the current version
was applied): schedules and datasets fire once per new event; alerts and monitors fire
while the condition holds, and the guards keep that from retraining too often.
``settled_ms``, when the policy's last run ended, bounds the monitor windows that count:
a window that ended before then measured the model that run replaced (or kept), and
windows are often computed late, so without the bound a promotion would be followed at
once by a retrain for the old model's accuracy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from shipyard.alerting import AlertStore
from shipyard.alerting._series import labels_key
from shipyard.automation._entities import AutomationRun
from shipyard.automation._policy import AutomationPolicy
from shipyard.automation._triggers import AlertTrigger, DatasetTrigger, MonitorTrigger, ScheduleTrigger, Trigger
from shipyard.datasets import DatasetStore
from shipyard.errors import NotFound
from shipyard.monitoring._backend import MonitorStore

__all__ = ["Firing", "TriggerSources", "firing", "settled_since"]

_LOOKBACK_WINDOWS = 4  # read this many times for_windows windows back: gaps (no value) are skipped


@dataclass(frozen=True)
class Firing:
    """One trigger that fires: its ``type`` and what was seen (``detail``, JSON)."""

    type: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, **self.detail}


@dataclass(frozen=True)
class TriggerSources:
    """The stores triggers read: alert states, monitored series (and monitors), datasets."""

    alerts: AlertStore
    monitoring: MonitorStore
    datasets: DatasetStore


def settled_since(runs: Iterable[AutomationRun]) -> int | None:
    """When the latest of ``runs`` that ended did (ms), or None: the ``settled_ms`` of :func:`firing`."""
    ended = [run.ended_at for run in runs if run.ended_at is not None]
    return max(ended) if ended else None


def firing(policy: AutomationPolicy, sources: TriggerSources, *, since_ms: int, now_ms: int,
           settled_ms: int | None = None) -> list[Firing]:
    """The triggers of ``policy`` that fire at ``now_ms`` (see the module docstring), in policy order."""
    found = []
    for trigger in policy.triggers:
        hit = _check(trigger, sources, since_ms, now_ms, settled_ms)
        if hit is not None:
            found.append(hit)
    return found


def _check(trigger: Trigger, sources: TriggerSources, since_ms: int, now_ms: int,
           settled_ms: int | None) -> Firing | None:
    if isinstance(trigger, AlertTrigger):
        return _alert(trigger, sources.alerts)
    if isinstance(trigger, MonitorTrigger):
        return _monitor(trigger, sources.monitoring, now_ms, settled_ms)
    if isinstance(trigger, ScheduleTrigger):
        return _schedule(trigger, since_ms, now_ms)
    if isinstance(trigger, DatasetTrigger):
        return _dataset(trigger, sources.datasets, since_ms)
    return None  # manual: a person asks


def _alert(trigger: AlertTrigger, alerts: AlertStore) -> Firing | None:
    live = [a for a in alerts.list_alerts(state="firing", rule=trigger.rule)]
    if not live:
        return None
    first = min(live, key=lambda a: a.started_at)
    return Firing("alert", {"rule": trigger.rule, "monitor": first.monitor, "fingerprint": first.fingerprint,
                            "firing_since": first.started_at, "value": first.last_value, "alerts": len(live)})


def _monitor(trigger: MonitorTrigger, monitoring: MonitorStore, now_ms: int, settled_ms: int | None) -> Firing | None:
    try:
        window_s = monitoring.get_monitor(trigger.monitor).window_s
    except NotFound:
        return None
    since = now_ms - _LOOKBACK_WINDOWS * (trigger.for_windows + 1) * window_s * 1000
    points = monitoring.query_points(trigger.monitor, trigger.series, since_ms=since,
                                     labels=dict(trigger.labels) or None)
    by_labels: dict[str, list[Any]] = {}
    for point in points:
        if settled_ms is not None and point.window_end <= settled_ms:
            continue  # measured before the last run ended: the model it judged may be gone
        if point.value is not None:  # a window with no value decides nothing
            by_labels.setdefault(labels_key(point.labels), []).append(point)
    for _, series in sorted(by_labels.items()):
        last = sorted(series, key=lambda p: p.window_end)[-trigger.for_windows:]
        if len(last) < trigger.for_windows:
            continue
        holds = [p.value > trigger.above if trigger.above is not None else p.value < trigger.below for p in last]
        if all(holds):
            threshold = {"above": trigger.above} if trigger.above is not None else {"below": trigger.below}
            return Firing("monitor", {"monitor": trigger.monitor, "series": trigger.series, "labels": last[-1].labels,
                                      **threshold, "values": [p.value for p in last],
                                      "window_ends": [p.window_end for p in last]})
    return None


def _schedule(trigger: ScheduleTrigger, since_ms: int, now_ms: int) -> Firing | None:
    import zoneinfo

    from croniter import croniter

    zone = zoneinfo.ZoneInfo(trigger.timezone)
    # The newest fire time not after now: a controller that was down fires once, not once per miss.
    after_now = dt.datetime.fromtimestamp((now_ms + 1) / 1000, zone)
    latest = int(croniter(trigger.cron, after_now).get_prev(dt.datetime).timestamp() * 1000)
    if latest <= since_ms or latest > now_ms:
        return None
    return Firing("schedule", {"cron": trigger.cron, "timezone": trigger.timezone, "fire_time": latest})


def _dataset(trigger: DatasetTrigger, datasets: DatasetStore, since_ms: int) -> Firing | None:
    try:
        latest = datasets.resolve(f"{trigger.dataset}@latest")
    except NotFound:
        return None
    if latest.created_at <= since_ms:
        return None
    return Firing("dataset", {"dataset": trigger.dataset, "version": latest.version,
                              "registered_at": latest.created_at})
