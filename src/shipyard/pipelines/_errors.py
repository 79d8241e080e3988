"""Errors raised by pipelines, in the one tree rooted at :class:`~shipyard.errors.ShipyardError`::

    ShipyardError
    ├── InvalidInput
    │   ├── PipelineDefinitionError  a cycle, a missing input, a bad step option (``steps`` names them)
    │   └── NoSerializer             a value no registered serializer handles (``type_name``)
    ├── PipelineFailed               a step failed after its retries, or the run was interrupted
    │                                (``run_id``, ``step``, ``error_type``, ``traceback``)
    ├── StepTimeout                  a step ran past its ``timeout`` (a retryable step failure)
    └── WorkerLost                   the process or node running a step died (retried by the runner)

``StepTimeout`` and ``WorkerLost`` are what an executor's future raises; the runner
turns them into retries, and into a ``PipelineFailed`` once the retries are spent.
"""

from __future__ import annotations

from shipyard.errors import InvalidInput, ShipyardError

__all__ = ["NoSerializer", "PipelineDefinitionError", "PipelineFailed", "StepTimeout", "WorkerLost"]


class PipelineDefinitionError(InvalidInput):
    """The pipeline cannot run as defined; ``steps`` lists the steps concerned. Nothing ran."""


class NoSerializer(InvalidInput):
    """No registered serializer handles a value; ``type_name`` is its type."""


class PipelineFailed(ShipyardError):
    """A pipeline run ended FAILED. ``run_id`` is the tracked run (None when untracked),
    ``step`` the first step that failed (None if interrupted), ``traceback`` its traceback."""


class StepTimeout(ShipyardError):
    """A step ran longer than its ``timeout``; ``step`` and ``timeout`` say which and how long."""


class WorkerLost(ShipyardError):
    """The worker process or node running ``step`` died (killed, out of memory, node lost)."""
