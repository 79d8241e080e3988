"""``shipyard demo``: the main job, run on embedded defaults.

It walks the lifecycle as far as Shipyard reaches today: a versioned dataset with an
inferred data contract, a tracked hyper-parameter
sweep (params, per-epoch metrics, model packages), a search over the runs, the
registry (register, a promotion policy that refuses a weaker model, promotion,
rollback), loading the production model by alias, its audit trail, lineage and card.
"""

from __future__ import annotations

import time

import numpy as np
import typer
from rich.progress import Progress
from rich.rule import Rule

import shipyard
from shipyard.cli.output import console, fmt_time, table

__all__ = ["demo"]


def _make_data(rng: np.random.Generator, n: int = 4000, d: int = 20) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(size=(n, d))
    w = rng.normal(size=d)
    y = (x @ w + rng.normal(scale=2.0, size=n) > 0).astype(int)
    return x, y


def _train(x: np.ndarray, y: np.ndarray, alpha: float, eta0: float, epochs: int,
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


def demo(
    runs: int = typer.Option(6, help="How many training runs to track."),
    epochs: int = typer.Option(30, help="Epochs per run."),
) -> None:
    """Track a sweep, register and promote the best model under a policy, load it by alias."""
    client = shipyard.Client()
    console.print(f"[bold]Shipyard demo[/bold] — stores: {client.config.database_url}, "
                  f"{client.config.artifacts_uri}")
    rng = np.random.default_rng(7)
    x, y = _make_data(rng)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    experiment, model_name = f"demo-{stamp}", f"demo-churn-{stamp}"
    grid = [(alpha, eta0) for eta0 in (0.001, 0.01, 0.1) for alpha in (0.0001, 0.01)][:runs]

    console.print(Rule("1. Version the data"))
    import pandas as pd

    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(x.shape[1])]).assign(label=y)
    data_name = f"demo-data-{stamp}"
    dataset = shipyard.datasets.register(data_name, frame, client=client)
    contract = shipyard.data.infer_contract(f"{data_name}@{dataset.version}", client=client)
    report = shipyard.data.validate(frame.head(100).assign(f0=np.nan), contract, client=client)
    console.print(f"registered {data_name}@{dataset.version} ({dataset.num_rows} rows, digest "
                  f"{dataset.digest[:12]}); inferred contract with {len(contract.columns)} columns; "
                  f"a corrupted sample fails it: {len(report.violations)} violation(s), first: "
                  f"{report.violations[0].column} {report.violations[0].rule}")

    console.print(Rule("2. Track a sweep"))
    started = time.perf_counter()
    with Progress(console=console) as progress:
        for alpha, eta0 in grid:
            task = progress.add_task(f"alpha={alpha} eta0={eta0}", total=epochs)
            with shipyard.start_run(experiment, tags={"demo": "sweep"}, client=client):
                train = shipyard.datasets.get(f"{data_name}@{dataset.version}", client=client).to_pandas()
                x, y = train.drop(columns="label").to_numpy(), train["label"].to_numpy()  # read → lineage
                shipyard.log_params({"alpha": alpha, "eta0": eta0, "epochs": epochs})
                model = _train(x, y, alpha, eta0, epochs, progress, task)
                shipyard.log_model(model, input_example=x[:5])
    console.print(f"tracked {len(grid)} runs, {len(grid) * epochs * 2} metric points and "
                  f"{len(grid)} model packages in {time.perf_counter() - started:.2f} s")

    console.print(Rule("3. Search"))
    page = client.search_runs(experiment, filter="metrics.val_accuracy > 0.5",
                              order_by=["metrics.val_accuracy DESC"], max_results=len(grid))
    console.print(table("Runs with val_accuracy > 0.5, best first", ["run id", "alpha", "eta0", "val_accuracy"],
                        [[r.id, r.params["alpha"], r.params["eta0"], r.metrics["val_accuracy"].value]
                         for r in page.items]))
    if not page.items:
        console.print("no run reached val_accuracy > 0.5")
        return
    best, worst = page.items[0], page.items[-1]
    history = client.get_metric_history(best.id, "train_loss", max_points=6)
    console.print(table(f"train_loss of the best run (downsampled to {len(history)} points)",
                        ["step", "value"], [[m.step, m.value] for m in history]))

    console.print(Rule("4. Register and promote under a policy"))
    client.register_model(f"runs:/{worst.id}/model", model_name)
    client.register_model(f"runs:/{best.id}/model", model_name)
    client.set_promotion_policy(model_name, shipyard.PromotionPolicy(
        [shipyard.MinMetric("val_accuracy", 0.5), shipyard.BeatsHolder("val_accuracy", 0.0)]))
    client.set_alias(model_name, "production", 2, reason="best of the sweep")
    console.print(f"{model_name}@production → version 2 (run {best.id[:8]})")
    if worst.metrics["val_accuracy"].value < best.metrics["val_accuracy"].value:
        try:
            client.set_alias(model_name, "production", 1)
        except shipyard.PromotionRefused as refused:
            console.print(f"[yellow]promotion of version 1 refused[/yellow]:\n{refused}")
    client.set_alias(model_name, "production", 1, reason="demo: forced override", force=True)
    client.rollback_alias(model_name, "production", reason="demo: undo the override")

    console.print(Rule("5. Load from the registry"))
    loaded = client.load_model(f"models:/{model_name}@production")
    proba = loaded.predict_proba(x[:3])
    console.print(f"loaded models:/{model_name}@production ({loaded.flavor}); "
                  f"P(churn) for 3 rows: {np.round(proba[:, 1], 3).tolist()}")

    console.print(Rule("6. Audit trail, lineage, card"))
    console.print(table(f"History of {model_name}", ["when", "action", "before", "after", "reason"], [
        [fmt_time(e.at), e.action + (" (forced)" if e.forced else ""),
         (e.before or {}).get("version"), (e.after or {}).get("version"), e.reason]
        for e in client.model_history(model_name)]))
    graph = client.lineage(f"models:/{model_name}@production")
    console.print("lineage (upstream of the production model): "
                  + "; ".join(f"{e.src} -{e.relation}-> {e.dst}" for e in graph.upstream))
    card = client.model_card(f"models:/{model_name}@production")
    console.print(f"model card: {len(card.splitlines())} lines of Markdown "
                  f"(shipyard models card {model_name}@production)")
    console.print(f"next: [bold]shipyard runs list {experiment}[/bold], "
                  f"[bold]shipyard models history {model_name}[/bold]")
    client.close()
