"""The retraining pipeline of the closed loop: train on recent labelled data, register the challenger.

An ordinary Shipyard pipeline, run once by hand to train the first champion (from the
dataset ``training_data`` names) and then by ``shipyard automation run`` for every
retrain, which passes ``labelled_data``: the window of served requests joined with the
labels that came back, as a dataset reference. The newest ``recent_rows`` labelled rows
train the challenger — what the model sees now, not what it saw a week ago; with fewer
than ``min_rows`` of them the pipeline falls back to ``training_data``.

``flip_labels`` breaks the retrain on purpose (the model learns inverted labels), to
prove a worse challenger is stopped before it replaces the champion.

The step ``fit`` registers its model as a version of :data:`MODEL` and names it in the
pipeline run's ``shipyard.registered_model`` tag, which is how the controller learns the
challenger.

>>> retrain_closed_loop.name
'retrain_closed_loop'
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from shipyard.pipelines import StepContext, pipeline, step
from shipyard.testing.closed_loop import FEATURES, train_model

__all__ = ["MODEL", "retrain_closed_loop"]

#: The registered model the pipeline's ``fit`` step registers a version of.
MODEL = "closed-loop"


@step(cache=False, inline=True)
def training_frame(training_data: str | None, labelled_data: str | None, recent_rows: int,
                   min_rows: int, ctx: StepContext) -> pd.DataFrame:
    """The newest ``recent_rows`` rows of ``labelled_data`` (inputs and ``label``), or, with fewer than
    ``min_rows`` of them, every row of ``training_data``."""
    import shipyard

    columns = [*FEATURES, "label"]
    if labelled_data:
        recent = shipyard.data.get(labelled_data).to_pandas()
        if "served_at" in recent.columns:
            recent = recent.sort_values("served_at", kind="stable")
        recent = recent.tail(recent_rows)
        ctx.log_metric("labelled_rows", len(recent))
        if len(recent) >= min_rows:
            ctx.set_tag("closed_loop.trained_on", labelled_data)
            return recent[columns].reset_index(drop=True)
    if not training_data:
        from shipyard.errors import InvalidInput

        raise InvalidInput("no labelled window with enough rows and no training_data to fall back on",
                           field="training_data")
    ctx.set_tag("closed_loop.trained_on", training_data)
    return shipyard.data.get(training_data).to_pandas()[columns]


@step(cache=False, inline=True)
def fit(frame: pd.DataFrame, flip_labels: bool, labelled_data: str | None, ctx: StepContext) -> int:
    """A classifier of ``frame`` (see :func:`~shipyard.testing.closed_loop.train_model`), registered
    as a new version of :data:`MODEL`; returns the version.

    The step registers the model itself, with an input example, so the version carries a
    column signature: serving validates requests against it and logs each input as its own
    column, which the monitors and the labelled export read back. It names the version in
    the ``shipyard.registered_model`` tag of the pipeline's run, which is where the
    controller looks for the challenger (see :func:`_tag_pipeline_run`).
    """
    import shipyard

    model = train_model(frame, flip_labels=flip_labels)
    ctx.log_metric("training_rows", len(frame))
    with shipyard.Client() as client:
        run = client.create_run(f"{MODEL}-models")
        info = client.log_model(run.id, model, "model", input_example=frame[list(FEATURES)].head(5),
                                registered_model_name=MODEL)
        client.end_run(run.id)
        version = info.registered_version
        assert version is not None
        tag = f"{MODEL}/{version.version}"
        ctx.set_tag("registered_model", tag)
        if labelled_data:
            _tag_pipeline_run(client, labelled_data, tag)
    return int(version.version)


def _tag_pipeline_run(client: Any, labelled_data: str, tag: str) -> None:
    """Tag ``shipyard.registered_model`` on the running run of this pipeline that trains on
    ``labelled_data``. A step's own tags are recorded under ``step.``, so a step that
    registers a version itself names it on its pipeline's run; the labelled window's
    dataset version (a new one per retrain) tells that run from any other."""
    from shipyard.errors import NotFound

    try:
        experiment = client.get_experiment_by_name(retrain_closed_loop.name)
    except NotFound:
        return
    page = client.search_runs(experiment_ids=[experiment.id], max_results=10,
                              filter=f"params.labelled_data = '{labelled_data}' and attributes.status = 'RUNNING'")
    for found in page.items:
        client.set_tag(found.id, "shipyard.registered_model", tag)


@pipeline
def retrain_closed_loop(training_data: str | None = None, labelled_data: str | None = None,
                        recent_rows: int = 3000, min_rows: int = 200, flip_labels: bool = False) -> Any:
    """Train on the recent labelled window (else ``training_data``) and register the model."""
    # The runner hands each step its StepContext; mypy cannot know it.
    frame = training_frame(training_data, labelled_data, recent_rows, min_rows)  # type: ignore[call-arg]
    return fit(frame, flip_labels, labelled_data)  # type: ignore[call-arg]
