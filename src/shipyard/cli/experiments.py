"""``shipyard experiments …``"""

from __future__ import annotations

import typer

from shipyard.cli.output import console, fmt_time, table
from shipyard.client import Client

app = typer.Typer(help="Experiments: named groups of runs.", no_args_is_help=True)


@app.command("list")
def list_(all_: bool = typer.Option(False, "--all", help="Include deleted experiments.")) -> None:
    """List experiments."""
    with Client() as client:
        exps = client.list_experiments(include_deleted=all_)
    console.print(table("Experiments", ["id", "name", "stage", "created"],
                        [[e.id, e.name, e.lifecycle_stage, fmt_time(e.created_at)] for e in exps]))


@app.command("create")
def create(name: str) -> None:
    """Create an experiment."""
    with Client() as client:
        exp = client.create_experiment(name)
    console.print(f"created experiment {exp.name!r} with id {exp.id}")
