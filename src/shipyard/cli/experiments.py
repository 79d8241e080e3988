"""``shipyard experiments …``"""

from __future__ import annotations

import typer

from shipyard.cli.output import JSON_OPTION, console, fmt_time, print_json, table
from shipyard.client import Client

app = typer.Typer(help="Experiments: named groups of runs.", no_args_is_help=True)


@app.command("list")
def list_(all_: bool = typer.Option(False, "--all", help="Include deleted experiments."),
          as_json: bool = JSON_OPTION) -> None:
    """List experiments."""
    with Client() as client:
        exps = client.list_experiments(include_deleted=all_)
    if as_json:
        from shipyard.tracking._codec import experiment_to_json

        print_json({"items": [experiment_to_json(e) for e in exps]})
        return
    console.print(table("Experiments", ["id", "name", "stage", "created"],
                        [[e.id, e.name, e.lifecycle_stage, fmt_time(e.created_at)] for e in exps]))


@app.command("create")
def create(name: str) -> None:
    """Create an experiment."""
    with Client() as client:
        exp = client.create_experiment(name)
    console.print(f"created experiment {exp.name!r} with id {exp.id}", markup=False, highlight=False)
