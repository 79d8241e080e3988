"""The local executor: worker processes on this machine, independent steps in parallel.

Workers are started once (``forkserver``, so they never inherit the parent's
threads or open connections) and each runs one task at a time. A dispatcher
thread hands queued tasks to idle workers when their CPUs fit (a task takes
``ceil(cpus)`` of the ``processes`` slots), and watches every worker's pipe and
process sentinel at once:

* a result arriving resolves the task's future;
* a worker dying mid-task (SIGKILL, out of memory, ``os._exit``) is seen through
  its sentinel: the future raises :class:`~shipyard.pipelines.errors.WorkerLost`
  and a fresh worker takes its place;
* a task past ``timeout`` + a grace period (the step's own alarm failed to stop
  it, e.g. inside C code) gets its worker killed: the future raises ``StepTimeout``.

Workers ignore SIGINT: Ctrl-C in a terminal reaches the whole process group, and
it is the pipeline's runner that decides what an interrupt does.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from shipyard.errors import InvalidInput
from shipyard.pipelines.errors import StepTimeout, WorkerLost
from shipyard.pipelines.task import Task, TaskResult, execute_task

__all__ = ["LocalExecutor"]

_TIMEOUT_GRACE_S = 2.0


def _worker_main(conn: multiprocessing.connection.Connection) -> None:
    """A worker's loop: receive a task, run it, send the result; stop on None or EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from shipyard.store.artifacts import open_artifact_store

    stores: dict[tuple[str, str | None], Any] = {}
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        key = (task.store_uri, task.s3_endpoint_url)
        if key not in stores:
            stores[key] = open_artifact_store(task.store_uri, s3_endpoint_url=task.s3_endpoint_url)
        conn.send(execute_task(task, store=stores[key]))


@dataclass
class _Worker:
    process: Any
    conn: multiprocessing.connection.Connection
    task: Task | None = None
    future: Future[TaskResult] | None = None
    started: float = 0.0
    slots: int = 0
    alive: bool = True
    ran: bool = False  # has finished a task: a worker that dies before is a start-up failure


