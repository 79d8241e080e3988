"""Experiment tracking: experiments, runs, params, metrics, tags and run artifacts.

Imports the storage layer and the base layer only. Public names are re-exported here.
"""

from shipyard.tracking._backend import TrackingStore
from shipyard.tracking._compare import RunComparison, compare_runs
from shipyard.tracking._entities import (
    ArtifactInfo,
    Experiment,
    LogBatch,
    Metric,
    Page,
    Run,
    RunStatus,
    ValueLimits,
    new_run_id,
    now_ms,
    validate_key,
    validate_run_id,
)
from shipyard.tracking._environment import capture_environment
from shipyard.tracking._records import RunRecord
from shipyard.tracking._system_metrics import SystemMetricsSampler
from shipyard.tracking._writer import BatchWriter

__all__ = [
    "ArtifactInfo",
    "BatchWriter",
    "Experiment",
    "LogBatch",
    "Metric",
    "Page",
    "Run",
    "RunComparison",
    "RunRecord",
    "RunStatus",
    "SystemMetricsSampler",
    "TrackingStore",
    "ValueLimits",
    "capture_environment",
    "compare_runs",
    "new_run_id",
    "now_ms",
    "validate_key",
    "validate_run_id",
]
