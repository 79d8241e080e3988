"""Lifecycle hooks: how tracking, the live view or anything else observes a pipeline run.

The runner calls every hook, synchronously and in order, from the thread that
runs the pipeline; a hook with slow work (database writes) hands it to its own
thread. The runner and the executors import nothing of tracking: the recorder
is one hook among others (:mod:`shipyard.pipelines._recording`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shipyard.pipelines._cache import CacheIndex
    from shipyard.pipelines._graph import Dag
    from shipyard.pipelines._task import InputRef, OutputRef, StepError, TaskResult

__all__ = ["PipelineHooks", "RunInfo", "StepState", "StepStatus"]


class StepState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    RETRYING = "retrying"
    DONE = "done"
    CACHED = "cached"
    FAILED = "failed"
    SKIPPED = "skipped"  # an upstream step failed
    CANCELLED = "cancelled"  # the run was interrupted

    @property
    def is_final(self) -> bool:
        return self in (StepState.DONE, StepState.CACHED, StepState.FAILED, StepState.SKIPPED,
                        StepState.CANCELLED)


@dataclass
class StepStatus:
    """The state of one node in one run, updated in place as the run goes."""

    node: str
    step: str
    state: StepState = StepState.PENDING
    attempt: int = 0
    cache_key: str | None = None
    inputs: dict[str, InputRef] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    output: OutputRef | None = None
    result: TaskResult | None = None
    errors: list[StepError] = field(default_factory=list)
    cached_from: str | None = None  # the run whose output a cache hit reused
    run_id: str | None = None  # the step's tracked run, once the recorder made it
    started_at: float | None = None
    ended_at: float | None = None

    @property
    def duration_s(self) -> float | None:
        if self.result is not None:
            return self.result.duration_s
        return None


@dataclass
class RunInfo:
    """One pipeline run, as hooks see it. A recorder sets ``run_id`` and ``cache``."""

    pipeline: str
    dag: Dag
    params: dict[str, Any]
    steps: dict[str, StepStatus]
    executor: str
    experiment: str | None = None
    target: str | None = None  # "path/to/file.py:name", when known
    resumed_from: str | None = None
    run_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    cache: CacheIndex | None = None
    started_at: float = 0.0
    status: str = "RUNNING"
    error: BaseException | None = None


class PipelineHooks:
    """Override what you need; every method is a no-op here."""

    def on_pipeline_start(self, run: RunInfo) -> None:
        """Before any step runs (the recorder creates the pipeline's run here)."""

    def on_step(self, run: RunInfo, status: StepStatus) -> None:
        """After ``status.state`` changed."""

    def on_pipeline_end(self, run: RunInfo) -> None:
        """After the last step; ``run.status`` is FINISHED or FAILED, ``run.error`` set if failed."""
