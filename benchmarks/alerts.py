"""Alerts benchmark: evaluating rules over 30 days of hourly monitor windows.

Three monitors, each with 720 hourly windows of 30 series (``drift_share``,
``accuracy``, ``error_rate``, ``p99_latency_ms``, ``rows`` and one
``feature_drift_score`` per each of 25 features): 64,800 stored points. Ten rules,
two of them over every monitor and every feature (75 label sets). Measured:

* the first evaluation, which fires alerts and posts each to a loopback webhook;
* a steady evaluation (nothing changes; what a scheduler pays every minute), reading
  only the last N windows of each series (the store's newest points bound the query),
  against the same with unbounded reads (every point of the series, the naive way);
* one more hourly window for every monitor, then an evaluation.

There is no peer: Prometheus evaluates rules over its own TSDB, a different job.
The unbounded read is the baseline.

    .venv/bin/python benchmarks/alerts.py [--postgres URL] [--days 30]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import Row, best_of, print_table, scratch_dir, step  # noqa: E402

from shipyard.alerting._engine import AlertEngine  # noqa: E402
from shipyard.alerting._notifiers import WebhookNotifier  # noqa: E402
from shipyard.alerting._rules import parse_rule  # noqa: E402
from shipyard.alerting._series import Point  # noqa: E402
from shipyard.alerting._sql_store import SqlAlertStore  # noqa: E402
from shipyard.monitoring._sql_store import SqlMonitorStore  # noqa: E402
from shipyard.store._db import Database  # noqa: E402
from shipyard.testing.alerts import HOUR, T0, webhook_receiver  # noqa: E402

MONITORS = ("churn", "fraud", "pricing")
FEATURES = [f"f{i:02d}" for i in range(25)]
RULES = [
    ("drift", "drift_share > 0.3 for 3 windows", "*"),
    ("features", "feature_drift_score > 0.2 for 2 windows", "*"),
    ("age", 'feature_drift_score{feature="f00"} > 0.1', "churn"),
    ("accuracy", "accuracy < 0.85 for 2 windows", "*"),
    ("accuracy-critical", "accuracy < 0.7", "churn"),
    ("errors", "error_rate > 0.01", "*"),
    ("latency", "p99_latency_ms > 200 for 3 windows", "*"),
    ("empty", "rows == 0", "*"),
    ("fraud-drift", "drift_share >= 0.5", "fraud"),
    ("pricing-latency", "p99_latency_ms > 150", "pricing"),
]


def window_points(monitor: str, index: int, rng: random.Random) -> list[Point]:
    start = T0 + index * HOUR
    late = index >= 700  # the last windows drift, so the first evaluation fires

    def p(series: str, value: float, **labels: str) -> Point:
        return Point(monitor, series, start, start + HOUR, value, labels)

    out = [p("drift_share", rng.uniform(0.35, 0.6) if late else rng.uniform(0, 0.2)),
           p("accuracy", rng.uniform(0.86, 0.95)), p("error_rate", rng.uniform(0, 0.005)),
           p("p99_latency_ms", rng.uniform(80, 140)), p("rows", float(rng.randint(900, 1100)))]
    out += [p("feature_drift_score", rng.uniform(0.25, 0.4) if late and i % 5 == 0 else rng.uniform(0, 0.1),
              feature=f) for i, f in enumerate(FEATURES)]
    return out


class Unbounded:
    """The series store without ``latest_points``: the engine reads every point of a series."""

    def __init__(self, store: SqlMonitorStore) -> None:
        self.store = store

    def write_points(self, points: Sequence[Point]) -> None:
        self.store.write_points(points)

    def query_points(self, monitor: str | None = None, series: str | None = None, *, since_ms: int | None = None,
                     until_ms: int | None = None, labels: Mapping[str, str] | None = None) -> list[Point]:
        return self.store.query_points(monitor, series, since_ms=since_ms, until_ms=until_ms, labels=labels)


def run(url: str, days: int) -> list[Row]:
    db = Database(url)
    db.ensure_schema()
    series, alerts = SqlMonitorStore(db), SqlAlertStore(db)
    windows = days * 24
    rng = random.Random(7)
    with step(f"writing {len(MONITORS) * windows * (5 + len(FEATURES)):,} points"):
        for monitor in MONITORS:
            series.write_points([pt for i in range(windows) for pt in window_points(monitor, i, rng)])
    for name, text, monitor in RULES:
        alerts.create_rule(parse_rule(text, name=name, monitor=monitor, notify="hook"), replace=True)
    rows: list[Row] = []
    with webhook_receiver() as hook:
        notifiers: dict[str, Any] = {"hook": WebhookNotifier(hook.url)}
        engine = AlertEngine(alerts, series, notifiers)
        now = T0 + windows * HOUR + 1
        started = time.perf_counter()
        fired = engine.evaluate(now)
        first = time.perf_counter() - started
        assert len(hook.received) == len(fired) > 0, (len(hook.received), len(fired))
        rows.append(Row(f"first evaluation (cold): {len(fired)} alerts fired and posted", first, None))
        steady = best_of(5, lambda: engine.evaluate(now + 60_000))
        naive = best_of(3, lambda: AlertEngine(alerts, Unbounded(series), notifiers).evaluate(now + 60_000))
        assert engine.evaluate(now + 60_000) == []
        rows.append(Row("steady evaluation, bounded reads (vs unbounded)", steady, naive, max_seconds=0.5))
        extra = [pt for monitor in MONITORS for pt in window_points(monitor, windows, rng)]
        started = time.perf_counter()
        series.write_points(extra)
        engine.evaluate(now + HOUR)
        rows.append(Row("one more hourly window (write + evaluate)", time.perf_counter() - started, None,
                        max_seconds=1.0))
    db.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", help="also run on this PostgreSQL URL (an empty database or schema)")
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    with scratch_dir("shipyard-alerts-") as tmp:
        print_table(run(f"sqlite:///{tmp / 'meta.db'}", args.days), peer="unbounded",
                    title=f"Alerts on SQLite: {len(RULES)} rules, {len(MONITORS)} monitors x {args.days} days hourly")
    if args.postgres:
        print_table(run(args.postgres, args.days), peer="unbounded", title="Alerts on PostgreSQL")


if __name__ == "__main__":
    main()
