"""``shipyard demo``: the main job, run on embedded defaults.

It shows what Shipyard does end to end so far: tracked training runs with params,
per-step metrics and artifacts, a search over them and a comparison of the best.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
import typer
from rich.progress import Progress

import shipyard
from shipyard.cli.output import console, table

__all__ = ["demo"]


def _make_data(rng: np.random.Generator, n: int = 4000, d: int = 20) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(size=(n, d))
    w = rng.normal(size=d)
    y = (x @ w + rng.normal(scale=2.0, size=n) > 0).astype(float)
    return x, y


def _train(x: np.ndarray, y: np.ndarray, lr: float, l2: float, epochs: int, progress: Progress, task: int):
    """Logistic regression by gradient descent, logging each epoch to the active run."""
    split = int(len(x) * 0.8)
    xt, yt, xv, yv = x[:split], y[:split], x[split:], y[split:]
    w = np.zeros(x.shape[1])
    for epoch in range(epochs):
        p = 1 / (1 + np.exp(-(xt @ w)))
        w -= lr * (xt.T @ (p - yt) / len(xt) + l2 * w)
        loss = float(-np.mean(yt * np.log(p + 1e-12) + (1 - yt) * np.log(1 - p + 1e-12)))
        pv = 1 / (1 + np.exp(-(xv @ w)))
        shipyard.log_metrics({"train_loss": loss, "val_accuracy": float(np.mean((pv > 0.5) == yv))}, step=epoch)
        progress.advance(task)
    return w


def demo(
    runs: int = typer.Option(6, help="How many training runs to track."),
    epochs: int = typer.Option(200, help="Epochs per run."),
) -> None:
    """Track a small hyper-parameter sweep, then search and compare the runs."""
    client = shipyard.Client()
    console.print(f"[bold]Shipyard demo[/bold] — stores: {client.config.database_url}, "
                  f"{client.config.artifacts_uri}")
    rng = np.random.default_rng(7)
    x, y = _make_data(rng)
    experiment = f"demo-{time.strftime('%Y%m%d-%H%M%S')}"
    grid = [(lr, l2) for lr in (0.05, 0.2, 0.8) for l2 in (0.0, 0.01)][:runs]
    started = time.perf_counter()
    with Progress(console=console) as progress:
        for lr, l2 in grid:
            task = progress.add_task(f"lr={lr} l2={l2}", total=epochs)
            with shipyard.start_run(experiment, tags={"demo": "sweep"}, client=client) as run:
                shipyard.log_params({"lr": lr, "l2": l2, "epochs": epochs})
                w = _train(x, y, lr, l2, epochs, progress, task)
                with tempfile.TemporaryDirectory() as tmp:
                    weights = Path(tmp) / "weights.json"
                    weights.write_text(json.dumps({"weights": w.round(6).tolist()}))
                    shipyard.log_artifact(weights, "model")
    elapsed = time.perf_counter() - started
    points = len(grid) * epochs * 2
    console.print(f"tracked {len(grid)} runs, {points} metric points in {elapsed:.2f} s")

    page = client.search_runs(experiment, filter="metrics.val_accuracy > 0.5",
                              order_by=["metrics.val_accuracy DESC"], max_results=3)
    console.print(table("Best runs (metrics.val_accuracy > 0.5, ordered DESC)",
                        ["run id", "lr", "l2", "val_accuracy", "train_loss"],
                        [[r.id, r.params["lr"], r.params["l2"], r.metrics["val_accuracy"].value,
                          r.metrics["train_loss"].value] for r in page.items]))
    best = page.items[0]
    history = client.get_metric_history(best.id, "train_loss", max_points=10)
    console.print(table(f"train_loss of {best.id[:8]} (downsampled to {len(history)} points)",
                        ["step", "value"], [[m.step, m.value] for m in history]))
    if len(page.items) >= 2:
        comparison = client.compare_runs([r.id for r in page.items])
        console.print(table("Comparison of the best runs", ["kind", "key", *[r.id[:8] for r in page.items]],
                            comparison.to_rows()))
    artifacts = client.list_artifacts(best.id)
    console.print(f"artifacts of the best run: {[a.path for a in artifacts]}")
    console.print(f"next: [bold]shipyard runs list {experiment}[/bold], "
                  f"[bold]shipyard runs show {best.id}[/bold]")
    client.close()
