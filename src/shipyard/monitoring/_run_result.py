"""What one run of a monitor reports: the windows it computed, what still waits, what it alerted.

A :class:`MonitorRun` answers the questions a person running ``shipyard monitor run``
asks: which windows were computed (and stored), which ones had their performance
recomputed for late labels, which rows are logged but wait for their window to be
computed (:class:`Pending`: the window and when a run will compute it), what the
window still open looks like so far when that was asked for (:class:`PartialWindow`,
never stored), and which alerts the new points fired or resolved, with what became
of each notification. :meth:`MonitorRun.summary` says it in one line.

>>> run = MonitorRun("churn", pending=(Pending(1_767_225_600_000, 1_767_229_200_000, 1200, 1_767_229_260_000),))
>>> run.summary()
'up to date; 1200 rows waiting in the window 2026-01-01 00:00–01:00 UTC, computed from 01:01 UTC'
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from shipyard.alerting import AlertEvent, Point
from shipyard.monitoring._entities import MonitorWindow

__all__ = ["MonitorRun", "PartialWindow", "Pending", "with_alerts"]


@dataclass(frozen=True)
class Pending:
    """Rows logged in a window that is not computed yet: ``rows`` of ``[window_start,
    window_end)``, which a run computes from ``due_at`` (its end plus the monitor's
    ``delay_s``)."""

    window_start: int
    window_end: int
    rows: int
    due_at: int


@dataclass(frozen=True)
class PartialWindow:
    """A window not computed yet, computed on request from the rows logged so far.

    ``window`` has status ``partial`` (its ``detail`` says what a closed window's status
    would: why it is incomparable, the inputs the reference lacks); ``through`` is the
    time up to which rows are in it; ``points`` are its series as they stand. A partial
    window is never stored, so it is in no series, no report and no ``/metrics`` gauge,
    and each request computes it afresh.
    """

    window: MonitorWindow
    through: int
    points: tuple[Point, ...] = ()

    @property
    def values(self) -> dict[str, float | None]:
        """The window's series without labels (``rows``, ``drift_share``, ``accuracy``…) by name."""
        return {p.series: p.value for p in self.points if not p.labels}


@dataclass(frozen=True)
class MonitorRun:
    """What one run of a monitor did and what it left waiting.

    ``windows``: the windows computed and stored, oldest first; ``relabelled``: the
    starts of stored windows whose performance late labels recomputed; ``points``: how
    many points were stored; ``latest``: the newest computed window's series without
    labels; ``error``: why the run stopped, if it did. ``backlog``: closed windows left
    for the next run (a run computes at most ``max_windows``); ``pending``: the windows
    after those with rows logged but not computed yet; ``partial``: those same windows
    computed so far, when asked for (never stored); ``alerts``: the alert transitions
    the stored points caused, each with its notifiers' deliveries.
    """

    monitor: str
    windows: tuple[MonitorWindow, ...] = ()
    relabelled: tuple[int, ...] = ()
    points: int = 0
    latest: dict[str, float | None] = field(default_factory=dict)
    error: str | None = None
    pending: tuple[Pending, ...] = ()
    backlog: int = 0
    partial: tuple[PartialWindow, ...] = ()
    alerts: tuple[AlertEvent, ...] = ()

    @property
    def pending_rows(self) -> int:
        """Rows logged but in no computed window yet."""
        return sum(p.rows for p in self.pending)

    @property
    def failed_deliveries(self) -> list[tuple[AlertEvent, str, str | None]]:
        """``(alert, notifier, why)`` for each notification that did not go out."""
        return [(event, d.notifier, d.detail) for event in self.alerts for d in event.failed_deliveries]

    def summary(self) -> str:
        """One line: what was computed, what waits and until when, which alerts fired and
        which notifications failed. Times are UTC."""
        if self.error:
            parts = [f"failed: {self.error}"]
        elif self.windows:
            parts = [f"computed {len(self.windows)} window{'s' if len(self.windows) > 1 else ''} to "
                     f"{_time(self.windows[-1].window_end)} UTC"]
        else:
            parts = ["up to date" if not self.backlog else "nothing computed"]
        if self.relabelled:
            parts.append(f"late labels recomputed {len(self.relabelled)} window(s)")
        if self.backlog:
            parts.append(f"{self.backlog} closed window(s) left for the next run")
        for waiting in self.pending:
            parts.append(f"{waiting.rows} rows waiting in the window {_span(waiting.window_start, waiting.window_end)}"
                         f" UTC, computed from {_time(waiting.due_at, waiting.window_start)} UTC")
        for window in self.partial:
            shown = window.values
            drift = shown.get("drift_share")
            parts.append(f"partial window {_span(window.window.window_start, window.window.window_end)} so far: "
                         f"{window.window.rows} rows" + ("" if drift is None else f", drift share {drift:.3g}"))
        for event in self.alerts:
            failed = [d.notifier for d in event.failed_deliveries]
            sent = [d.notifier for d in event.deliveries if d.ok]
            text = f"alert {event.rule.name} {event.kind}"
            if sent:
                text += f", notified {', '.join(sent)}"
            if failed:
                text += f", NOT delivered to {', '.join(failed)}"
            parts.append(text)
        return "; ".join(parts)


def with_alerts(runs: Sequence[MonitorRun], events: Sequence[AlertEvent]) -> list[MonitorRun]:
    """``runs`` with each alert transition attached to the run of the monitor it concerns."""
    by_monitor: dict[str, list[AlertEvent]] = {}
    for event in events:
        by_monitor.setdefault(event.monitor, []).append(event)
    return [replace(run, alerts=run.alerts + tuple(by_monitor.get(run.monitor, ()))) for run in runs]


def _time(ms: int, same_day_as: int | None = None) -> str:
    """``2026-01-01 01:00``, or ``01:00`` when on the day of ``same_day_as``."""
    at = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    if same_day_as is not None and at.date() == dt.datetime.fromtimestamp(same_day_as / 1000, tz=dt.UTC).date():
        return at.strftime("%H:%M")
    return at.strftime("%Y-%m-%d %H:%M")


def _span(start: int, end: int) -> str:
    return f"{_time(start)}–{_time(end, start)}"
