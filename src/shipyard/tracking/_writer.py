"""The background writer: logging calls append to memory, a thread flushes in batches.

``log_metric`` must not cost a round trip: it takes a lock, appends a tuple and
returns (about a microsecond). A daemon thread hands everything pending to the
sink every ``flush_interval`` seconds, so a crash loses at most that interval.
:meth:`BatchWriter.flush` (called at run end and at interpreter exit) writes
synchronously and raises the first error any earlier flush met, so a failure is
never silent.

The buffer is bounded, by entries and by bytes, and the bound counts the batch
being written as well as what waits: when logging outpaces the sink, a logging
call that finds the buffer full wakes the thread and waits until a write makes
room. This backpressure is what keeps the promise above at any logging rate: the
unwritten backlog never grows past the bound, so neither does memory nor what a
crash (``kill -9``) can lose.

Failures are sorted by kind: :class:`~shipyard.errors.StorageError` (the database
is busy, the server is down) keeps the batch for the next attempt, or hands it to
the spool when one is configured (which frees its room in the buffer); any other
error (a conflict, a param that clashes) cannot succeed on retry, so the batch is
dropped and the error is kept for the next :meth:`flush` to raise.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from shipyard.errors import ShipyardError, StorageError
from shipyard.tracking._entities import LogBatch

__all__ = ["METRIC_BYTES", "BatchWriter", "Spool", "entry_bytes"]

# What CPython holds per buffered entry. A metric point is a 5-tuple with a float and a
# timestamp int (its run id and key are the caller's own strings, shared, not copied);
# a param or tag is a 3-tuple whose value, and often key, are strings of their own.
METRIC_BYTES = 176
_ENTRY_BYTES = 128
_NEVER = 1 << 62  # a wake mark no buffer reaches


def entry_bytes(key: str, value: str) -> int:
    """The size a buffered param or tag counts against the writer's byte bound (a metric
    point counts :data:`METRIC_BYTES`): a fixed overhead plus its key and value text.

    >>> entry_bytes("lr", "0.1")
    133
    """
    return _ENTRY_BYTES + len(key) + len(value)


class Spool(Protocol):
    """Somewhere durable to park batches the sink could not take."""

    def put(self, batch: LogBatch) -> None: ...

    def drain(self, sink: Callable[[LogBatch], None]) -> None: ...


class BatchWriter:
    """Buffers points, params and tags and writes them to ``sink`` in batches.

    At most ``max_points`` entries (metric points, params and tags together) and
    about ``max_bytes`` bytes (as :data:`METRIC_BYTES` and :func:`entry_bytes` count
    them) are held that the sink has not yet stored, the batch being written
    included. A logging call that finds no room wakes the writer thread and blocks
    until a write frees some, so memory stays bounded and a crash loses at most
    ``max_points`` acknowledged entries (and, while the sink keeps up, only what was
    logged in the last flush interval) whatever the logging rate. With room, a call
    costs a lock and an append. An entry larger than ``max_bytes`` on its own waits
    for an empty buffer.

    A failed write does not leave callers blocked for ever: with a spool the batch is
    parked on disk and its room freed; without one it is kept and retried every
    ``flush_interval``, and a caller that has waited for room ``max_wait`` seconds
    since a write failed gets a :class:`~shipyard.errors.StorageError` (its entry was
    not taken) rather than waiting on a store that stays down. The sink itself logging
    from the writer thread never waits (it would wait for itself).

    >>> stored = []
    >>> writer = BatchWriter(stored.append, max_points=2)
    >>> for step in range(5):  # the third call waits for the first two to be written
    ...     writer.metric("0" * 32, "loss", 0.5, 0, step)
    >>> writer.close()
    >>> sum(len(batch.metrics) for batch in stored)
    5
    """

    def __init__(
        self,
        sink: Callable[[LogBatch], None],
        flush_interval: float = 1.0,
        spool: Spool | None = None,
        max_batch: int = 50_000,
        max_points: int = 20_000,
        max_bytes: int = 32 * 1024 * 1024,
        max_wait: float = 30.0,
    ) -> None:
        if max_points < 1 or max_bytes < 1:
            raise ValueError(f"max_points and max_bytes must be positive, got {max_points}, {max_bytes}")
        self._sink = sink
        self._interval = flush_interval
        self._spool = spool
        self._max_points = max_points
        self._max_bytes = max_bytes
        self._max_wait = max_wait
        self._metric_room = max_bytes - METRIC_BYTES  # held bytes past which a point does not fit
        # The thread is woken early once this much waits, so that with a fast logger
        # one batch is written while the next fills the other half of the buffer.
        self._wake_points = max(1, min(max_batch, max_points // 2))
        self._wake_bytes = max(1, max_bytes // 2)
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)  # notified whenever a write ends
        self._flush_lock = threading.Lock()
        self._pending = LogBatch()
        self._retry = LogBatch()
        # Under ``_lock``: what is held and not yet stored (pending, retry, in flight)
        # and how many writes failed and kept their batch.
        self._held_points = 0
        self._held_bytes = 0
        # The held levels at which the next call wakes the thread (the first call starts it).
        self._wake_at_points = self._wake_at_bytes = 1
        self._failures = 0
        self._failure: StorageError | None = None
        self._error: ShipyardError | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the hot path -----------------------------------------------------------------

    def metric(self, run_id: str, key: str, value: float, timestamp: int, step: int) -> None:
        """Buffer one point; blocks only while the buffer is full (see the class)."""
        with self._lock:
            if self._held_points >= self._max_points or self._held_bytes > self._metric_room:
                self._wait_for_room(METRIC_BYTES)
            self._pending.metrics.append((run_id, key, value, timestamp, step))
            self._held_points += 1
            self._held_bytes += METRIC_BYTES
            if self._held_points >= self._wake_at_points or self._held_bytes >= self._wake_at_bytes:
                self._nudge()

    def param(self, run_id: str, key: str, value: str) -> None:
        """Buffer a param; blocks only while the buffer is full."""
        self._add(False, (run_id, key, value), entry_bytes(key, value))

    def tag(self, run_id: str, key: str, value: str) -> None:
        """Buffer a tag; blocks only while the buffer is full."""
        self._add(True, (run_id, key, value), entry_bytes(key, value))

    def _add(self, is_tag: bool, entry: tuple[str, str, str], size: int) -> None:
        with self._lock:
            if self._held_points >= self._max_points or self._held_bytes + size > self._max_bytes:
                self._wait_for_room(size)
            # Looked up after any wait: the writer swaps ``_pending`` for a new batch.
            (self._pending.tags if is_tag else self._pending.params).append(entry)
            self._held_points += 1
            self._held_bytes += size
            if self._held_points >= self._wake_at_points or self._held_bytes >= self._wake_at_bytes:
                self._nudge()

    def _nudge(self) -> None:
        """With ``_lock`` held: start the thread on first use, else wake it (once per batch)."""
        if self._thread is None:
            self._start()
            self._wake_at_points, self._wake_at_bytes = self._wake_points, self._wake_bytes
        else:
            self._wake.set()
            # Not again until the thread takes the batch (``_take`` sets the next marks).
            self._wake_at_points = self._wake_at_bytes = _NEVER

    def _full(self, size: int) -> bool:
        return bool(self._held_points) and (
            self._held_points >= self._max_points or self._held_bytes + size > self._max_bytes
        )

    def _wait_for_room(self, size: int) -> None:
        """With ``_lock`` held, wait until one more entry of ``size`` bytes fits."""
        if self._thread is None:
            self._start()
        if self._thread is threading.current_thread():
            return
        failures = self._failures
        give_up: float | None = None
        while self._full(size):
            if give_up is None and self._failures != failures:
                give_up = time.monotonic() + self._max_wait
            if give_up is not None and time.monotonic() >= give_up:
                raise StorageError(
                    f"the logging buffer is full ({self._held_points} entries) and writing it keeps "
                    f"failing: {self._failure}"
                ) from self._failure
            pause = self._interval if give_up is None else min(self._interval, self._max_wait)
            assert self._thread is not None
            if self._thread.is_alive():
                self._wake.set()
                self._room.wait(pause)
                continue
            # The writer was closed (or died): nobody else will make room, so write here.
            self._lock.release()
            try:
                written = self._write_pending()
            finally:
                self._lock.acquire()
            if not written:
                self._room.wait(pause)  # as the thread does: no tight loop against a failing store

    # -- flushing ---------------------------------------------------------------------

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="shipyard-writer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            if not self._write_pending():
                self._stop.wait(self._interval)  # storage failed: retry after a pause, not at every wake

    def _take(self) -> tuple[LogBatch, int, int]:
        """Everything held (pending and any batch kept for retry), with its entries and bytes."""
        with self._lock:
            batch, self._pending = self._pending, LogBatch()
            # Nothing else is in flight (``_flush_lock``), so the batch is all that is held.
            points, nbytes = self._held_points, self._held_bytes
            self._wake_at_points = points + self._wake_points
            self._wake_at_bytes = nbytes + self._wake_bytes
        if self._retry:
            self._retry.extend(batch)
            batch, self._retry = self._retry, LogBatch()
        return batch, points, nbytes

    def _write_pending(self) -> bool:
        """Drain the spool, then write what is held; False when a failed batch was kept."""
        with self._flush_lock:
            if self._spool is not None:
                try:
                    self._spool.drain(self._sink)
                except StorageError:
                    pass  # still unreachable; the spool keeps its batches
                except ShipyardError as exc:
                    self._error = self._error or exc
            batch, points, nbytes = self._take()
            if not batch:
                return True
            kept = False
            try:
                self._sink(batch)
            except StorageError as exc:
                kept = not self._park(batch, exc)
            except ShipyardError as exc:
                self._error = self._error or exc
            else:
                if isinstance(self._error, StorageError):
                    self._error = None
            finally:
                # Room is freed once the batch is stored, spooled or refused for good;
                # whatever the outcome, callers waiting for room are told.
                with self._lock:
                    if kept:
                        self._failures += 1
                    else:
                        self._held_points -= points
                        self._held_bytes -= nbytes
                        self._wake_at_points -= points
                        self._wake_at_bytes -= nbytes
                    self._room.notify_all()
            return not kept

    def _park(self, batch: LogBatch, exc: StorageError) -> bool:
        """After a storage failure, spool ``batch`` (True) or keep it for the next attempt."""
        if self._spool is not None:
            try:
                self._spool.put(batch)
                return True
            except OSError as err:  # the local disk is full or read-only: keep it in memory
                exc = StorageError(f"cannot spool logged data to disk: {err}")
        self._retry = batch
        self._error = self._failure = exc
        return False

    @property
    def pending(self) -> int:
        """How many entries are held and not yet stored, in memory (not counting the spool)."""
        with self._lock:
            return self._held_points

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