class LocalExecutor:
    """Runs tasks in ``processes`` worker processes (default: the number of CPUs).

    Usable as a context manager; a pipeline run given the name ``"local"`` creates
    and finalizes one itself.
    """

    name = "local"

    def __init__(self, processes: int | None = None, *, start_method: str | None = None) -> None:
        if processes is not None and (isinstance(processes, bool) or not isinstance(processes, int) or processes < 1):
            raise InvalidInput(f"The 'processes' parameter of LocalExecutor must be an int >= 1. "
                               f"Got {processes!r} instead.", field="processes")
        self.processes = processes or os.cpu_count() or 1
        methods = multiprocessing.get_all_start_methods()
        self.start_method = start_method or ("forkserver" if "forkserver" in methods else "spawn")
        self._ctx: Any = multiprocessing.get_context(self.start_method)
        self._lock = threading.Lock()
        self._queue: deque[tuple[Task, Future[TaskResult]]] = deque()
        self._workers: list[_Worker] = []
        self._wake_r, self._wake_w = multiprocessing.Pipe(duplex=False)
        self._thread: threading.Thread | None = None
        self._closing = False
        self._startup_deaths = 0
        self._broken: WorkerLost | None = None

    def __repr__(self) -> str:
        return f"LocalExecutor(processes={self.processes})"

    def __enter__(self) -> LocalExecutor:
        self.init()
        return self

    def __exit__(self, *exc: object) -> None:
        self.finalize(cancel=exc[0] is not None)

    # -- interface ---------------------------------------------------------------------

    def init(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._workers = [self._spawn() for _ in range(self.processes)]
            self._thread = threading.Thread(target=self._dispatch, name="shipyard-local-executor", daemon=True)
            self._thread.start()

    def submit(self, task: Task) -> Future[TaskResult]:
        if self._thread is None:
            self.init()
        future: Future[TaskResult] = Future()
        with self._lock:
            if self._closing:
                raise InvalidInput("this LocalExecutor has been finalized", field="executor")
            self._queue.append((task, future))
        # Hand it to an idle worker from this thread: one thread hop less per step. The
        # dispatcher only needs waking if it must queue the task or watch a new deadline.
        self._assign()
        if self._queue or task.timeout is not None:
            self._wake()
        return future

    def finalize(self, cancel: bool = False) -> None:
        with self._lock:
            if self._closing:
                return
            self._closing = True
            queued, self._queue = list(self._queue), deque()
        for _, future in queued:
            future.cancel()
        for worker in self._workers:
            if cancel and worker.task is not None:
                self._kill(worker)
            else:
                with contextlib.suppress(OSError):
                    worker.conn.send(None)
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for worker in self._workers:
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                self._kill(worker)
                worker.process.join(timeout=5)
            task, pending = self._release(worker)
            if pending is not None and task is not None and not pending.done():
                pending.set_exception(WorkerLost(f"step {task.node!r} was cancelled", step=task.node))
            if worker.alive:
                worker.alive = False
                worker.conn.close()

    # -- internals ---------------------------------------------------------------------

    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(target=_worker_main, args=(child,), name="shipyard-step-worker", daemon=True)
        process.start()
        child.close()
        return _Worker(process, parent)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send_bytes(b"x")

    @staticmethod
    def _kill(worker: _Worker) -> None:
        with contextlib.suppress(ProcessLookupError, TypeError):
            os.kill(worker.process.pid, signal.SIGKILL)

    def _free_slots(self) -> int:
        return self.processes - sum(w.slots for w in self._workers)

    def _assign(self) -> None:
        with self._lock:
            if self._closing:
                return
            if self._broken is not None:
                while self._queue:
                    _, future = self._queue.popleft()
                    if future.set_running_or_notify_cancel():
                        future.set_exception(self._broken)
                return
            for worker in self._workers:
                if not worker.alive or worker.task is not None or not self._queue:
                    continue
                free = self._free_slots()
                pick = next((i for i, (t, _) in enumerate(self._queue)
                             if min(self.processes, max(1, math.ceil(t.resources.cpus))) <= free), None)
                if pick is None:
                    return
                task, future = self._queue[pick]
                del self._queue[pick]
                if not future.set_running_or_notify_cancel():
                    continue
                worker.task, worker.future, worker.started = task, future, time.monotonic()
                worker.slots = min(self.processes, max(1, math.ceil(task.resources.cpus)))
                with contextlib.suppress(OSError):  # a dead worker: its sentinel reports it
                    worker.conn.send(task)

    def _release(self, worker: _Worker) -> tuple[Task | None, Future[TaskResult] | None]:
        task, future = worker.task, worker.future
        worker.task, worker.future, worker.slots = None, None, 0
        return task, future

    def _dispatch(self) -> None:
        while True:
            self._assign()
            if self._closing and all(w.task is None for w in self._workers):
                return
            waitables: list[Any] = [self._wake_r]
            for worker in self._workers:
                if worker.alive:
                    waitables += [worker.conn, worker.process.sentinel]
            ready = multiprocessing.connection.wait(waitables, timeout=self._next_deadline())
            if self._wake_r in ready:
                while self._wake_r.poll():
                    self._wake_r.recv_bytes()
            for i, worker in enumerate(list(self._workers)):
                if not worker.alive:
                    continue
                if worker.conn in ready:
                    try:
                        result = worker.conn.recv()
                    except (EOFError, OSError):
                        result = None
                    if result is not None:
                        worker.ran, self._startup_deaths = True, 0
                        _, future = self._release(worker)
                        if future is not None:
                            future.set_result(result)
                        continue
                if worker.process.sentinel in ready or not worker.process.is_alive():
                    self._replace(i, worker, None)
                elif worker.task is not None and worker.task.timeout is not None and \
                        time.monotonic() - worker.started > worker.task.timeout + _TIMEOUT_GRACE_S:
                    self._kill(worker)
                    worker.process.join(timeout=5)
                    self._replace(i, worker, StepTimeout(
                        f"step {worker.task.node!r} ran past its timeout of {worker.task.timeout:g} s and was killed",
                        step=worker.task.node, timeout=worker.task.timeout))

    def _replace(self, index: int, worker: _Worker, error: BaseException | None) -> None:
        task, future = self._release(worker)
        worker.alive = False
        worker.conn.close()
        code = worker.process.exitcode
        if not worker.ran:
            self._startup_deaths += 1
            if self._startup_deaths >= 3 * self.processes:
                # Respawning would loop forever: fail everything queued with the reason.
                self._broken = WorkerLost(
                    f"worker processes exit as they start (exit code {code}); a script that runs a pipeline "
                    "must do so under `if __name__ == \"__main__\":`, as with multiprocessing", exitcode=code)
        if not self._closing and self._broken is None:
            self._workers[index] = self._spawn()
        if future is not None and task is not None and not future.done():
            future.set_exception(error or WorkerLost(
                f"the worker process running step {task.node!r} died (exit code {code})",
                step=task.node, exitcode=code))

    def _next_deadline(self) -> float | None:
        now, soonest = time.monotonic(), None
        for worker in self._workers:
            if worker.task is not None and worker.task.timeout is not None:
                left = worker.started + worker.task.timeout + _TIMEOUT_GRACE_S - now
                soonest = left if soonest is None else min(soonest, left)
        return None if soonest is None else max(0.0, soonest)

