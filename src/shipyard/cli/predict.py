"""``shipyard predict MODEL_URI --input ds:NAME@V --output ds:NAME-scored``: batch scoring.

The scored rows become a new version of the output dataset; rows that fail the model's
signature checks are listed in the run's ``rejects.jsonl`` (see :mod:`shipyard.scoring`).
"""

from __future__ import annotations

import typer

from shipyard.cli.output import JSON_OPTION, console, console_err, print_json
from shipyard.client import Client

__all__ = ["predict"]

_MODEL = typer.Argument(..., help="models:/NAME/VERSION, models:/NAME@ALIAS or runs:/ID/PATH")
_INPUT = typer.Option(..., "--input", "-i", help="the dataset version to score: ds:NAME@VERSION")
_OUTPUT = typer.Option(..., "--output", "-o", help="the dataset the scored rows become a new version of: ds:NAME")
_EXECUTOR = typer.Option("local", "--executor", "-e", help="local (processes), ray, or ray://host:port")
_BATCH_ROWS = typer.Option(65_536, "--batch-rows", help="rows per Arrow batch read, checked and scored at once")
_WORKERS = typer.Option(None, "--workers", "-w", help="local processes (default: one per core), or Ray tasks "
                                                      "in flight (default: the cluster's CPUs)")
_PASSTHROUGH = typer.Option(None, "--passthrough", "-p", help="an input column outside the signature to carry "
                                                              "to the output (an id); repeatable")
_PREDICTION = typer.Option("prediction", "--prediction-column", help="the name of the prediction column")


def predict(model_uri: str = _MODEL, input: str = _INPUT, output: str = _OUTPUT, executor: str = _EXECUTOR,
            batch_rows: int = _BATCH_ROWS, workers: int | None = _WORKERS, passthrough: list[str] | None = _PASSTHROUGH,
            prediction_column: str = _PREDICTION, as_json: bool = JSON_OPTION) -> None:
    """Score a dataset version with a model into a new dataset version."""
    from shipyard.scoring import batch_predict

    def report(done: int, total: int) -> None:
        if not as_json:
            console_err.print(f"scored {done:,} of {total:,} rows", highlight=False)

    with Client() as client:
        result = batch_predict(model_uri, input, output, executor=executor, batch_rows=batch_rows, workers=workers,
                               passthrough=passthrough or (), prediction_column=prediction_column, client=client,
                               progress=report)
    if as_json:
        print_json({"output": result.output.uri, "run_id": result.run_id, "rows": result.rows,
                    "scored": result.scored, "rejected": result.rejected, "seconds": result.seconds,
                    "rows_per_s": result.rows_per_s, "executor": result.executor, "workers": result.workers,
                    "rejects": result.rejects_uri})
        return
    console.print(f"{result.output.uri}: {result.scored:,} rows scored, {result.rejected:,} rejected, "
                  f"{result.rows_per_s:,.0f} rows/s on {result.workers} {result.executor} worker(s); "
                  f"run {result.run_id}", highlight=False)
    if result.rejects_uri:
        console.print(f"rejects: {result.rejects_uri}", highlight=False)
