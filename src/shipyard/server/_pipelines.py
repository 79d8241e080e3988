"""Pipeline runs under ``/api/v1/pipelines``: read-only, over what the tracking store holds.

A pipeline run is recorded as a tracked run, each step's latest state in one of its tags
and each executed step as a child run with its captured output
(:mod:`shipyard.pipelines._recording`); these routes read that back through
:class:`~shipyard.pipelines._records.PipelineRuns`. Runs are listed newest first.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from shipyard.pipelines._records import PipelineRunRecord, PipelineRuns, StepRecord
from shipyard.server._pipelines_schemas import PipelineGraph, PipelineRun, PipelineRunSummary, StepLog
from shipyard.server._schemas import ERROR_ANSWERS, Page, answers
from shipyard.server._seek import MaxResults, PageToken, seek_page
from shipyard.tracking import RunStatus
from shipyard.tracking._codec import page_to_json

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/pipelines", responses=ERROR_ANSWERS)


def _runs(request: Request) -> PipelineRuns:
    runs: PipelineRuns = request.app.state.pipelines
    return runs


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


def _step_json(step: StepRecord) -> dict[str, Any]:
    return {"node": step.node, "step": step.step, "state": step.state, "attempt": step.attempt,
            "run_id": step.run_id, "cache_hit": step.state == "cached", "cached_from": step.cached_from,
            "duration_s": step.duration_s, "error": step.error, "inputs": step.inputs, "output": step.output}


def _summary_json(run: PipelineRunRecord) -> dict[str, Any]:
    states: dict[str, int] = {}
    for step in run.steps:
        states[step.state] = states.get(step.state, 0) + 1
    return {"run_id": run.run_id, "pipeline": run.pipeline, "status": run.status, "start_time": run.start_time,
            "end_time": run.end_time, "params": run.params, "step_states": states}


@router.get("/runs", responses=answers(Page[PipelineRunSummary]))
def list_runs(request: Request, pipeline: str | None = None, status: RunStatus | None = None,
              max_results: MaxResults = 100, page_token: PageToken = None) -> Response:
    """Pipeline runs (of ``pipeline``, in ``status``), newest first."""
    runs = _runs(request)
    page = seek_page(lambda after, n: runs.search(pipeline, status, after=after, limit=n),
                     lambda r: (r.start_time, r.run_id), max_results, page_token, (int, str))
    return _json(page_to_json(page, _summary_json))


@router.get("/runs/{run_id}", responses=answers(PipelineRun))
def get_run(run_id: str, request: Request) -> Response:
    """A pipeline run with each step's state, duration, cache hit and error (404 for a run of no pipeline)."""
    run = _runs(request).get(run_id)
    return _json({"run_id": run.run_id, "pipeline": run.pipeline, "status": run.status,
                  "start_time": run.start_time, "end_time": run.end_time, "params": run.params, "tags": run.tags,
                  "steps": [_step_json(s) for s in run.steps]})


@router.get("/runs/{run_id}/graph", responses=answers(PipelineGraph))
def get_graph(run_id: str, request: Request) -> Response:
    """The step graph of the run's pipeline as its experiment last stored it: each node, its step,
    its constant params and the nodes it reads from (no steps when none is stored)."""
    runs = _runs(request)
    record = runs.get(run_id)  # 404 for a run of no pipeline
    experiment = runs.store.get_experiment(runs.store.get_run(run_id).experiment_id)
    try:
        dag = json.loads(experiment.tags.get("shipyard.pipeline.dag") or "{}")
        steps = [{"name": str(s["name"]), "step": str(s.get("step", "")),
                  "upstream": [str(u) for u in s.get("upstream", [])], "params": [str(p) for p in s.get("params", [])]}
                 for s in dag.get("steps", [])]
    except (ValueError, TypeError, KeyError, AttributeError):
        steps = []  # an unreadable definition: the steps the run recorded still show
    return _json({"run_id": record.run_id, "pipeline": record.pipeline, "steps": steps})


@router.get("/runs/{run_id}/steps/{node}/log", responses=answers(StepLog))
async def step_log(run_id: str, node: str, request: Request) -> Response:
    """What step ``node`` printed, then its tracebacks (a step that did not run says so)."""
    logs = await run_in_threadpool(_runs(request).logs, run_id, node)
    return _json({"run_id": run_id, "node": node, "text": logs[node]})
