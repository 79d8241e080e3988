"""Reading pipelines back from tracking: definitions, runs, steps, logs (for the CLI and UIs).

The write side is :mod:`shipyard.pipelines._recording`; this module only reads
what it wrote, through the same client methods.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from shipyard.errors import InvalidInput, NotFound
from shipyard.pipelines._recording import PARAMS_TAG, STEP_TAG
from shipyard.tracking import RunStatus, TrackingStore

__all__ = [
    "PipelineDefinition",
    "PipelineRunRecord",
    "PipelineRuns",
    "StepRecord",
    "list_pipelines",
    "load_run",
    "step_logs",
]


@dataclass
class StepRecord:
    node: str
    step: str
    state: str
    attempt: int = 0
    run_id: str | None = None
    cached_from: str | None = None
    duration_s: float | None = None
    error: dict[str, Any] | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    output: dict[str, Any] | None = None


@dataclass
class PipelineRunRecord:
    run_id: str
    pipeline: str
    status: str
    start_time: int
    end_time: int | None
    params: dict[str, str]
    steps: list[StepRecord]
    tags: dict[str, str]


@dataclass
class PipelineDefinition:
    name: str
    experiment_id: str
    target: str | None
    dag: dict[str, Any] | None
    schedules: list[dict[str, Any]]


def load_run(client: Any, run_id: str) -> PipelineRunRecord:
    """A pipeline run with each step's latest state, in the order of the stored DAG.

    ``client`` is a :class:`~shipyard.Client` or a tracking store (``get_run`` and ``get_experiment``).
    """
    run = client.get_run(run_id)
    if PARAMS_TAG not in run.tags and run.tags.get("shipyard.kind") != "pipeline":
        raise NotFound(f"run {run_id!r} is not a pipeline run", resource="pipeline_run", run_id=run_id)
    record = _record(run)
    order = _dag_order(client, run.experiment_id)
    record.steps.sort(key=lambda s: order.get(s.node, len(order)))
    return record


def _record(run: Any) -> PipelineRunRecord:
    """The pipeline run a tracked run holds, its steps in node-name order."""
    steps = []
    for key, value in run.tags.items():
        if key.startswith(STEP_TAG):
            data = json.loads(value)
            steps.append(StepRecord(key[len(STEP_TAG):], data.get("step", ""), data.get("state", "?"),
                                    data.get("attempt", 0), data.get("run_id"), data.get("cached_from"),
                                    data.get("duration_s"), data.get("error"), data.get("inputs") or {},
                                    data.get("output")))
    steps.sort(key=lambda s: s.node)
    return PipelineRunRecord(run.id, run.tags.get("shipyard.pipeline", run.name), run.status.value, run.start_time,
                             run.end_time, dict(run.params), steps, dict(run.tags))


def _dag_order(client: Any, experiment_id: str) -> dict[str, int]:
    try:
        dag = json.loads(client.get_experiment(experiment_id).tags.get("shipyard.pipeline.dag", "{}"))
    except (ValueError, NotFound):
        return {}
    return {s["name"]: i for i, s in enumerate(dag.get("steps", []))}


def list_pipelines(client: Any) -> list[PipelineDefinition]:
    """Every pipeline that has run here (its experiment carries ``shipyard.pipeline``)."""
    from shipyard.pipelines._schedules import ScheduleBook

    out = []
    for experiment in client.list_experiments():
        name = experiment.tags.get("shipyard.pipeline")
        if not name:
            continue
        dag = experiment.tags.get("shipyard.pipeline.dag")
        out.append(PipelineDefinition(name, experiment.id, experiment.tags.get("shipyard.pipeline.target"),
                                      json.loads(dag) if dag else None,
                                      [s.to_json() for s in ScheduleBook.from_tags(name, experiment.tags)]))
    return sorted(out, key=lambda d: d.name)


def step_logs(client: Any, run_id: str, node: str | None = None) -> dict[str, str]:
    """Captured output (and tracebacks) of a pipeline run's steps, by node."""
    return PipelineRuns(client.tracking_store).logs(run_id, node)


def _quoted(text: str) -> str:
    """``text`` as a string literal of the run filter language."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


class PipelineRuns:
    """The pipeline runs a tracking store holds, read back for faces (the server, the CLI).

    Runs are listed newest first, by start time then run id; :meth:`search` continues after
    such a key, so runs started meanwhile never shift what a later page holds.
    """

    def __init__(self, store: TrackingStore) -> None:
        self.store = store

    def search(self, pipeline: str | None = None, status: str | None = None, *, after: tuple[int, str] | None = None,
             limit: int = 100) -> list[PipelineRunRecord]:
        """Pipeline runs (of ``pipeline``, in ``status``), at most ``limit``, past the run whose
        ``(start_time, run_id)`` is ``after``. Their steps are in node-name order."""
        if status is not None and status not in set(RunStatus):
            raise InvalidInput(f"status must be one of {', '.join(RunStatus)}, got {status!r}", field="status")
        experiments = [e.id for e in self.store.list_experiments()]
        if not experiments:
            return []
        where = "tags.`shipyard.kind` = 'pipeline'"
        where += "" if pipeline is None else f" and tags.`shipyard.pipeline` = {_quoted(pipeline)}"
        where += "" if status is None else f" and status = {_quoted(status)}"
        found = []
        if after is not None:
            # Runs that started in the same millisecond follow by id; there are never many.
            ties = self.store.search_runs(experiments, f"{where} and start_time = {after[0]}", max_results=50_000)
            found = [r for r in ties.items if r.id > after[1]][:limit]
            where += f" and start_time < {after[0]}"
        if len(found) < limit:
            found += self.store.search_runs(experiments, where, max_results=limit - len(found)).items
        return [_record(r) for r in found]

    def get(self, run_id: str) -> PipelineRunRecord:
        """One pipeline run, its steps in the order of the stored DAG (NotFound for any other run)."""
        return load_run(self.store, run_id)

    def logs(self, run_id: str, node: str | None = None) -> dict[str, str]:
        """Captured output (and tracebacks) of the run's steps (or of step ``node``), by node."""
        record = self.get(run_id)
        out: dict[str, str] = {}
        for s in record.steps:
            if node is not None and s.node != node:
                continue
            if s.run_id is None:
                out[s.node] = f"[{s.state}{' from run ' + s.cached_from if s.cached_from else ''}: no logs]\n"
                continue
            text = ""
            paths = {a.path for a in self.store.list_artifacts(s.run_id)}
            for path in ("logs.txt", "traceback.txt"):
                if path in paths:
                    text += b"".join(self.store.open_artifact(s.run_id, path)).decode(errors="replace")
            out[s.node] = text
        if node is not None and node not in out:
            raise NotFound(f"pipeline run {run_id!r} has no step {node!r}", resource="step", node=node)
        return out
