"""Where units run: this process, local worker processes, or Ray tasks.

``"local"`` with one worker scores in the calling process, which has the model loaded
already: a worker process would spend seconds importing pandas and the model's library
before its first row. With more, it is a ``ProcessPoolExecutor`` whose processes load
the model once each and limit their native thread pools so N processes use N cores
(:func:`start_method` says how they start):

- ``fork`` on Linux when each worker gets one native thread anyway (a worker per core,
  the default): a forked worker has pandas, pyarrow and the model's library imported
  already, where a fresh interpreter spends two seconds or more importing them, a
  tenth of a ten-million-row job on two cores. A worker touches only its unit's files
  and the model. Arrow's thread pools and allocator, OpenBLAS and the interpreter
  re-arm themselves after ``fork``; OpenMP's pool does not (a forked child whose parent
  had used it hangs in its first parallel region with more than one thread), which
  is why a forked worker is held to one thread. A driver that has initialised CUDA
  never forks: CUDA cannot be used in a forked child.
- ``forkserver`` otherwise, so that workers get a share of the cores each (two workers
  on 16 cores: eight threads each), with nothing inherited from the driver.
- A script that calls from its top level, outside ``if __name__ == "__main__":``, gets
  ``fork`` on Linux whatever the share, as the pipelines' local executor does, since
  ``forkserver`` workers would run the script again.

``"ray"`` (``ray.init()``: ``RAY_ADDRESS``, a running cluster, or a local one) and
``"ray://host:port"`` (Ray Client) run each unit as a Ray task of one CPU, one task per
CPU at a time, spread over the nodes; a driver already connected to Ray is used as it
is and left connected. Units are small descriptions (file, row group, batches): the
data never passes through the driver.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from shipyard.errors import InvalidInput, MissingExtra, ShipyardError
from shipyard.pipelines._main_guard import unguarded_main_line
from shipyard.scoring._units import Unit
from shipyard.scoring._worker import ScoringJob, UnitResult, score_unit

__all__ = ["RayUnits", "check_executor", "default_workers", "local_units", "start_method", "worker_threads"]


def check_executor(executor: str) -> str:
    """``executor`` if it is ``local``, ``ray`` or ``ray://host:port``; InvalidInput otherwise."""
    if executor in ("local", "ray") or (isinstance(executor, str) and executor.startswith("ray://")
                                        and len(executor) > len("ray://")):
        return executor
    raise InvalidInput(f"executor must be 'local', 'ray' or 'ray://host:port', got {executor!r}",
                       field="executor")


def local_units(job: ScoringJob, units: Sequence[Unit], workers: int) -> Iterator[UnitResult]:
    """Run ``units`` on ``workers`` local workers (see the module docstring), yielding each
    result as it ends; at most two units per worker are queued, so a failure stops the job early."""
    if workers == 1:
        for unit in units:
            yield score_unit(job, unit)
        return
    method = start_method(workers)
    job = dataclasses.replace(job, threads=worker_threads(method, workers))
    context = multiprocessing.get_context(method)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: set[Future[UnitResult]] = set()
        queue = iter(units)
        try:
            while True:
                for unit in queue:
                    pending.add(pool.submit(score_unit, job, unit))
                    if len(pending) >= 2 * workers:
                        break
                if not pending:
                    return
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        except BaseException:
            for future in pending:
                future.cancel()
            raise


class RayUnits:
    """Ray tasks over units; connects on ``__enter__`` (unless connected) and disconnects
    on ``__exit__`` only what it connected."""

    def __init__(self, executor: str) -> None:
        try:
            import ray
        except ImportError:
            raise MissingExtra("ray", "ray") from None
        self._ray: Any = ray
        self.address = None if executor == "ray" else executor
        self._connected = False

    def __enter__(self) -> RayUnits:
        ray = self._ray
        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
            self._connected = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._connected and self._ray.is_initialized():
            self._ray.shutdown()
        self._connected = False

    def cpus(self) -> int:
        """The cluster's CPUs: how many units run at once."""
        return max(1, int(self._ray.cluster_resources().get("CPU", 1)))

    def run(self, job: ScoringJob, units: Sequence[Unit], workers: int) -> Iterator[UnitResult]:
        """Run ``units`` as tasks, at most ``workers`` in flight, yielding results as they end."""
        ray = self._ray
        # One task per CPU in flight, the next submitted as one ends: a unit goes to whichever
        # node frees first, so a slower node takes fewer (tasks queued ahead on a node stay
        # there). SPREAD: Ray's default packs tasks onto the driver's node first.
        remote = ray.remote(_on_ray_node).options(num_cpus=1, max_retries=2, scheduling_strategy="SPREAD")
        pending: list[Any] = []
        queue = iter(units)
        try:
            while True:
                for unit in queue:
                    pending.append(remote.remote(job, unit))
                    if len(pending) >= workers:
                        break
                if not pending:
                    return
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    yield self._get(ref)
        except BaseException:
            for ref in pending:
                with contextlib.suppress(Exception):  # already finished, or its node is gone
                    ray.cancel(ref, force=True)
            raise

    def _get(self, ref: Any) -> UnitResult:
        try:
            result: UnitResult = self._ray.get(ref)
        except Exception as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, ShipyardError):  # the task's own error, not Ray's wrapper
                raise cause from None
            raise
        return result


def _on_ray_node(job: ScoringJob, unit: Unit) -> UnitResult:
    """The Ray task: score the unit, naming the node that ran it."""
    import ray

    return dataclasses.replace(score_unit(job, unit), worker=f"ray node {ray.get_runtime_context().get_node_id()}")


def start_method(workers: int) -> str:
    """How ``workers`` local worker processes start: ``fork`` or ``forkserver`` (see the module docstring)."""
    if not sys.platform.startswith("linux"):
        return "forkserver"
    if unguarded_main_line() is not None:
        return "fork"  # forkserver workers would import the script again and score anew in each
    if workers >= default_workers() and not _cuda_initialised():
        return "fork"
    return "forkserver"


def _cuda_initialised() -> bool:
    torch: Any = sys.modules.get("torch")  # never imported here: only a driver that uses it can have set it up
    return torch is not None and bool(torch.cuda.is_initialized())


def worker_threads(method: str, workers: int) -> int:
    """Native threads each of ``workers`` processes started by ``method`` may use: a share
    of the cores, and one for a forked process (see the module docstring)."""
    return 1 if method == "fork" else max(1, default_workers() // workers)


def default_workers() -> int:
    """Local processes when none are asked for: one per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
