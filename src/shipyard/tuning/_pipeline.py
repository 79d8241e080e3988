"""A pipeline as the objective of a search: each trial runs it with the trial's parameters.

``shipyard tune train.py --space space.yaml --metric auc --n-trials 30`` builds
:class:`PipelineObjective` over the file's pipeline: a trial runs the pipeline with
its fixed parameters overlaid by the trial's, and scores it by ``metric`` — the last
value a step logged under that name (``ctx.log_metric``; a cached step's from the run
that computed it), else the value under that key when the pipeline's output is a
mapping holding it. When neither has it, the trial fails with an error naming the
metric and the metrics the steps did log (a mistyped name is never scored by
something else). With no ``metric`` (``None``), the score is the pipeline's output,
which must then be a number. Each pipeline run is tagged with its trial's run
(``shipyard.tuning.trial_run``). A fixed parameter, or a parameter of the space, that
the pipeline does not take is refused with ``InvalidInput`` before any trial runs.

The other way round, a search inside a pipeline, is a step that calls
:func:`shipyard.tune` and returns the best parameters::

    @step
    def search(alpha_max: float) -> dict:
        result = shipyard.tune(objective, {"alpha": loguniform(1e-3, alpha_max)}, n_trials=30)
        return result.best_params

The search run and its trials land in the experiment given to ``tune``; the steps
after ``search`` take the best parameters as their input.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shipyard.errors import InvalidInput
from shipyard.tuning._trial import Trial

__all__ = ["PipelineObjective", "pipeline_objective", "score_pipeline_run"]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def score_pipeline_run(result: Any, metric: str | None, client: Any) -> float:
    """The score of a finished pipeline run (see the module docstring).

    InvalidInput naming ``metric`` when the run has no such metric (the message lists
    the metrics its steps logged), or, with no ``metric``, when its output is not a number.
    """
    if metric is None:
        if _number(result.output):
            return float(result.output)
        raise InvalidInput(f"pipeline run {result.run_id} returned {type(result.output).__name__}, not a number "
                           f"to score; name the metric a step logs to score by it instead", field="metric")
    value: float | None = None
    logged: set[str] = set()
    for status in result.steps.values():
        points = status.result.metrics if status.result else []
        logged.update(key for key, _, _ in points)
        values = [v for key, v, _ in points if key == metric]
        if values:
            value = values[-1]
        elif status.cached_from:
            metrics = client.tracking.get_run(status.cached_from).metrics
            logged.update(metrics)
            found = metrics.get(metric)
            value = found.value if found is not None else value
    if value is not None:
        return float(value)
    output = result.output
    if isinstance(output, Mapping) and _number(output.get(metric)):
        return float(output[metric])
    names = ", ".join(repr(k) for k in sorted(logged)) if logged else "none"
    raise InvalidInput(f"metric {metric!r}: no step of pipeline run {result.run_id} logged it (metrics logged: "
                       f"{names})", field="metric")


def _check_names(pipeline: Any, names: Mapping[str, Any], field: str) -> None:
    """``InvalidInput`` (field ``field.NAME``) for the first of ``names`` that ``pipeline``
    has no parameter for, listing the parameters it has."""
    known = getattr(pipeline, "parameters", None)
    if known is None:
        return
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise InvalidInput(f"{field}.{unknown[0]}: pipeline {pipeline.name!r} has no parameter {unknown[0]!r} "
                           f"(parameters: {', '.join(known) or 'none'})", field=f"{field}.{unknown[0]}")


class PipelineObjective:
    """Runs ``pipeline`` per trial (see the module docstring); picklable when its pipeline is.

    ``params`` are the pipeline's fixed parameters; ``executor`` runs its steps
    (``inline`` by default: a trial's steps in the trial's thread); ``client`` records
    the runs (default: the fluent API's client of the process running the trial).
    """

    def __init__(self, pipeline: Any, metric: str | None, params: Mapping[str, Any] | None = None,
                 executor: Any = "inline", client: Any = None) -> None:
        _check_names(pipeline, params or {}, "param")
        self.pipeline = pipeline
        self.metric = metric
        self.params = dict(params or {})
        self.executor = executor
        self.client = client

    def check_space(self, space: Mapping[str, Any]) -> None:
        """``InvalidInput`` naming the first parameter of ``space`` the pipeline does not take
        (:func:`~shipyard.tuning.tune` calls it before it stores anything)."""
        _check_names(self.pipeline, space, "space")

    def __call__(self, trial: Trial) -> float:
        client = self.client
        if client is None:
            from shipyard.fluent import get_client

            client = get_client()
        tags = {"shipyard.tuning.trial_run": trial.run_id} if trial.run_id else {}
        result = self.pipeline.run({**self.params, **trial.params}, client=client, executor=self.executor,
                                   tags=tags)
        return score_pipeline_run(result, self.metric, client)


def pipeline_objective(pipeline: Any, metric: str | None, params: Mapping[str, Any] | None = None,
                       executor: Any = "inline", client: Any = None) -> PipelineObjective:
    """An objective that runs ``pipeline`` with each trial's parameters and scores it by ``metric``
    (None: by its output, a number); see the module docstring."""
    return PipelineObjective(pipeline, metric, params, executor, client)
