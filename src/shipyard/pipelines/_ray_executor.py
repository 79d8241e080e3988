"""The Ray executor: each step attempt is a Ray task with the step's resources.

Needs the ``ray`` extra (``pip install 'shipyard[ray]'``); without it, creating the
executor raises :class:`~shipyard.errors.MissingExtra`. ``address`` is passed to
``ray.init``: None starts or joins a local cluster (``RAY_ADDRESS`` is honoured by
Ray itself), ``"host:port"`` joins a cluster's GCS, ``"ray://host:port"`` goes
through Ray Client.

Tasks carry digests, not data: each worker reads its inputs from, and writes its
output to, the artifact store, so every node needs to reach the store (a shared
disk or S3) and the pipeline's code (the same files, or a ``runtime_env``). The
runner does the retrying: Ray's own task retries are off, and Ray's errors for a
dead worker or node (``WorkerCrashedError``, ``NodeDiedError``, ``ObjectLostError``…)
are translated here into :class:`~shipyard.pipelines._errors.WorkerLost`, which the
runner resubmits, so the step lands on a node that is still alive.

Through Ray Client (``ray://``), the cluster's client server starts one server
process per connection; with gRPC's fork handlers on, that process sometimes dies
as it starts ("Starting Ray client server failed", ray-project/ray#63202). Starting
the head node with ``GRPC_ENABLE_FORK_SUPPORT=false`` avoids it (the tests do).
"""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import Future
from typing import Any

from shipyard.errors import MissingExtra
from shipyard.pipelines._errors import WorkerLost
from shipyard.pipelines._task import Task, TaskResult, execute_task

__all__ = ["RayExecutor"]

# Ray's errors that mean "the worker or node went away", by class name (checked
# without importing each class, several of which moved between Ray releases).
_LOST = {"WorkerCrashedError", "NodeDiedError", "ObjectLostError", "OwnerDiedError", "ObjectFetchTimedOutError",
         "ObjectReconstructionFailedError", "ObjectReconstructionFailedMaxAttemptsExceededError",
         "RaySystemError", "TaskCancelledError", "ActorDiedError", "LocalRayletDiedError",
         "TaskUnschedulableError", "OutOfMemoryError"}


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise MissingExtra("ray", "ray") from None
    return ray


def _run_on_node(task: Task) -> TaskResult:
    """The Ray task: run the attempt, recording which node ran it."""
    import ray

    node = ray.get_runtime_context().get_node_id()
    return execute_task(task, host=f"ray:{node}")


class RayExecutor:
    """Runs tasks on a Ray cluster (see the module docstring).

    ``init_options`` are extra ``ray.init`` keyword arguments. The executor shuts
    Ray down in ``finalize`` only if it was the one that connected.
    """

    name = "ray"

    def __init__(self, address: str | None = None, *, init_options: dict[str, Any] | None = None) -> None:
        self._ray = _import_ray()  # fail at once, naming the extra
        self.address = address
        self.init_options = dict(init_options or {})
        self._remote: Any = None
        self._connected = False
        self._lock = threading.Lock()
        self._refs: dict[Any, tuple[Task, Future[TaskResult]]] = {}
        self._poller: threading.Thread | None = None
        self._stop = threading.Event()

    def __repr__(self) -> str:
        return f"RayExecutor(address={self.address!r})"

    def __enter__(self) -> RayExecutor:
        self.init()
        return self

    def __exit__(self, *exc: object) -> None:
        self.finalize(cancel=exc[0] is not None)

    def init(self) -> None:
        ray = self._ray
        with self._lock:
            if self._remote is not None:
                return
            if not ray.is_initialized():
                options = {"include_dashboard": False, "logging_level": "WARNING", "log_to_driver": False,
                           **self.init_options}
                ray.init(address=self.address, **options)
                self._connected = True
            self._remote = ray.remote(_run_on_node)
            self._stop.clear()
            self._poller = threading.Thread(target=self._poll, name="shipyard-ray-executor", daemon=True)
            self._poller.start()

    def submit(self, task: Task) -> Future[TaskResult]:
        if self._remote is None:
            self.init()
        r = task.resources
        options: dict[str, Any] = {"num_cpus": r.cpus, "num_gpus": r.gpus, "max_retries": 0,
                                   "retry_exceptions": False}
        if r.memory:
            options["memory"] = r.memory
        future: Future[TaskResult] = Future()
        future.set_running_or_notify_cancel()
        ref = self._remote.options(**options).remote(task)
        with self._lock:
            self._refs[ref] = (task, future)
        return future

    def _poll(self) -> None:
        # ray.wait works the same through Ray Client and a direct connection.
        ray = self._ray
        while not self._stop.is_set():
            with self._lock:
                refs = list(self._refs)
            if not refs:
                self._stop.wait(0.02)
                continue
            try:
                done, _ = ray.wait(refs, num_returns=1, timeout=0.2, fetch_local=False)
            except Exception:  # the connection itself failed: every task in flight is lost
                done = refs
            for ref in done:
                with self._lock:
                    task, future = self._refs.pop(ref)
                try:
                    future.set_result(ray.get(ref))
                except Exception as exc:
                    future.set_exception(self._translate(task, exc))

    @staticmethod
    def _translate(task: Task, exc: BaseException) -> BaseException:
        names = {cls.__name__ for cls in type(exc).__mro__}
        if names & _LOST:
            return WorkerLost(f"the Ray worker or node running step {task.node!r} was lost: "
                              f"{type(exc).__name__}: {str(exc)[:300]}", step=task.node)
        return exc

    def finalize(self, cancel: bool = False) -> None:
        ray = self._ray
        with self._lock:
            pending = list(self._refs.items())
        if cancel:
            for ref, (task, future) in pending:
                with contextlib.suppress(Exception):  # already finished, or its node is gone
                    ray.cancel(ref, force=True)
                if not future.cancel() and not future.done():
                    future.set_exception(WorkerLost(f"step {task.node!r} was cancelled", step=task.node))
            with self._lock:
                self._refs.clear()
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=5)
        self._remote = None
        if self._connected and ray.is_initialized():
            ray.shutdown()
        self._connected = False
