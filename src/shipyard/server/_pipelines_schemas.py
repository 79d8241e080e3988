"""What the pipeline routes (``/api/v1/pipelines``) answer, as OpenAPI schemas.

A pipeline run is a tracked run with one tag per step holding the step's latest state
(:mod:`shipyard.pipelines._recording`); these models are that record as the routes send
it, field for field, and forbid other fields. Times are integer milliseconds.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shipyard.tracking import RunStatus

__all__ = ["GraphNode", "PipelineGraph", "PipelineRun", "PipelineRunSummary", "PipelineStep", "StepError", "StepLog"]

_EXACT = ConfigDict(extra="forbid")


class StepError(BaseModel):
    """The exception of a step's last failed attempt (the message cut to 500 characters)."""

    model_config = _EXACT

    type: str
    message: str


class PipelineStep(BaseModel):
    """One step of a run: its latest state, and where its output came from."""

    model_config = _EXACT

    node: str
    step: str = Field(description="The step function's name")
    state: str = Field(description="pending, running, retrying, done, cached, failed, skipped or cancelled")
    attempt: int
    run_id: str | None = Field(description="The step's own run (null: it did not run, e.g. cached)")
    cache_hit: bool = Field(description="Its output was reused from an earlier run")
    cached_from: str | None = Field(description="The run whose output was reused")
    duration_s: float | None
    error: StepError | None
    inputs: dict[str, str] = Field(description="input name: the node it came from")
    output: dict[str, Any] | None = Field(description="The stored output: digest, serializer, size")


class PipelineRun(BaseModel):
    """A pipeline run with its steps, in the order of the pipeline's graph."""

    model_config = _EXACT

    run_id: str
    pipeline: str
    status: RunStatus
    start_time: int
    end_time: int | None
    params: dict[str, str]
    tags: dict[str, str]
    steps: list[PipelineStep]


class PipelineRunSummary(BaseModel):
    """A pipeline run in a list: how many of its steps are in each state."""

    model_config = _EXACT

    run_id: str
    pipeline: str
    status: RunStatus
    start_time: int
    end_time: int | None
    params: dict[str, str]
    step_states: dict[str, int] = Field(description="state: how many steps are in it")


class StepLog(BaseModel):
    """What a step printed, then the traceback of each failed attempt."""

    model_config = _EXACT

    run_id: str
    node: str
    text: str


class GraphNode(BaseModel):
    """One node of a pipeline's graph: the step it calls and the nodes whose outputs it reads."""

    model_config = _EXACT

    name: str
    step: str = Field(description="The step function's name")
    upstream: list[str] = Field(description="The nodes it reads from: the graph's edges end here")
    params: list[str] = Field(description="Its arguments given as constants")


class PipelineGraph(BaseModel):
    """The step graph of a run's pipeline, as its experiment last stored it (empty when none is)."""

    model_config = _EXACT

    run_id: str
    pipeline: str
    steps: list[GraphNode] = Field(description="In an order where each node follows those it reads from")
