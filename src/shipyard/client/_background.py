"""Tracking work kept off the caller's path: creating started runs, recording their environment.

:class:`RunStarts` lets ``shipyard.start_run`` return at once: the run's id and start
time are fixed by the caller, and its creation (opening the store on first use,
finding or creating the experiment, inserting the run) runs on a background thread.
Anything that needs the run stored first waits for it with :meth:`RunStarts.settle`.

:class:`EnvironmentRecorder` captures a run's environment (packages, git state) on a
thread of its own and stores it with the run when ready; :meth:`EnvironmentRecorder.flush`
(called by ``end_run`` and ``close``) waits for it, so nothing captured is lost.

Neither keeps a thread alive when idle: a thread starts with work and ends when
there is none left. Both are non-daemon threads, so interpreter exit waits for them.
"""

from __future__ import annotations

# These threads are joined at interpreter exit (so nothing in flight is lost), and a module
# they import from then on may no longer register an exit hook: concurrent.futures.thread
# registers one when first imported (fsspec imports it, so opening the artifact store
# would fail). Import it now, while that is still allowed.
import concurrent.futures.thread  # noqa: F401
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from shipyard.errors import StorageError
from shipyard.tracking import Run

__all__ = ["EnvironmentRecorder", "RunStarts"]

logger = logging.getLogger("shipyard.tracking")


class RunStarts:
    """Creations of runs handed off by ``start_run``, run in the order given.

    The order matters: a nested run's parent is created before it. A creation that
    fails keeps its error against its run (:meth:`failure`) and the others go on.
    """

    def __init__(self) -> None:
        self._jobs: deque[tuple[str, Callable[[], Run]]] = deque()
        self._queue_lock = threading.Lock()
        self._work_lock = threading.RLock()  # one job at a time, in order
        self._thread: threading.Thread | None = None
        self._created: dict[str, Run] = {}
        self._failed: dict[str, BaseException] = {}

    def submit(self, run_id: str, create: Callable[[], Run]) -> None:
        """Create run ``run_id`` with ``create`` on the background thread (started if idle)."""
        with self._queue_lock:
            self._jobs.append((run_id, create))
            if self._thread is None:
                self._thread = threading.Thread(target=self._background, name="shipyard-run-starts")
                self._thread.start()

    def _background(self) -> None:
        while True:
            self.settle()
            with self._queue_lock:
                if not self._jobs:  # decided under the lock that submit() takes: no job is left behind
                    self._thread = None
                    return

    def settle(self) -> None:
        """Return once every creation submitted so far has run (running what is left here)."""
        with self._work_lock:
            while True:
                with self._queue_lock:
                    if not self._jobs:
                        return
                    run_id, create = self._jobs.popleft()
                try:
                    self._created[run_id] = create()
                except Exception as exc:  # kept for whoever uses the run next
                    self._failed[run_id] = exc

    @property
    def pending(self) -> bool:
        """Whether some creation has not run yet."""
        with self._queue_lock:
            return bool(self._jobs) or self._thread is not None

    def failure(self, run_id: str) -> BaseException | None:
        """Why run ``run_id`` could not be created, or None."""
        return self._failed.get(run_id)

    @property
    def failed(self) -> set[str]:
        """The runs whose creation failed."""
        return set(self._failed)

    def created(self, run_id: str) -> Run | None:
        """The run as created by its start, once it has run (None for a run not started here)."""
        return self._created.get(run_id)


class EnvironmentRecorder:
    """Captures each run's environment on a thread of its own and hands it to ``write``.

    ``write(run_id, environment)`` stores it (after the run exists). A write that fails
    for a storage reason is kept and tried again by :meth:`flush`; any other failure
    cannot succeed on retry, so it is raised once by :meth:`flush` and dropped.
    """

    def __init__(self, write: Callable[[str, dict[str, Any]], None], capture: Callable[[], dict[str, Any]]) -> None:
        self._write = write
        self._capture = capture
        self._lock = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}
        self._unwritten: dict[str, dict[str, Any]] = {}
        self._errors: dict[str, BaseException] = {}

    def record(self, run_id: str) -> None:
        """Capture the environment of run ``run_id`` and store it, off the caller's thread."""
        thread = threading.Thread(target=self._record, args=(run_id,), name=f"shipyard-environment-{run_id[:8]}")
        with self._lock:
            self._threads[run_id] = thread
        thread.start()

    def _record(self, run_id: str) -> None:
        try:
            environment = self._capture()
        except Exception:  # a description of the environment is not worth failing a run over
            logger.warning("run %s: could not capture the environment", run_id, exc_info=True)
            return
        self._store(run_id, environment)

    def _store(self, run_id: str, environment: dict[str, Any]) -> None:
        try:
            self._write(run_id, environment)
        except Exception as exc:
            with self._lock:
                self._errors[run_id] = exc
                if isinstance(exc, StorageError):
                    self._unwritten[run_id] = environment
        else:
            with self._lock:
                self._unwritten.pop(run_id, None)
                self._errors.pop(run_id, None)

    def flush(self, run_id: str | None = None) -> None:
        """Wait until the environment of ``run_id`` (of every run when None) is stored; retry
        a write that failed for a storage reason, and raise the first error left."""
        with self._lock:
            ids = [run_id] if run_id is not None else list({*self._threads, *self._unwritten, *self._errors})
            threads = [self._threads.pop(i) for i in ids if i in self._threads]
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join()
        for rid in ids:
            with self._lock:
                environment = self._unwritten.get(rid)
            if environment is not None:
                self._store(rid, environment)
        with self._lock:
            errors = [self._errors.pop(rid) for rid in ids if rid in self._errors]
        if errors:
            raise errors[0]

    def discard(self, run_id: str) -> None:
        """Forget run ``run_id`` (one that was never created): its capture is not stored."""
        with self._lock:
            self._unwritten.pop(run_id, None)
            self._errors.pop(run_id, None)
