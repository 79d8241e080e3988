"""The ``shipyard demo`` command: runs the stages in lifecycle order on one client."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from rich.rule import Rule

import shipyard
from shipyard.cli.demo import features, lifecycle, monitoring, retrain, serving
from shipyard.cli.demo.context import DemoState
from shipyard.cli.output import console

__all__ = ["run_demo"]


def run_demo(*, runs: int, epochs: int, requests: int, out: Path | None) -> None:
    """Run every stage on the configured client (see ``shipyard demo --help``)."""
    client = shipyard.Client()
    console.print(f"[bold]Shipyard demo[/bold] — stores: {client.config.database_url}, "
                  f"{client.config.artifacts_uri}")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    workdir = out or Path(tempfile.mkdtemp(prefix="shipyard-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    state = DemoState(client=client, stamp=stamp, workdir=workdir, rng=np.random.default_rng(7),
                      experiment=f"demo-{stamp}", model_name=f"demo-churn-{stamp}", data_name=f"demo-data-{stamp}")
    try:
        console.print(Rule("1. Version the data"))
        lifecycle.version_data(state)
        console.print(Rule("2. Features: point-in-time training set, online store, skew"))
        features.feature_store(state)
        console.print(Rule("3. Track a sweep"))
        lifecycle.sweep(state, runs, epochs)
        console.print(Rule("4. Search"))
        ranked = lifecycle.search(state, runs)
        if not ranked:
            console.print("no run reached val_accuracy > 0.5")
            return
        console.print(Rule("5. Register and promote under a policy"))
        lifecycle.register(state, ranked)
        console.print(Rule("6. Load from the registry"))
        lifecycle.load(state)
        console.print(Rule("7. Serve the production model"))
        serving.serve_and_send_traffic(state, requests)
        console.print(Rule("8. Monitor: drift, late labels, alerts, report"))
        monitoring.monitor(state)
        console.print(Rule("9. Retrain as a pipeline, gate, promote"))
        retrain.retrain(state)
        console.print(Rule("10. Audit trail, lineage, card"))
        lifecycle.audit(state)
        console.print(f"next: [bold]shipyard runs list {state.experiment}[/bold], "
                      f"[bold]shipyard models history {state.model_name}[/bold], "
                      f"[bold]shipyard pipelines list[/bold]")
    finally:
        client.close()
