"""The demo's retraining pipeline: train on the newest labelled traffic, register the challenger.

An ordinary Shipyard pipeline that the continuous-training stage (:mod:`.closed_loop`)
runs once by hand, to train the first champion from ``training_data``, and that the
controller then runs for every retrain, passing ``labelled_data``: the served requests
of the recent window joined with the labels that came back. The newest ``recent_rows``
of them train the challenger; with fewer than ``min_rows`` the pipeline falls back to
``training_data``. ``shuffle_labels`` breaks the retrain on purpose (the labels are
permuted, so the model learns nothing), to show a bad challenger stopped before it
replaces the champion.

The steps live at module level, and the controller loads the pipeline by its target
(``shipyard.cli.demo.ct_pipeline:retrain_demo``), which its first run records.

>>> retrain_demo.name
'retrain_demo'
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from shipyard.pipelines import StepContext, pipeline, step

__all__ = ["FEATURES", "retrain_demo", "train"]

#: The inputs of the demo's drifting stream (:class:`shipyard.testing.closed_loop.DriftingStream`).
FEATURES = ("x0", "x1", "x2", "x3")


def train(frame: pd.DataFrame, *, shuffle_labels: bool = False, seed: int = 0) -> Any:
    """Scaled logistic regression of ``label`` on :data:`FEATURES`; ``shuffle_labels`` permutes the
    labels first (a model no better than chance)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = frame["label"].astype(np.int64).to_numpy()
    if shuffle_labels:
        y = np.random.default_rng(seed).permutation(y)
    return make_pipeline(StandardScaler(), LogisticRegression(random_state=seed)).fit(frame[list(FEATURES)], y)


@step(cache=False, inline=True)
def training_frame(training_data: str | None, labelled_data: str | None, recent_rows: int,
                   min_rows: int, ctx: StepContext) -> pd.DataFrame:
    """The newest ``recent_rows`` rows of ``labelled_data``, or all of ``training_data`` when the
    labelled window has fewer than ``min_rows``."""
    import shipyard
    from shipyard.errors import InvalidInput

    columns = [*FEATURES, "label"]
    if labelled_data:
        recent = shipyard.data.get(labelled_data).to_pandas()
        if "served_at" in recent.columns:
            recent = recent.sort_values("served_at", kind="stable")
        recent = recent.tail(recent_rows)
        ctx.log_metric("labelled_rows", len(recent))
        if len(recent) >= min_rows:
            return recent[columns].reset_index(drop=True)
    if not training_data:
        raise InvalidInput("no labelled window with enough rows and no training_data to fall back on",
                           field="training_data")
    return shipyard.data.get(training_data).to_pandas()[columns]


@step(cache=False, inline=True)
def fit(frame: pd.DataFrame, model: str, shuffle_labels: bool, labelled_data: str | None, ctx: StepContext) -> int:
    """Train (see :func:`train`) and register the result as a new version of ``model``; the version.

    The step registers the model itself, with an input example, so the version carries a
    column signature (serving logs each input as its own column, which the monitor and the
    labelled export read back), and names it in the ``shipyard.registered_model`` tag of
    the pipeline's run, where the controller looks for the challenger.
    """
    import shipyard

    fitted = train(frame, shuffle_labels=shuffle_labels)
    ctx.log_metric("training_rows", len(frame))
    with shipyard.Client() as client:
        run = client.create_run(f"{model}-models")
        info = client.log_model(run.id, fitted, "model", input_example=frame[list(FEATURES)].head(5),
                                registered_model_name=model)
        client.end_run(run.id)
        version = info.registered_version
        assert version is not None
        if labelled_data:
            _tag_pipeline_run(client, labelled_data, f"{model}/{version.version}")
    return int(version.version)


def _tag_pipeline_run(client: Any, labelled_data: str, tag: str) -> None:
    """Tag the running run of this pipeline that trains on ``labelled_data`` (a dataset version
    made for this retrain alone, so it tells that run from any other)."""
    experiment = client.get_experiment_by_name(retrain_demo.name)
    page = client.search_runs(experiment_ids=[experiment.id], max_results=10,
                              filter=f"params.labelled_data = '{labelled_data}' and attributes.status = 'RUNNING'")
    for found in page.items:
        client.set_tag(found.id, "shipyard.registered_model", tag)


@pipeline
def retrain_demo(model: str = "", training_data: str | None = None, labelled_data: str | None = None,
                 recent_rows: int = 1500, min_rows: int = 200, shuffle_labels: bool = False) -> Any:
    """Train on the recent labelled window (else ``training_data``) and register a version of ``model``."""
    # The runner hands each step its StepContext; mypy cannot know it.
    frame = training_frame(training_data, labelled_data, recent_rows, min_rows)  # type: ignore[call-arg]
    return fit(frame, model, shuffle_labels, labelled_data)  # type: ignore[call-arg]
