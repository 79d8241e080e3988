"""``shipyard tune PIPELINE_FILE --space space.yaml --metric NAME --n-trials N``.

Each trial runs the pipeline with its fixed parameters (``--param``) overlaid by the
trial's, scored by the metric ``--metric`` its steps log (a trial whose run logged no
such metric fails, naming the metrics it did log), or, with no ``--metric``, by the
pipeline's output, a number. The search run and its trials go to the pipeline's
experiment. The same ``--name`` resumes a search. There is no ``--pruner``: a trial is
one whole pipeline run and reports no intermediate values, so a pruner would have
nothing to decide on (``shipyard.tune`` prunes an objective that calls ``trial.report``).
``space.yaml`` maps parameter names to ranges::

    alpha: {loguniform: [0.001, 10]}
    depth: {randint: [2, 8]}
    kernel: {choice: [rbf, linear]}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from shipyard.cli.output import JSON_OPTION, console, fmt_value, print_json, table
from shipyard.cli.user_code import loading
from shipyard.client import Client
from shipyard.errors import InvalidInput

__all__ = ["tune_pipeline"]

_TARGET = typer.Argument(..., help="train.py, train.py:NAME or package.module:NAME")
_SPACE = typer.Option(..., "--space", help="a YAML file: {name: {uniform|loguniform|randint: [low, high]} | "
                                           "{choice: [...]}}")
_METRIC = typer.Option(None, "--metric", help="the metric a step logs (or the key of the pipeline's output) to "
                                               "score; a trial whose run has no such metric fails. Default: score "
                                               "the pipeline's output, a number")
_N_TRIALS = typer.Option(20, "--n-trials", help="trials in the search in all (a resumed search runs the rest)")
_DIRECTION = typer.Option("minimize", "--direction", help="minimize or maximize")
_SAMPLER = typer.Option("tpe", "--sampler", help="tpe, random, grid or cmaes")
_SEED = typer.Option(None, "--seed", help="the sampler's seed")
_NAME = typer.Option(None, "--name", help="the study's name: the same name resumes the search")
_EXECUTOR = typer.Option("local", "--executor", "-e", help="where trials run: local, ray, or ray://host:port")
_STEPS = typer.Option("inline", "--steps-executor", help="where each trial's steps run: inline, local, ray")
_PARAM = typer.Option(None, "--param", "-p", help="a fixed pipeline parameter key=value (JSON values allowed)")


def _read_space(path: Path) -> dict[str, Any]:
    import yaml

    from shipyard.tuning import space_from_mapping

    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise InvalidInput(f"cannot read the space file {str(path)!r}: {exc.strerror}", field="space") from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"the space file {str(path)!r} is not YAML: {exc}", field="space") from None
    return space_from_mapping(data)


def tune_pipeline(target: str = _TARGET, space: Path = _SPACE, metric: str | None = _METRIC,
                  n_trials: int = _N_TRIALS, direction: str = _DIRECTION, sampler: str = _SAMPLER,
                  seed: int | None = _SEED, name: str | None = _NAME, executor: str = _EXECUTOR,
                  steps_executor: str = _STEPS, param: list[str] | None = _PARAM,
                  as_json: bool = JSON_OPTION) -> None:
    """Search a pipeline's parameters: each trial is a pipeline run, scored by --metric.

    A trial whose run logged no --metric fails with the metrics it did log; with no
    --metric a trial is scored by the pipeline's output, a number. There is no
    --pruner: a trial is one whole pipeline run and reports no intermediate values, so
    there is nothing to prune on.
    """
    from shipyard.cli.pipelines import parse_params
    from shipyard.pipelines._loader import load_pipeline
    from shipyard.tuning import pipeline_objective, tune

    ranges = _read_space(space)
    fixed = parse_params(param)
    with loading(target):
        pipeline = load_pipeline(target)
    with Client() as client:
        objective = pipeline_objective(pipeline, metric, fixed, executor=steps_executor,
                                       client=client if executor == "local" else None)
        result = tune(objective, ranges, n_trials=n_trials, metric="objective" if metric is None else metric,
                      direction=direction, sampler=sampler, pruner="none", seed=seed, name=name,
                      experiment=pipeline.experiment or pipeline.name, executor=executor, client=client)
    if as_json:
        print_json({"study": result.study, "run_id": result.run_id, "metric": result.metric,
                    "best_value": result.best_value, "best_params": result.best_params,
                    "best_trial": result.best_trial, "best_run_id": result.best_run_id,
                    "complete": result.complete, "pruned": result.pruned, "failed": result.failed})
        return
    rows = [[k, str(v)] for k, v in result.best_params.items()]
    console.print(table(f"Best of {result.n_trials} trials: {result.metric} = {fmt_value(result.best_value)}",
                        ["param", "value"], rows))
    console.print(f"search {result.study}: run {result.run_id} ({result.complete} complete, {result.pruned} "
                  f"pruned, {result.failed} failed); best trial {result.best_trial}, run {result.best_run_id}")
