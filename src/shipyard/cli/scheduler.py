"""``shipyard scheduler``: run due pipeline schedules and monitor windows; also ``shipyard server --scheduler``."""

from __future__ import annotations

import contextlib
import logging
import threading

import typer

from shipyard.cli.output import console
from shipyard.client import Client
from shipyard.config import Config

__all__ = ["scheduler", "start_background"]


class SkewChecks:
    """Feature-view skew checks run every ``every_s`` seconds on the scheduler's ticks.

    A check that finds mismatches logs a warning with the worst feature's rate; the
    full report is what ``shipyard features check-skew <view>`` prints.
    """

    def __init__(self, views: list[str], every_s: float, sample: int = 1000) -> None:
        self.views, self.every_s, self.sample = views, every_s, sample
        self._last: dict[str, float] = {}

    def run_due(self, client: Client, now: float | None = None) -> list[object]:
        import time

        from shipyard.errors import ShipyardError
        from shipyard.features import check_skew

        log = logging.getLogger("shipyard.scheduler")
        now = time.time() if now is None else now
        reports = []
        for view in self.views:
            if now - self._last.get(view, float("-inf")) < self.every_s:
                continue
            self._last[view] = now
            try:
                report = check_skew(client.feature_store, view, sample=self.sample)
            except ShipyardError as exc:
                log.warning("skew check of %s failed: %s", view, exc)
                continue
            reports.append(report)
            worst = max(report.features.values(), key=lambda f: f.mismatch_rate, default=None)
            if report.ok:
                log.info("skew check of %s: %d entities, no mismatch", view, report.compared)
            else:
                log.warning("skew check of %s: %d mismatches over %d entities (worst: %s %.1f%%), "
                            "%d missing online", view, report.mismatches, report.compared,
                            worst.name if worst else "-", 100 * (worst.mismatch_rate if worst else 0),
                            report.missing_online)
        return reports


def _scheduler(client: Client, grace: float, skew: SkewChecks | None = None) -> object:
    """The pipeline scheduler, whose every tick also runs the monitors' due windows and
    the feature-view skew checks that are due.

    Monitoring and features are added here, in the face, so the pipelines package never
    learns of them.
    """
    from shipyard.cli.monitor import run_due_monitors
    from shipyard.pipelines.scheduler import Fire, Scheduler, dataset_versions

    class WithMonitors(Scheduler):
        def tick(self) -> list[Fire]:
            fires = super().tick()
            run_due_monitors(self.client)
            if skew is not None:
                skew.run_due(self.client)
            return fires

    return WithMonitors(client, versions=dataset_versions(client), grace_s=grace)


def scheduler(
    interval: float = typer.Option(30.0, help="seconds between looks at the schedules"),
    grace: float = typer.Option(300.0, help="a fire later than this many seconds is recorded as missed"),
    once: bool = typer.Option(False, "--once", help="handle what is due now, wait for those runs, and exit"),
    skew: list[str] = typer.Option([], "--skew", help="a feature view to check for online/offline skew "
                                                      "(repeatable)"),
    skew_every: float = typer.Option(3600.0, help="seconds between skew checks of each --skew view"),
) -> None:
    """Run pipeline schedules (cron and dataset triggers), monitors, and feature skew checks;
    each fire and window runs once."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with Client() as client:
        loop = _scheduler(client, grace, SkewChecks(list(skew), skew_every) if skew else None)
        if once:
            fires = loop.tick()  # type: ignore[attr-defined]
            for fire in fires:
                console.print(f"{fire.schedule} {fire.fire}: {fire.outcome} (run {fire.run_id})")
            loop.close()  # type: ignore[attr-defined]
            return
        console.print(f"scheduler: checking schedules every {interval:g}s (Ctrl-C stops)")
        with contextlib.suppress(KeyboardInterrupt):
            loop.run_forever(interval)  # type: ignore[attr-defined]


def start_background(config: Config, interval: float = 30.0) -> threading.Event:
    """Run the scheduler loop on a daemon thread (for ``shipyard server --scheduler``); set the
    returned event to stop it."""
    stop = threading.Event()

    def work() -> None:
        with Client(config) as client:
            _scheduler(client, 300.0).run_forever(interval, stop)  # type: ignore[attr-defined]

    threading.Thread(target=work, name="shipyard-scheduler", daemon=True).start()
    return stop
