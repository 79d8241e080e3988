"""Entry point of the ``shipyard`` command: the root app and error handling."""

from __future__ import annotations

import sys

import typer

from shipyard.cli import (
    alerts,
    data,
    db,
    demo,
    experiments,
    features,
    models,
    monitor,
    pipelines,
    runs,
    scheduler,
    serve,
    server,
)
from shipyard.cli.output import console_err
from shipyard.errors import ShipyardError

__all__ = ["app", "main"]

app = typer.Typer(
    name="shipyard",
    help="Shipyard: track, version, run, register, serve and monitor ML models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(experiments.app, name="experiments")
app.add_typer(runs.app, name="runs")
app.add_typer(models.app, name="models")
app.add_typer(data.app, name="data")
app.add_typer(features.app, name="features")
app.add_typer(db.app, name="db")
app.add_typer(pipelines.app, name="pipelines")
app.add_typer(monitor.app, name="monitor")
app.add_typer(alerts.app, name="alerts")
app.command("run")(pipelines.run_file)
app.command("scheduler")(scheduler.scheduler)
app.command("server")(server.serve_api)
app.command("serve")(serve.serve)
app.command("demo")(demo.demo)


def main() -> None:
    """Run the CLI; a Shipyard error prints one line and exits with status 1.

    Usage errors are reported by Click itself (exit status 2).
    """
    try:
        app()
    except ShipyardError as exc:
        console_err.print(f"[red]error:[/red] {type(exc).__name__}: {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)
