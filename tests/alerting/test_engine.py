"""The alert engine: when rules fire and resolve, de-duplication, repeats, failures, races."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from shipyard.alerting import AlertEngine, AlertEvent, Point, SqlAlertStore, parse_rule
from shipyard.alerting._series import labels_key
from shipyard.errors import Unavailable
from shipyard.store import Database
from shipyard.testing.alerts import HOUR, T0, points


class MemorySeries:
    """A SeriesStore in a list; ``latest`` adds ``latest_points``; ``asked`` records each since_ms."""

    def __init__(self) -> None:
        self.points: dict[tuple[str, str, str, int], Point] = {}
        self.asked: list[int | None] = []

    def write_points(self, new: Sequence[Point]) -> None:
        for p in new:
            self.points[(p.monitor, p.series, labels_key(p.labels), p.window_start)] = p

    def query_points(self, monitor: str | None = None, series: str | None = None, *, since_ms: int | None = None,
                     until_ms: int | None = None, labels: Mapping[str, str] | None = None) -> list[Point]:
        self.asked.append(since_ms)
        found = [p for p in self.points.values()
                 if (monitor is None or p.monitor == monitor) and (series is None or p.series == series)
                 and (since_ms is None or p.window_end > since_ms) and (until_ms is None or p.window_end <= until_ms)
                 and all(p.labels.get(k) == v for k, v in (labels or {}).items())]
        return sorted(found, key=lambda p: (p.window_end, p.series, labels_key(p.labels)))


class MemorySeriesWithLatest(MemorySeries):
    def latest_points(self, monitor: str | None = None) -> list[Point]:
        newest: dict[tuple[str, str, str], Point] = {}
        for p in sorted(self.points.values(), key=lambda p: p.window_start):
            newest[(p.monitor, p.series, labels_key(p.labels))] = p
        return list(newest.values())


class Recorder:
    """A notifier that keeps what it was sent (and can be told to fail)."""

    def __init__(self, error: Exception | None = None) -> None:
        self.events: list[AlertEvent] = []
        self.error = error
        self._lock = threading.Lock()

    def notify(self, event: AlertEvent) -> None:
        with self._lock:
            self.events.append(event)
        if self.error is not None:
            raise self.error

    @property
    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'meta.db'}")
    database.ensure_schema()
    yield database
    database.dispose()


@pytest.fixture
def store(db: Database) -> SqlAlertStore:
    return SqlAlertStore(db)


def at(windows: int) -> int:
    return T0 + windows * HOUR + 1


def engine(store: SqlAlertStore, series: MemorySeries, **notifiers: Recorder) -> AlertEngine:
    return AlertEngine(store, series, notifiers)


@pytest.mark.parametrize("n", [1, 3])
def test_a_rule_fires_at_its_nth_consecutive_window_and_not_at_n_minus_one(store: SqlAlertStore, n: int) -> None:
    store.create_rule(parse_rule(f"drift_share > 0.3 for {n} windows", name="drift", monitor="churn", notify="r"))
    series, recorder = MemorySeries(), Recorder()
    run = engine(store, series, r=recorder)
    values = [0.9] * (n - 1)
    series.write_points(points("churn", "drift_share", [0.0, *values]))
    assert run.evaluate(at(n)) == []
    series.write_points(points("churn", "drift_share", [0.0, *values, 0.9]))
    assert [e.kind for e in run.evaluate(at(n + 1))] == ["firing"]
    assert recorder.kinds == ["firing"]


def test_a_gap_between_windows_or_an_empty_window_breaks_the_streak(store: SqlAlertStore) -> None:
    store.create_rule(parse_rule("accuracy < 0.8 for 2 windows", name="acc", monitor="churn", notify="r"))
    series, recorder = MemorySeries(), Recorder()
    run = engine(store, series, r=recorder)
    series.write_points(points("churn", "accuracy", [0.5]) + points("churn", "accuracy", [0.5], start=T0 + 2 * HOUR))
    assert run.evaluate(at(3)) == []  # windows 0 and 2 are not consecutive
    series.write_points(points("churn", "accuracy", [None], start=T0 + 3 * HOUR))
    assert run.evaluate(at(4)) == []  # no labels in window 3: no evidence either way
    series.write_points(points("churn", "accuracy", [0.6, 0.6], start=T0 + 4 * HOUR))
    assert [e.kind for e in run.evaluate(at(6))] == ["firing"]


def test_a_window_without_a_value_does_not_resolve_a_firing_alert(store: SqlAlertStore) -> None:
    store.create_rule(parse_rule("accuracy < 0.8", name="acc", monitor="churn", notify="r"))
    series, recorder = MemorySeries(), Recorder()
    run = engine(store, series, r=recorder)
    series.write_points(points("churn", "accuracy", [0.5, None, float("nan")]))
    assert [e.kind for e in run.evaluate(at(1))] == ["firing"]
    assert run.evaluate(at(3)) == []
    assert [a.state for a in store.list_alerts()] == ["firing"]
    series.write_points(points("churn", "accuracy", [0.9], start=T0 + 3 * HOUR))
    assert [e.kind for e in run.evaluate(at(4))] == ["resolved"]


def test_firing_again_after_resolution_counts_and_notifies_again(store: SqlAlertStore) -> None:
    store.create_rule(parse_rule("error_rate > 0.01", name="errors", monitor="churn", notify="r"))
    series, recorder = MemorySeries(), Recorder()
    run = engine(store, series, r=recorder)
    for i, value in enumerate([0.5, 0.5, 0.0, 0.0, 0.2]):
        series.write_points(points("churn", "error_rate", [value], start=T0 + i * HOUR))
        run.evaluate(at(i + 1))
        run.evaluate(at(i + 1))  # every evaluation twice: never a second message
    assert recorder.kinds == ["firing", "resolved", "firing"]
    [alert] = store.list_alerts()
    assert (alert.state, alert.count, alert.last_value) == ("firing", 2, 0.2)
    assert [e.kind for e in store.history("errors") if e.notifier is None] == ["fired", "resolved", "fired"]


def test_a_failing_notifier_does_not_stop_the_others(store: SqlAlertStore) -> None:
    store.create_rule(parse_rule("p99_latency_ms > 200", name="slow", notify=["broken", "down", "ok"]))
    series = MemorySeries()
    broken, down, ok = Recorder(RuntimeError("bug in a plugin")), Recorder(Unavailable("smtp down")), Recorder()
    series.write_points(points("churn", "p99_latency_ms", [250.0]))
    assert len(engine(store, series, broken=broken, down=down, ok=ok).evaluate(at(1))) == 1
    assert ok.kinds == broken.kinds == down.kinds == ["firing"]
    outcomes = {e.notifier: (e.kind, e.detail) for e in store.history("slow") if e.notifier}
    assert outcomes == {"broken": ("notify_failed", "RuntimeError: bug in a plugin"),
                        "down": ("notify_failed", "smtp down"), "ok": ("notified", "firing")}


def test_a_rule_without_notifiers_goes_to_the_log(store: SqlAlertStore, caplog: pytest.LogCaptureFixture) -> None:
    store.create_rule(parse_rule("drift_share > 0.3", name="drift", severity="critical"))
    series = MemorySeries()
    series.write_points(points("churn", "drift_share", [0.4]))
    with caplog.at_level("INFO", logger="shipyard.alerts"):
        engine(store, series).evaluate(at(1))
    [record] = [r for r in caplog.records if r.name == "shipyard.alerts"]
    assert record.levelname == "ERROR" and "[FIRING] drift (critical) on churn" in record.getMessage()
    assert [(e.kind, e.notifier) for e in store.history("drift")][0] == ("notified", "log")


def test_repeat_interval_renotifies_only_while_firing(store: SqlAlertStore) -> None:
    store.create_rule(parse_rule("drift_share > 0.3", name="drift", notify="r", repeat_interval="30m"))
    series, recorder = MemorySeries(), Recorder()
    run = engine(store, series, r=recorder)
    series.write_points(points("churn", "drift_share", [0.4]))
    run.evaluate(at(1))
    run.evaluate(at(1) + 29 * 60_000)
    run.evaluate(at(1) + 30 * 60_000)
    run.evaluate(at(1) + 31 * 60_000)
    run.evaluate(at(1) + 60 * 60_000)
    assert recorder.kinds == ["firing", "repeat", "repeat"]
    series.write_points(points("churn", "drift_share", [0.1], start=T0 + HOUR))
    run.evaluate(at(2) + 5 * HOUR)
    run.evaluate(at(2) + 9 * HOUR)
    assert recorder.kinds == ["firing", "repeat", "repeat", "resolved"]


def test_replacing_a_rule_retires_its_firing_alerts_without_notifying(store: SqlAlertStore) -> None:
    rule = parse_rule("drift_share > 0.3", name="drift", monitor="churn", notify="r")
    store.create_rule(rule)
    series, recorder = MemorySeries(), Recorder()
    series.write_points(points("churn", "drift_share", [0.4]))
    engine(store, series, r=recorder).evaluate(at(1))
    store.create_rule(rule.with_(threshold=0.5), replace=True)
    assert store.list_alerts() == [] and recorder.kinds == ["firing"]
    assert store.history("drift")[0].kind == "retired"
    assert engine(store, series, r=recorder).evaluate(at(1)) == []  # 0.4 no longer breaks the new rule


def test_points_after_now_are_not_seen(store: SqlAlertStore) -> None:
    store.create_rule(parse_rule("drift_share > 0.3", name="drift", notify="r"))
    series = MemorySeriesWithLatest()
    series.write_points(points("churn", "drift_share", [0.1, 0.9]))
    recorder = Recorder()
    assert engine(store, series, r=recorder).evaluate(at(1)) == []
    assert [e.window_end for e in engine(store, series, r=recorder).evaluate(at(2))] == [T0 + 2 * HOUR]


def test_reads_only_the_last_n_windows_when_the_store_knows_the_newest_points(store: SqlAlertStore) -> None:
    store.create_rule(parse_rule("drift_share > 0.3 for 3 windows", name="drift", monitor="*", notify="r"))
    series, recorder = MemorySeriesWithLatest(), Recorder()
    series.write_points(points("hourly", "drift_share", [0.1] * 500 + [0.9] * 3))
    weekly = 7 * 24 * HOUR
    series.write_points(points("weekly", "drift_share", [0.9] * 3, start=T0 - 3 * weekly + 503 * HOUR,
                               window=weekly))
    fired = engine(store, series, r=recorder).evaluate(at(503))
    assert sorted(e.monitor for e in fired) == ["hourly", "weekly"]
    # one query, reaching back three weekly windows (the longer of the two), not to T0
    assert series.asked == [T0 + 503 * HOUR - 3 * weekly]
    series.asked.clear()
    store.create_rule(parse_rule("accuracy < 0.5", name="acc", notify="r"))
    engine(store, series, r=recorder).evaluate(at(503))
    assert series.asked == [T0 + 503 * HOUR - 3 * weekly]  # no accuracy point anywhere: not even queried


def test_concurrent_evaluators_notify_each_transition_once(db_url: str) -> None:
    databases = [Database(db_url) for _ in range(4)]
    databases[0].ensure_schema()
    try:
        stores = [SqlAlertStore(d) for d in databases]
        stores[0].create_rule(parse_rule("drift_share > 0.3", name="drift", notify="r"))
        series, recorder = MemorySeries(), Recorder()
        for i in range(6):
            series.write_points(points("m", "drift_share", [0.9 if i % 2 == 0 else 0.1], start=T0 + i * HOUR,
                                       labels={"feature": "f"}))
            barrier = threading.Barrier(len(stores))

            def evaluate(s: SqlAlertStore, now: int = at(i + 1), wait: threading.Barrier = barrier) -> None:
                wait.wait()
                AlertEngine(s, series, {"r": recorder}).evaluate(now)

            threads = [threading.Thread(target=evaluate, args=(s,)) for s in stores]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert recorder.kinds == ["firing", "resolved"] * 3
        assert [e.kind for e in stores[0].history("drift") if e.notifier is None] == ["resolved", "fired"] * 3
    finally:
        for d in databases:
            d.dispose()
