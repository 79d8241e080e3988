"""Entry point of the ``shipyard`` command: the root app and error handling."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import typer

from shipyard.cli import (
    alerts,
    automation,
    build,
    ci,
    data,
    db,
    demo,
    deploy,
    experiments,
    features,
    gc,
    init,
    models,
    monitor,
    pipelines,
    predict,
    runs,
    scheduler,
    serve,
    server,
    tokens,
    tune,
    users,
)
from shipyard.cli.exit_codes import EPILOG, ExitCode, exit_code_for
from shipyard.cli.output import console_err
from shipyard.errors import ShipyardError

__all__ = ["app", "main", "walk"]

app = typer.Typer(
    name="shipyard",
    help="Shipyard: track, version, run, register, serve and monitor ML models.",
    epilog=EPILOG,
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
app.add_typer(automation.app, name="automation")
app.add_typer(users.app, name="users")
app.add_typer(tokens.app, name="tokens")
app.add_typer(deploy.app, name="deploy")
app.add_typer(ci.app, name="ci")
app.command("run")(pipelines.run_file)
app.command("scheduler")(scheduler.scheduler)
app.command("server")(server.serve_api)
app.command("serve")(serve.serve)
app.command("build")(build.build)
app.command("demo")(demo.demo)
app.command("gc")(gc.gc)
app.command("init")(init.init)
app.command("tune")(tune.tune_pipeline)
app.command("predict")(predict.predict)


def _print_version(value: bool) -> None:
    if value:
        from shipyard import __version__

        typer.echo(f"shipyard {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print the version of Shipyard and exit."),
) -> None:
    """Shipyard: track, version, run, register, serve and monitor ML models."""


def walk(command: Any = None, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command of the tree under ``command`` (default: the whole ``shipyard`` app),
    groups included, each with its path of names (``("models", "show")``)."""
    if command is None:
        command = typer.main.get_command(app)
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from walk(sub, (*path, name))


def main() -> None:
    """Run the CLI; a Shipyard error prints one line and exits with the status
    :func:`exit_code_for` gives it, a file the system refused (missing, unreadable) one
    line and status 1.

    Usage errors are reported by Click (status 2). When stdout is not a terminal, help
    and usage errors are plain text too, and help asked for by a bare group still goes
    to stdout.
    """
    command = typer.main.get_command(app)
    try:
        if sys.stdout.isatty():
            command(prog_name="shipyard")
        else:
            sys.exit(_run_plain(command))
    except ShipyardError as exc:
        _fail(f"{type(exc).__name__}: {exc}", exit_code_for(exc))
    except OSError as exc:  # a path the user named: missing, a folder, not allowed…
        _fail(f"{type(exc).__name__}: {exc}", ExitCode.ERROR)


def _run_plain(command: Any) -> int:
    """Run ``command`` with Click's plain help and usage errors; return the exit status."""
    for _, sub in walk(command):
        sub.rich_markup_mode = None
    try:
        status = command.main(prog_name="shipyard", standalone_mode=False)
    except typer.TyperException as exc:  # Click's usage errors
        if type(exc).__name__ == "NoArgsIsHelpError":  # "shipyard runs": help, as on a terminal
            typer.echo(exc.ctx.get_help())  # type: ignore[attr-defined]
        else:
            exc.show()  # type: ignore[attr-defined]
        return int(getattr(exc, "exit_code", ExitCode.USAGE))
    except typer.Abort:
        typer.echo("Aborted!", err=True)
        return ExitCode.ERROR
    return status if isinstance(status, int) else ExitCode.OK


def _fail(message: str, status: ExitCode) -> None:
    from rich.markup import escape

    console_err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(status)
