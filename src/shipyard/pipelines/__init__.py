"""Pipelines: plain typed functions as steps, a DAG from their data flow, cached, retried, recorded.

>>> import shipyard
>>> @shipyard.step(retries=2)
... def load(path: str) -> pd.DataFrame: ...                              # doctest: +SKIP
>>> @shipyard.step(cpus=2)
... def train(df: pd.DataFrame, lr: float) -> LogisticRegression: ...     # doctest: +SKIP
>>> @shipyard.pipeline
... def churn(path: str = "data.csv", lr: float = 0.1):
...     return train(load(path), lr)                                        # doctest: +SKIP
>>> result = churn.run({"lr": 0.2}, executor="local")                       # doctest: +SKIP

Modules: :mod:`~.step` (``@step``), :mod:`~.pipeline` (``@pipeline``, results),
:mod:`~.graph` (the DAG and its checks), :mod:`~.serializers`, :mod:`~.fingerprint`
and :mod:`~.cache` (cache keys), :mod:`~.task` (one attempt, as a worker runs it),
:mod:`~.executor` (the interface), :mod:`~.local_executor` (with :mod:`~.main_guard`), :mod:`~.ray_executor`
(the ``ray`` extra), :mod:`~.runner`, :mod:`~.hooks`, :mod:`~.recording` (tracking) and :mod:`~.step_runs`,
:mod:`~.records` (reading runs back), :mod:`~.view` (the live view), :mod:`~.schedules`,
:mod:`~.scheduler` and :mod:`~.liveness` (heartbeats, abandoned runs), :mod:`~.loader`.
"""

from shipyard.pipelines._cache import CacheEntry, CacheIndex, MemoryCacheIndex
from shipyard.pipelines._errors import (
    NoSerializer,
    PipelineDefinitionError,
    PipelineFailed,
    StepTimeout,
    WorkerLost,
)
from shipyard.pipelines._executor import Executor, InlineExecutor, executor_from_spec
from shipyard.pipelines._graph import Dag
from shipyard.pipelines._hooks import PipelineHooks, RunInfo, StepState, StepStatus
from shipyard.pipelines._local_executor import LocalExecutor
from shipyard.pipelines._pipeline import Pipeline, PipelineResult, pipeline
from shipyard.pipelines._serializers import Serializer, SerializerRegistry
from shipyard.pipelines._step import Resources, Step, StepContext, step

__all__ = [
    "CacheEntry",
    "CacheIndex",
    "Dag",
    "Executor",
    "InlineExecutor",
    "LocalExecutor",
    "MemoryCacheIndex",
    "NoSerializer",
    "Pipeline",
    "PipelineDefinitionError",
    "PipelineFailed",
    "PipelineHooks",
    "PipelineResult",
    "Resources",
    "RunInfo",
    "Serializer",
    "SerializerRegistry",
    "Step",
    "StepContext",
    "StepState",
    "StepStatus",
    "StepTimeout",
    "WorkerLost",
    "executor_from_spec",
    "pipeline",
    "step",
]
