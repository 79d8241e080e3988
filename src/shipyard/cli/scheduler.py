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


def _scheduler(client: Client, grace: float) -> object:
    """The pipeline scheduler, whose every tick also runs the monitors' due windows.

    Monitoring is added here, in the face, so the pipelines package never learns of it.
    """
    from shipyard.cli.monitor import run_due_monitors
    from shipyard.pipelines.scheduler import Fire, Scheduler, dataset_versions

    class WithMonitors(Scheduler):
        def tick(self) -> list[Fire]:
            fires = super().tick()
            run_due_monitors(self.client)
            return fires

    return WithMonitors(client, versions=dataset_versions(client), grace_s=grace)


def scheduler(
    interval: float = typer.Option(30.0, help="seconds between looks at the schedules"),
    grace: float = typer.Option(300.0, help="a fire later than this many seconds is recorded as missed"),
    once: bool = typer.Option(False, "--once", help="handle what is due now, wait for those runs, and exit"),
) -> None:
    """Run pipeline schedules (cron and dataset triggers) and monitors; each fire and window runs once."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with Client() as client:
        loop = _scheduler(client, grace)
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
