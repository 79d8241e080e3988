"""Demo stages up to a production model: data, a tracked sweep, search, registry, loading, audit."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from rich.progress import Progress

import shipyard
from shipyard.cli.demo.context import DemoState, make_data
from shipyard.cli.output import console, fmt_time, table

__all__ = ["audit", "load", "register", "search", "sweep", "version_data"]


def version_data(state: DemoState) -> pd.DataFrame:
    """Register the training table as a dataset version and infer its data contract."""
    x, y = make_data(state.rng)
    frame = x.assign(label=y)
    dataset = shipyard.data.register(state.data_name, frame, client=state.client)
    state.dataset_version = dataset.version
    contract = shipyard.data.infer_contract(f"{state.data_name}@{dataset.version}", client=state.client)
    report = shipyard.data.validate(frame.head(100).assign(f0=np.nan), contract, client=state.client)
    console.print(f"registered {state.data_name}@{dataset.version} ({dataset.num_rows} rows, digest "
                  f"{dataset.digest[:12]}); inferred contract with {len(contract.columns)} columns; "
                  f"a corrupted sample fails it: {len(report.violations)} violation(s), first: "
                  f"{report.violations[0].column} {report.violations[0].rule}")
    return frame


def _train(x: pd.DataFrame, y: np.ndarray, alpha: float, eta0: float, epochs: int,
           progress: Progress, task: object) -> object:
    """SGD logistic regression, one epoch per step, logging to the active run."""
    from sklearn.linear_model import SGDClassifier
    from sklearn.metrics import log_loss

    split = int(len(x) * 0.8)
    xt, yt, xv, yv = x[:split], y[:split], x[split:], y[split:]
    model = SGDClassifier(loss="log_loss", alpha=alpha, learning_rate="constant", eta0=eta0, random_state=0)
    for epoch in range(epochs):
        model.partial_fit(xt, yt, classes=np.array([0, 1]))
        shipyard.log_metrics({"train_loss": float(log_loss(yt, model.predict_proba(xt))),
                              "val_accuracy": float(np.mean(model.predict(xv) == yv))}, step=epoch)
        progress.advance(task)  # type: ignore[arg-type]
    return model


def sweep(state: DemoState, runs: int, epochs: int) -> None:
    """A tracked hyper-parameter sweep: params, per-epoch metrics, a model package per run."""
    grid = [(alpha, eta0) for eta0 in (0.001, 0.01, 0.1) for alpha in (0.0001, 0.01)][:runs]
    started = time.perf_counter()
    ref = f"{state.data_name}@{state.dataset_version}"
    with Progress(console=console) as progress:
        for alpha, eta0 in grid:
            task = progress.add_task(f"alpha={alpha} eta0={eta0}", total=epochs)
            with shipyard.start_run(state.experiment, tags={"demo": "sweep"}, client=state.client):
                train = shipyard.data.get(ref, client=state.client).to_pandas()  # read → lineage
                x, y = train.drop(columns="label"), train["label"].to_numpy()
                shipyard.log_params({"alpha": alpha, "eta0": eta0, "epochs": epochs})
                model = _train(x, y, alpha, eta0, epochs, progress, task)
                shipyard.log_model(model, input_example=x.head(5))
    console.print(f"tracked {len(grid)} runs, {len(grid) * epochs * 2} metric points and "
                  f"{len(grid)} model packages in {time.perf_counter() - started:.2f} s")


def search(state: DemoState, runs: int) -> list[object]:
    """The runs that beat a bar, best first, and the best run's downsampled loss curve."""
    page = state.client.search_runs(state.experiment, filter="metrics.val_accuracy > 0.5",
                                    order_by=["metrics.val_accuracy DESC"], max_results=runs)
    console.print(table("Runs with val_accuracy > 0.5, best first", ["run id", "alpha", "eta0", "val_accuracy"],
                        [[r.id, r.params["alpha"], r.params["eta0"], r.metrics["val_accuracy"].value]
                         for r in page.items]))
    if page.items:
        history = state.client.get_metric_history(page.items[0].id, "train_loss", max_points=6)
        console.print(table(f"train_loss of the best run (downsampled to {len(history)} points)",
                            ["step", "value"], [[m.step, m.value] for m in history]))
    return list(page.items)


def register(state: DemoState, ranked: list[object]) -> None:
    """Register the worst and the best run; a policy refuses the weaker one for production."""
    client, name = state.client, state.model_name
    best, worst = ranked[0], ranked[-1]
    state.best_run = best
    client.register_model(f"runs:/{worst.id}/model", name)  # type: ignore[attr-defined]
    client.register_model(f"runs:/{best.id}/model", name)  # type: ignore[attr-defined]
    client.set_promotion_policy(name, shipyard.PromotionPolicy(
        [shipyard.MinMetric("val_accuracy", 0.5), shipyard.BeatsHolder("val_accuracy", 0.0)]))
    client.set_alias(name, "production", 2, reason="best of the sweep")
    console.print(f"{name}@production → version 2 (run {best.id[:8]})")  # type: ignore[attr-defined]
    if worst.metrics["val_accuracy"].value < best.metrics["val_accuracy"].value:  # type: ignore[attr-defined]
        try:
            client.set_alias(name, "production", 1)
        except shipyard.PromotionRefused as refused:
            console.print(f"[yellow]promotion of version 1 refused[/yellow]:\n{refused}")
    client.set_alias(name, "production", 1, reason="demo: forced override", force=True)
    client.rollback_alias(name, "production", reason="demo: undo the override")


def load(state: DemoState) -> None:
    """Load the production model by alias and predict."""
    loaded = state.client.load_model(f"models:/{state.model_name}@production")
    x, _ = make_data(np.random.default_rng(1), n=3)
    proba = loaded.predict_proba(x)
    console.print(f"loaded models:/{state.model_name}@production ({loaded.flavor}); "
                  f"P(churn) for 3 rows: {np.round(proba[:, 1], 3).tolist()}")


def audit(state: DemoState) -> None:
    """The registry's audit trail, the production model's lineage and its card."""
    client, name = state.client, state.model_name
    console.print(table(f"History of {name}", ["when", "action", "before", "after", "reason"], [
        [fmt_time(e.at), e.action + (" (forced)" if e.forced else ""),
         (e.before or {}).get("version"), (e.after or {}).get("version"), e.reason]
        for e in client.model_history(name)]))
    graph = client.lineage(f"models:/{name}@production")
    console.print("lineage (upstream of the production model): "
                  + "; ".join(f"{e.src} -{e.relation}-> {e.dst}" for e in graph.upstream))
    card = client.model_card(f"models:/{name}@production")
    console.print(f"model card: {len(card.splitlines())} lines of Markdown "
                  f"({state.command} models card {name}@production)")
