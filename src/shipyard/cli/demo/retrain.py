"""Demo stage: retrain as a pipeline on data that includes the shifted traffic, gate, promote.

The steps live at module level so the local executor's worker processes import them
by name. A second run with the same inputs is served entirely from the cache.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

import shipyard
from shipyard.cli.demo.context import DemoState, make_data
from shipyard.cli.output import console, table
from shipyard.pipelines import StepContext

__all__ = ["retrain"]


@shipyard.step
def load_training(data: Any) -> pd.DataFrame:
    """The dataset version's rows (the handle is recorded as the step's input)."""
    return data.to_pandas()


@shipyard.step
def fit(frame: pd.DataFrame, alpha: float, ctx: StepContext) -> Any:
    """Logistic regression on 80% of the rows; validation accuracy on the rest."""
    from sklearn.linear_model import SGDClassifier

    split = int(len(frame) * 0.8)
    x, y = frame.drop(columns="label"), frame["label"].to_numpy()
    model = SGDClassifier(loss="log_loss", alpha=alpha, random_state=0).fit(x.iloc[:split], y[:split])
    ctx.log_metric("val_accuracy", float(np.mean(model.predict(x.iloc[split:]) == y[split:])))
    return model


@shipyard.step
def evaluate(model: Any, frame: pd.DataFrame, ctx: StepContext) -> float:
    """Accuracy on the most recent (shifted) rows: what production sees now."""
    recent = frame.tail(1000)
    accuracy = float(np.mean(model.predict(recent.drop(columns="label")) == recent["label"].to_numpy()))
    ctx.log_metric("recent_accuracy", accuracy)
    return accuracy


@shipyard.pipeline
def retrain_churn(data: Any = None, alpha: float = 0.0001) -> Any:
    frame = load_training(data)
    return evaluate(fit(frame, alpha), frame)


def retrain(state: DemoState) -> None:
    """New data version (recent old rows + labelled shifted rows) → pipeline → register → gated promotion."""
    client = state.client
    old = client.get_dataset(f"{state.data_name}@{state.dataset_version}").to_pandas().tail(500)
    x, y = make_data(state.rng, n=4000, shift=1.5)
    version = client.register_dataset(state.data_name, pd.concat([old, x.assign(label=y)], ignore_index=True))
    handle = client.get_dataset(f"{state.data_name}@{version.version}")
    experiment = f"{state.experiment}-retrain"
    first = retrain_churn.run({"data": handle}, client=client, experiment=experiment)
    again = retrain_churn.run({"data": handle}, client=client, experiment=experiment)
    console.print(table("Retraining pipeline", ["step", "first run", "second run", "run id"], [
        [node, first.steps[node].state.value, again.steps[node].state.value, first.steps[node].run_id]
        for node in first.steps]))
    console.print(f"first run {first.duration_s:.2f} s, second run (same inputs, all cached) "
                  f"{again.duration_s:.2f} s; recent accuracy of the retrained model: {first.output:.3f}")
    fit_run = first.steps["fit"].run_id
    new = client.register_model(f"runs:/{fit_run}/outputs/fit", state.model_name)
    console.print(f"registered {state.model_name}/{new.version} from the pipeline")
    try:
        client.set_alias(state.model_name, "production", new.version, reason="retrained on shifted data")
        console.print(f"[green]promoted[/green] version {new.version} to production")
    except shipyard.PromotionRefused as refused:
        # The policy compares recorded metrics, and the holder's were measured before the
        # shift: settle it on the same recent, labelled rows, and record why.
        console.print(f"[yellow]the policy kept the current version[/yellow]:\n{refused}")
        recent, labels = make_data(state.rng, n=2000, shift=1.5)
        champion = client.load_model(f"models:/{state.model_name}@production")
        challenger = client.load_model(f"models:/{state.model_name}/{new.version}")
        scores = [float(np.mean(m.predict(recent) == labels)) for m in (champion, challenger)]
        if scores[1] > scores[0]:
            client.set_alias(state.model_name, "production", new.version, force=True,
                             reason=f"beats production on 2,000 recent labelled rows: "
                                    f"{scores[1]:.3f} vs {scores[0]:.3f}")
            console.print(f"on recent labelled rows the challenger scores {scores[1]:.3f} vs the champion's "
                          f"{scores[0]:.3f}: [green]promoted[/green] version {new.version}, override audited")
        else:
            console.print(f"on recent labelled rows the champion still wins ({scores[0]:.3f} vs {scores[1]:.3f})")
    state.summary.append(("retrain", f"dataset v{version.version}, model v{new.version}"))
