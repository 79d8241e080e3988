"""The executor interface, the inline executor, and executors by name.

An executor runs :class:`~shipyard.pipelines._task.Task` objects somewhere and
reports through a :class:`concurrent.futures.Future`:

* ``init()`` acquires what it needs (worker processes, a Ray connection); idempotent;
* ``submit(task)`` returns at once; the future resolves to a
  :class:`~shipyard.pipelines._task.TaskResult` (a failure of the step is *inside*
  the result), or raises :class:`~shipyard.pipelines._errors.WorkerLost` when the
  process or node died, or :class:`~shipyard.pipelines._errors.StepTimeout` when it
  had to be killed for running too long;
* ``finalize(cancel=False)`` releases everything; ``cancel=True`` kills work in flight.

Executors queue what they cannot start yet and honour each task's resources.
:mod:`shipyard.pipelines._local_executor` and :mod:`shipyard.pipelines._ray_executor`
are the two backends; :class:`InlineExecutor` runs tasks in the caller's thread.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any, Protocol, runtime_checkable

from shipyard.errors import InvalidInput
from shipyard.pipelines._task import Task, TaskResult, execute_task

__all__ = ["Executor", "InlineExecutor", "executor_from_spec"]


@runtime_checkable
class Executor(Protocol):
    name: str

    def init(self) -> None: ...

    def submit(self, task: Task) -> Future[TaskResult]: ...

    def finalize(self, cancel: bool = False) -> None: ...


class InlineExecutor:
    """Runs each task at once in the calling thread, one at a time (no parallelism, no kill)."""

    name = "inline"

    def init(self) -> None:
        pass

    def submit(self, task: Task) -> Future[TaskResult]:
        future: Future[TaskResult] = Future()
        future.set_result(execute_task(task))
        return future

    def finalize(self, cancel: bool = False) -> None:
        pass

    def __enter__(self) -> InlineExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.finalize()


def executor_from_spec(spec: str | Executor | None, **options: Any) -> tuple[Executor, bool]:
    """An executor for ``"local"`` (default), ``"inline"``, ``"ray"`` or ``"ray://host:port"``
    (also a bare Ray address ``"ray:HOST:PORT"``), or the given instance; and whether the
    caller owns it (created here, so the caller finalizes it)."""
    if spec is None or spec == "local":
        from shipyard.pipelines._local_executor import LocalExecutor

        return LocalExecutor(**options), True
    if isinstance(spec, str):
        if spec == "inline":
            return InlineExecutor(), True
        if spec == "ray" or spec.startswith(("ray://", "ray:")):
            from shipyard.pipelines._ray_executor import RayExecutor

            address = None if spec == "ray" else spec if spec.startswith("ray://") else spec[len("ray:"):]
            return RayExecutor(address, **options), True
        raise InvalidInput(f"unknown executor {spec!r}: use 'local', 'inline', 'ray' or 'ray://host:port'",
                           field="executor")
    if isinstance(spec, Executor):
        return spec, False
    raise InvalidInput(f"executor must be a name or an Executor, got {type(spec).__name__}", field="executor")
