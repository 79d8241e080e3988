"""``shipyard scheduler``: run due pipeline schedules and monitor windows; also ``shipyard server --scheduler``."""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

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
        reports: list[object] = []
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


def _scheduler(client: Client, grace: float, skew: SkewChecks | None = None) -> Any:
    """The pipeline scheduler, whose every tick also runs the monitors' due windows and
    the feature-view skew checks that are due.

    Monitoring and features are added here, in the face, so the pipelines package never
    learns of them. After a tick, ``monitor_runs`` and ``skew_reports`` hold what that
    tick did beyond the pipeline fires it returns.
    """
    from shipyard.cli.monitor import run_due_monitors
    from shipyard.pipelines._scheduler import Fire, Scheduler, dataset_versions

    class WithMonitors(Scheduler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.monitor_runs: list[Any] = []
            self.skew_reports: list[Any] = []

        def tick(self) -> list[Fire]:
            fires = super().tick()
            self.monitor_runs = run_due_monitors(self.client)
            self.skew_reports = skew.run_due(self.client) if skew is not None else []
            return fires

    return WithMonitors(client, versions=dataset_versions(client), grace_s=grace)


def _done(fires: list[Any], monitor_runs: list[Any], skew_reports: list[Any]) -> list[str]:
    """One line per thing a tick did: a pipeline fire, a monitor that computed windows or
    failed, a skew check."""
    lines = [f"{fire.schedule} {fire.fire}: {fire.outcome} (run {fire.run_id})" for fire in fires]
    for result in monitor_runs:
        if result.error:
            lines.append(f"monitor {result.monitor}: failed: {result.error}")
        elif result.windows or result.relabelled:
            lines.append(f"monitor {result.monitor}: {len(result.windows)} windows computed, "
                         f"{len(result.relabelled)} relabelled")
    for report in skew_reports:
        lines.append(f"skew check of {report.view}: " + (f"no mismatch over {report.compared} entities" if report.ok
                     else f"{report.mismatches} mismatches over {report.compared} entities, "
                          f"{report.missing_online} missing online"))
    return lines


def scheduler(
    interval: float = typer.Option(30.0, min=0.0, help="seconds between looks at the schedules"),
    grace: float = typer.Option(300.0, min=0.0, help="a fire later than this many seconds is recorded as missed"),
    once: bool = typer.Option(False, "--once", help="handle what is due now, wait for those runs, say what ran, "
                                                    "and exit"),
    skew: list[str] = typer.Option([], "--skew", help="a feature view to check for online/offline skew "
                                                      "(repeatable)"),
    skew_every: float = typer.Option(3600.0, min=0.0, help="seconds between skew checks of each --skew view"),
) -> None:
    """Run pipeline schedules (cron and dataset triggers), monitors, and feature skew checks;
    each fire and window runs once."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("shipyard").setLevel(logging.INFO)  # ours in full; libraries' warnings only
    with Client() as client:
        loop = _scheduler(client, grace, SkewChecks(list(skew), skew_every) if skew else None)
        if once:
            fires = loop.tick()
            lines = _done(fires, loop.monitor_runs, loop.skew_reports)
            for line in lines:
                console.print(line, markup=False, highlight=False)
            loop.close()  # waits for the runs just launched
            for fire in fires:
                if fire.outcome == "ran":
                    console.print(f"run {fire.run_id}: {client.get_run(fire.run_id).status.value}", highlight=False)
            if not lines:
                console.print("nothing due")
            return
        console.print(f"scheduler: checking schedules every {interval:g}s (Ctrl-C stops)")
        with contextlib.suppress(KeyboardInterrupt):
            loop.run_forever(interval)


def start_background(config: Config, interval: float = 30.0) -> threading.Event:
    """Run the scheduler loop on a daemon thread (for ``shipyard server --scheduler``); set the
    returned event to stop it."""
    stop = threading.Event()

    def work() -> None:
        with Client(config) as client:
            _scheduler(client, 300.0).run_forever(interval, stop)

    threading.Thread(target=work, name="shipyard-scheduler", daemon=True).start()
    return stop
