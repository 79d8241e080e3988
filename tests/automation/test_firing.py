"""Which triggers fire: monitor windows measured before the last run ended do not count."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shipyard.alerting._series import Point
from shipyard.automation import AutomationPolicy
from shipyard.automation._entities import AutomationRun
from shipyard.automation._firing import TriggerSources, firing, settled_since

WINDOW_MS = 60_000
POLICY = AutomationPolicy.from_json({
    "name": "churn-retrain", "model": "churn",
    "triggers": [{"type": "monitor", "monitor": "churn-monitor", "series": "accuracy", "below": 0.8,
                  "for_windows": 2}],
    "retrain": {"pipeline": "train"}, "evaluation": {"metrics": ["accuracy"], "data": "churn-holdout"}})


@dataclass
class _Monitor:
    window_s: int = WINDOW_MS // 1000


class _Series:
    """The two reads a monitor trigger makes, over fixed points (a window's accuracy each)."""

    def __init__(self, values: list[float]) -> None:
        self.points = [Point("churn-monitor", "accuracy", (i - 1) * WINDOW_MS, i * WINDOW_MS, v)
                       for i, v in enumerate(values, start=1)]

    def get_monitor(self, name: str) -> _Monitor:
        return _Monitor()

    def query_points(self, monitor: str, series: str, since_ms: int, labels: Any = None) -> list[Point]:
        return [p for p in self.points if p.window_end >= since_ms]


def _sources(values: list[float]) -> TriggerSources:
    return TriggerSources(alerts=None, monitoring=_Series(values), datasets=None)  # type: ignore[arg-type]


def test_a_monitor_below_its_threshold_for_n_windows_fires() -> None:
    (fired,) = firing(POLICY, _sources([0.9, 0.7, 0.6]), since_ms=0, now_ms=3 * WINDOW_MS)
    assert fired.type == "monitor" and fired.detail["values"] == [0.7, 0.6]


def test_windows_that_ended_before_the_last_run_ended_do_not_fire_again() -> None:
    # The old model's bad windows, computed only after the run that replaced it had ended.
    sources = _sources([0.9, 0.7, 0.6])
    run = AutomationRun(id="r1", policy="churn-retrain", policy_version=1, state="promoted",
                        started_at=WINDOW_MS, updated_at=3 * WINDOW_MS, ended_at=3 * WINDOW_MS)
    settled = settled_since([run])
    assert settled == 3 * WINDOW_MS
    assert firing(POLICY, sources, since_ms=WINDOW_MS, now_ms=4 * WINDOW_MS, settled_ms=settled) == []
    assert firing(POLICY, sources, since_ms=WINDOW_MS, now_ms=4 * WINDOW_MS) != []  # unbounded, they would
    sources.monitoring.points += _Series([0.9, 0.7, 0.6, 0.7, 0.6]).points[3:]  # the new model, bad too
    assert firing(POLICY, sources, since_ms=WINDOW_MS, now_ms=6 * WINDOW_MS, settled_ms=settled) != []


def test_no_run_has_ended_yet_so_every_window_counts() -> None:
    run = AutomationRun(id="r1", policy="churn-retrain", policy_version=1, state="canary", started_at=0,
                        updated_at=WINDOW_MS)
    assert settled_since([run]) is None
