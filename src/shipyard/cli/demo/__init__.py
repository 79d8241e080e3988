"""``shipyard demo``: the main job, run on embedded defaults.

It walks the lifecycle as far as Shipyard reaches today, one module per stage:
:mod:`.lifecycle` (data, sweep, search, registry, loading, audit), :mod:`.serving`
(serving the production model, traffic, ground truth), :mod:`.monitoring` (drift,
performance, alerts, report), :mod:`.retrain` (the retraining pipeline, cached
re-run), :mod:`.closed_loop` (a continuous-training policy that retrains and rolls out on
its own, and stops a broken retrain), :mod:`.webui` (the web UI until Ctrl-C).
:mod:`.command` orders them. The stages are imported only when the demo
runs, so every other command starts without numpy and pandas.
"""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["demo"]


def demo(
    runs: int = typer.Option(6, help="How many training runs to track."),
    epochs: int = typer.Option(30, help="Epochs per run."),
    requests: int = typer.Option(800, help="Single-row requests sent to the served model."),
    out: Path | None = typer.Option(None, help="Folder for the demo's files; default: <home>/demo/<timestamp>."),
    serve: bool = typer.Option(True, "--serve/--no-serve",
                               help="Keep the web UI and the model serving at the end until Ctrl-C (--no-serve: end)."),
) -> None:
    """Walk the lifecycle: data → sweep → registry → serving → monitoring → retraining → audit →
    continuous training (drift → retrain → shadow → canary → promote, and a broken retrain stopped)."""
    from shipyard.cli.demo.command import run_demo

    run_demo(runs=runs, epochs=epochs, requests=requests, out=out, serve=serve)
