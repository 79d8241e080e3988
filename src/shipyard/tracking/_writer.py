"""The background writer: logging calls append to memory, a thread flushes in batches.

``log_metric`` must not cost a round trip: it takes a lock, appends a tuple and
returns (about a microsecond). A daemon thread hands everything pending to the
sink every ``flush_interval`` seconds, so a crash loses at most that interval.
:meth:`BatchWriter.flush` (called at run end and at interpreter exit) writes
synchronously and raises the first error any earlier flush met, so a failure is
never silent.

Failures are sorted by kind: :class:`~shipyard.errors.StorageError` (the database
is busy, the server is down) keeps the batch for the next attempt, or hands it to
the spool when one is configured; any other error (a conflict, a run that
finished elsewhere) cannot succeed on retry, so the batch is dropped and the
error is kept for the next :meth:`flush` to raise.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from shipyard.errors import ShipyardError, StorageError
from shipyard.tracking._entities import LogBatch

__all__ = ["BatchWriter", "Spool"]


class Spool(Protocol):
    """Somewhere durable to park batches the sink could not take."""

    def put(self, batch: LogBatch) -> None: ...

    def drain(self, sink: Callable[[LogBatch], None]) -> None: ...


class BatchWriter:
    """Buffers points, params and tags and writes them to ``sink`` in batches."""

    def __init__(
        self,
        sink: Callable[[LogBatch], None],
        flush_interval: float = 1.0,
        spool: Spool | None = None,
        max_batch: int = 50_000,
    ) -> None:
        self._sink = sink
        self._interval = flush_interval
        self._spool = spool
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._pending = LogBatch()
        self._retry = LogBatch()
        self._error: ShipyardError | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the hot path -----------------------------------------------------------------

    def metric(self, run_id: str, key: str, value: float, timestamp: int, step: int) -> None:
        with self._lock:
            self._pending.metrics.append((run_id, key, value, timestamp, step))
            if self._thread is None:
                self._start()
            elif len(self._pending.metrics) >= self._max_batch:
                self._wake.set()

    def param(self, run_id: str, key: str, value: str) -> None:
        with self._lock:
            self._pending.params.append((run_id, key, value))
            if self._thread is None:
                self._start()

    def tag(self, run_id: str, key: str, value: str) -> None:
        with self._lock:
            self._pending.tags.append((run_id, key, value))
            if self._thread is None:
                self._start()

    # -- flushing ---------------------------------------------------------------------

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="shipyard-writer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            self._write_pending()

    def _take(self) -> LogBatch:
        with self._lock:
            batch, self._pending = self._pending, LogBatch()
        if self._retry:
            self._retry.extend(batch)
            batch, self._retry = self._retry, LogBatch()
        return batch

    def _write_pending(self) -> None:
        with self._flush_lock:
            if self._spool is not None:
                try:
                    self._spool.drain(self._sink)
                except StorageError:
                    pass  # still unreachable; the spool keeps its batches
                except ShipyardError as exc:
                    self._error = self._error or exc
            batch = self._take()
            if not batch:
                return
            try:
                self._sink(batch)
            except StorageError as exc:
                if self._spool is not None:
                    self._spool.put(batch)
                else:
                    self._retry = batch
                    self._error = exc
            except ShipyardError as exc:
                self._error = self._error or exc
            else:
                if isinstance(self._error, StorageError):
                    self._error = None

    @property
    def pending(self) -> int:
        """How many items wait in memory (not counting the spool)."""
        with self._lock:
            return len(self._pending) + len(self._retry)

    def flush(self) -> None:
        """Write everything pending now; raise the first error met since the last flush."""
        self._write_pending()
        error, self._error = self._error, None
        if error is not None:
            # A storage failure keeps its batch in ``_retry`` for the next attempt.
            raise error

    def close(self) -> None:
        """Flush, then stop the background thread. Idempotent."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self.flush()
