"""The local executor: worker processes on this machine, independent steps in parallel.

Workers are started once (``forkserver``, so they never inherit the parent's
threads or open connections) and each runs one task at a time. A dispatcher
thread hands queued tasks to idle workers when their CPUs fit (a task takes
``ceil(cpus)`` of the ``processes`` slots), and watches every worker's pipe and
process sentinel at once:

* a result arriving resolves the task's future;
* a worker dying mid-task (SIGKILL, out of memory, ``os._exit``) is seen through
  its sentinel: the future raises :class:`~shipyard.pipelines._errors.WorkerLost`
  and a fresh worker takes its place;
* a task past ``timeout`` + a grace period (the step's own alarm failed to stop
  it, e.g. inside C code) gets its worker killed: the future raises ``StepTimeout``.

Workers ignore SIGINT: Ctrl-C in a terminal reaches the whole process group, and
it is the pipeline's runner that decides what an interrupt does.

A script that runs a pipeline from its top level without ``if __name__ ==
"__main__":`` cannot have ``forkserver`` (or ``spawn``) workers: each would import
the script again and start the pipeline anew. Unless a start method was asked for,
such a script gets workers made by ``fork`` where that is safe (Linux), which start
from the script as it already is, and elsewhere one thread of its own process
that runs the steps one at a time (``"thread"``; a step's timeout is not enforced
there). Guarded scripts, modules and interactive sessions are unaffected.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import sys
import threading
import time
import warnings
from collections import OrderedDict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from shipyard.errors import InvalidInput
from shipyard.pipelines._errors import StepTimeout, WorkerLost
from shipyard.pipelines._main_guard import unguarded_main_line
from shipyard.pipelines._task import AttemptSampling, Task, TaskResult, execute_task

__all__ = ["LocalExecutor"]

_TIMEOUT_GRACE_S = 2.0
_REGISTRIES_KEPT = 8  # serializer registries a worker keeps (a run has one)


def _worker_main(conn: multiprocessing.connection.Connection,
                 inherited: tuple[multiprocessing.connection.Connection, ...] = ()) -> None:
    """A worker's loop: receive a task, run it, send the result; stop on None or EOF.

    A task arrives as ``(token, registry pickle or None, task without its registry)``:
    the serializer registry (with its client factory, the bulk of a task's pickle)
    crosses once per worker, then by token (see :class:`_Registries`). ``inherited``
    are the parent's pipe ends a forked worker got copies of: closed at once, so that
    every pipe still reports EOF when the parent goes.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for end in inherited:
        end.close()
    from shipyard.store.artifacts import open_artifact_store

    registries: OrderedDict[int, Any] = OrderedDict()
    stores: dict[tuple[str, str | None], Any] = {}
    # Resolving a function checks its module's file on disk (a few stats per call): once per
    # worker is enough. A script run as __main__ is resolved afresh, as before.
    functions: dict[Any, Any] = {}
    sampling = AttemptSampling()  # one system-metrics thread for all the worker's attempts
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            break
        if message is None:
            break
        token, registry, task = message
        if registry is not None:
            registries[token] = pickle.loads(registry)
            while len(registries) > _REGISTRIES_KEPT:
                registries.popitem(last=False)
        registries.move_to_end(token)
        task = dataclasses.replace(task, serializers=registries[token])
        key = (task.store_uri, task.s3_endpoint_url)
        if key not in stores:
            stores[key] = open_artifact_store(task.store_uri, s3_endpoint_url=task.s3_endpoint_url)
        fn = functions.get(task.function)
        if fn is None and task.function.module != "__main__":
            try:
                fn = functions[task.function] = task.function.resolve()
            except Exception:  # execute_task resolves it again and reports the error as the step's
                fn = None
        conn.send(execute_task(task, store=stores[key], fn=fn, sampling=sampling))
    sampling.close()


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
    known: OrderedDict[int, None] = field(default_factory=OrderedDict)  # registry tokens it holds


class _Registries:
    """Serializer registries by token, pickled once each, for :func:`_worker_main`.

    Tokens are never reused (an ``id()`` could be, once its object is gone), and each
    worker's tokens are tracked with the same bounded LRU the worker keeps, so a
    registry is re-sent exactly when the worker no longer holds it.
    """

    def __init__(self) -> None:
        self._by_id: OrderedDict[int, tuple[Any, int, bytes]] = OrderedDict()
        self._next = 0

    def message(self, worker: _Worker, task: Task) -> tuple[int, bytes | None, Task]:
        registry = task.serializers
        entry = self._by_id.get(id(registry))
        if entry is None or entry[0] is not registry:
            self._next += 1
            entry = (registry, self._next, pickle.dumps(registry, protocol=pickle.HIGHEST_PROTOCOL))
            self._by_id[id(registry)] = entry  # holding the registry keeps its id unique
            while len(self._by_id) > _REGISTRIES_KEPT:
                self._by_id.popitem(last=False)
        self._by_id.move_to_end(id(registry))
        token, data = entry[1], entry[2]
        sent: bytes | None = None
        if token not in worker.known:
            worker.known[token], sent = None, data
            while len(worker.known) > _REGISTRIES_KEPT:
                worker.known.popitem(last=False)
        worker.known.move_to_end(token)
        return token, sent, dataclasses.replace(task, serializers=None)  # type: ignore[arg-type]


class LocalExecutor:
    """Runs tasks in ``processes`` worker processes (default: the number of CPUs).

    ``start_method`` is a multiprocessing start method or ``"thread"`` (one thread
    of this process, steps one at a time); by default ``forkserver`` where there is
    one, else ``spawn``, and for a script without the main guard what works for it
    (see the module docstring), chosen when the workers start.

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
        if start_method is not None and start_method not in (*methods, "thread"):
            raise InvalidInput(f"The 'start_method' parameter of LocalExecutor must be one of "
                               f"{[*methods, 'thread']}. Got {start_method!r} instead.", field="start_method")
        self.start_method = start_method or ("forkserver" if "forkserver" in methods else "spawn")
        self._chosen = start_method is not None
        self._threads: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._queue: deque[tuple[Task, Future[TaskResult]]] = deque()
        self._workers: list[_Worker] = []
        self._wake_r, self._wake_w = multiprocessing.Pipe(duplex=False)
        self._thread: threading.Thread | None = None
        self._closing = False
        self._startup_deaths = 0
        self._broken: WorkerLost | None = None
        self._registries = _Registries()

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
            if self._thread is not None or self._threads is not None:
                return
            if not self._chosen and self.start_method != "fork" and unguarded_main_line() is not None:
                # Fork is unsafe on macOS (system frameworks) and absent on Windows.
                self.start_method = "fork" if sys.platform.startswith("linux") else "thread"
            if self.start_method == "thread":
                self._threads = ThreadPoolExecutor(1, thread_name_prefix="shipyard-step")
                return
            self._ctx: Any = multiprocessing.get_context(self.start_method)
            for _ in range(self.processes):
                self._workers.append(self._spawn())
            self._thread = threading.Thread(target=self._dispatch, name="shipyard-local-executor", daemon=True)
            self._thread.start()

    def submit(self, task: Task) -> Future[TaskResult]:
        if self._thread is None and self._threads is None:
            self.init()
        if self._threads is not None:
            if self._closing:
                raise InvalidInput("this LocalExecutor has been finalized", field="executor")
            return self._threads.submit(execute_task, task)
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
        if self._threads is not None:
            self._threads.shutdown(wait=not cancel, cancel_futures=cancel)
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
        inherited: tuple[multiprocessing.connection.Connection, ...] = ()
        if self.start_method == "fork":
            inherited = (parent, self._wake_r, self._wake_w, *(w.conn for w in self._workers if w.alive))
        process = self._ctx.Process(target=_worker_main, args=(child, inherited), name="shipyard-step-worker",
                                    daemon=True)
        with warnings.catch_warnings():
            # Python 3.12+ warns that forking a process with threads may deadlock the child; a
            # forked worker only runs steps, on connections and stores it opens itself.
            warnings.filterwarnings("ignore", message=".*multi-threaded.*fork", category=DeprecationWarning)
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
                    worker.conn.send(self._registries.message(worker, task))

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
                # The sentinel turns readable when the process exits: asking is_alive() too
                # would cost a system call per worker per wake-up.
                if worker.process.sentinel in ready:
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

