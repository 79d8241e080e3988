"""Adaptive micro-batching: concurrent requests to one model become one model call.

A request :meth:`~AdaptiveBatcher.submit` s its validated rows and awaits a future.
The batcher merges queued requests into batches of at most ``max_batch_size`` rows,
calls the model once, and slices the result back, request by request.

When a batch starts, on an idle model:

* **Low load** (the last batch held a single request, or fewer than one further
  arrival is expected during one model call, judged from the moving averages of the
  inter-arrival gap and of the batch latency): at once, on the next turn of the event
  loop, so a lone request waits ~0 ms. (A single client sending one request after
  another looks busy by the rate alone; it never has company, so it never waits.)
* **High load**: after a short window, so that more requests join and the model's
  fixed cost per call is shared: the window is the smallest of one model call, the
  time to fill the batch at the observed arrival rate, and what is left of the
  oldest request's ``max_latency_ms`` budget.
* A full batch, or ``adaptive=False``: at once.

While the model is busy, arrivals queue and form the next batch the moment it is
free. Models whose batches take under ``inline_below_ms`` run on the event loop (no
thread hand-off: the fastest path); slower ones run on one dedicated thread, so the
loop keeps answering (503s, health checks) while they compute.

If a merged call raises, each request of the batch is retried alone, so one bad row
fails only its own request. Every request has a deadline
(:class:`~shipyard.serving._errors.InferenceTimeout`, checked a few times per
``timeout_s``).

Admission: the HTTP face takes a place for each request with :meth:`AdaptiveBatcher.admit`
before it reads the body, and gives it back with :meth:`~AdaptiveBatcher.release` once
answered. The places are bounded by :attr:`~AdaptiveBatcher.limit`: what the model
answers within ``queue_delay_s`` at its measured service rate (``rate_``, requests
per second, sampled over 50 ms windows of back-to-back batches, i.e. while requests
wait, and smoothed over about a second), never more than ``max_queue`` nor fewer than
two full batches. Beyond it,
:class:`~shipyard.serving._errors.Overloaded` (503 with ``Retry-After``) is raised at
once, before the request costs a byte of parsing. Until the first backlog there is no
rate to go by and the bound is ``max_queue``. :meth:`~AdaptiveBatcher.submit` refuses
beyond ``max_queue`` queued requests too (shadow copies, which pass no door).

>>> import asyncio, numpy as np
>>> from shipyard.serving._config import BatchingConfig
>>> async def main():
...     b = AdaptiveBatcher(lambda x, proba: {"predict": x.sum(axis=1)}, BatchingConfig())
...     futures = [b.submit(np.ones((1, 3)) * i, 1) for i in range(4)]
...     return [float(r["predict"][0]) for r in await asyncio.gather(*futures)]
>>> asyncio.run(main())
[0.0, 3.0, 6.0, 9.0]
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from shipyard.serving._config import BatchingConfig
from shipyard.serving._errors import InferenceTimeout, Overloaded

__all__ = ["AdaptiveBatcher", "concat_inputs", "split_outputs"]

RunBatch = Callable[[Any, bool], dict[str, Any]]
"""``run(inputs, want_proba) -> {"predict": ..., "predict_proba": ...}`` on validated rows."""
OnBatch = Callable[[int, float, dict[str, Any] | None], None]
"""Called on the event loop after each model call: rows, seconds, outputs (None on error)."""

_SMOOTHING = 0.2
_RATE_WINDOW_S = 0.05  # the service rate is sampled over this much back-to-back work...
_RATE_SMOOTHING = 0.05  # ...and smoothed over about a second of it: one stall is not a slower model


class _CannotMerge(Exception):
    """Inputs or outputs that cannot be joined or split: run the requests one by one."""


class _Item:
    __slots__ = ("deadline", "enqueued", "future", "inputs", "proba", "rows")

    def __init__(self, inputs: Any, rows: int, proba: bool, future: asyncio.Future[Any], now: float,
                 timeout: float) -> None:
        self.inputs = inputs
        self.rows = rows
        self.proba = proba
        self.future = future
        self.enqueued = now
        self.deadline = now + timeout


class AdaptiveBatcher:
    """Batches calls to ``run`` for one model version on the running event loop.

    Learned state (``gap_``: smoothed inter-arrival time, ``latency_``: smoothed batch
    time, both seconds) steers the window; the constructor does no work.
    """

    def __init__(self, run: RunBatch, config: BatchingConfig, *, max_queue: int = 512,
                 timeout_s: float = 10.0, queue_delay_s: float = 0.5, on_batch: OnBatch | None = None) -> None:
        self.run = run
        self.config = config
        self.max_queue = max_queue
        self.timeout_s = timeout_s
        self.queue_delay_s = queue_delay_s
        self.on_batch = on_batch
        self.gap_ = 1.0
        self.latency_ = 0.0
        self.rate_ = 0.0
        self.admitted = 0
        self.limit = max_queue
        self._max_rows = config.max_batch_size if config.enabled else 1
        self._floor = min(max_queue, 2 * self._max_rows)
        self._backlogged_at = 0.0  # start of the current window of back-to-back batches
        self._window_requests = 0
        self._samples = 0
        self._budget = config.max_latency_ms / 1000.0
        self._inline_below = config.inline_below_ms / 1000.0
        self._recent: deque[float] = deque(maxlen=8)
        self._queue: deque[_Item] = deque()
        self._queued_rows = 0
        self._inflight: list[_Item] = []
        self._busy = False
        self._scheduled: asyncio.TimerHandle | asyncio.Handle | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        self._last_arrival = 0.0
        self._last_batch = 1  # requests in the last batch: concurrency actually seen
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._idle: asyncio.Event | None = None

    # -- state ---------------------------------------------------------------------------

    @property
    def queue_depth(self) -> int:
        """Requests waiting for a batch (not counting the one running)."""
        return len(self._queue)

    @property
    def pending(self) -> int:
        """Requests queued or in the running batch."""
        return len(self._queue) + len(self._inflight)

    def observe_latency(self, seconds: float) -> None:
        """Seed or update the batch-latency estimate (warm-up calls report here)."""
        self.latency_ = seconds if self.latency_ == 0 else (1 - _SMOOTHING) * self.latency_ + _SMOOTHING * seconds
        self._recent.append(seconds)

    @property
    def inline(self) -> bool:
        """Whether batches run on the event loop: the fastest of the last 8 took under
        ``inline_below_ms``. The fastest, not the average, so that a busy machine's
        preemptions do not push a fast model onto a thread (where it would only fight
        the loop for the GIL)."""
        if self._inline_below <= 0:
            return False
        return not self._recent or min(self._recent) < self._inline_below

    def retry_after(self) -> int:
        """Seconds a refused client should wait: the time to answer what is admitted (at least 1)."""
        return max(1, math.ceil(self.admitted / self.rate_)) if self.rate_ > 0 else 1

    # -- admission ---------------------------------------------------------------------------

    def admit(self) -> None:
        """Take a place for one request, before anything of it is read; pair with :meth:`release`.

        Raises :class:`Overloaded` at once when :attr:`limit` places are taken.
        """
        if self.admitted >= self.limit:
            raise Overloaded(f"the model is at capacity ({self.limit} requests admitted); retry later",
                             retry_after=self.retry_after(), limit=self.limit)
        self.admitted += 1

    def release(self) -> None:
        """Give back a place taken by :meth:`admit` (the request was answered, or failed)."""
        self.admitted -= 1

    def _measure_rate(self, requests: int, now: float) -> None:
        """Count a batch of ``requests`` delivered at ``now``; while requests wait back to back,
        every ``_RATE_WINDOW_S`` update ``rate_`` and the admission bound from what was answered."""
        if self._backlogged_at:  # this batch started the moment the previous one ended
            self._window_requests += requests
            elapsed = now - self._backlogged_at
            if elapsed >= _RATE_WINDOW_S:
                self._samples += 1  # the first samples are averaged plainly, then smoothed
                weight = max(_RATE_SMOOTHING, 1 / self._samples)
                self.rate_ += weight * (self._window_requests / elapsed - self.rate_)
                self.limit = min(self.max_queue, max(self._floor, math.ceil(self.rate_ * self.queue_delay_s)))
                self._backlogged_at, self._window_requests = now, 0
            if self._queue:
                return
        # A window opens when a batch ends with requests waiting; one that closes early is dropped.
        self._backlogged_at, self._window_requests = (now if self._queue else 0.0), 0

    # -- submitting ------------------------------------------------------------------------

    def submit(self, inputs: Any, rows: int, proba: bool = False) -> asyncio.Future[dict[str, Any]]:
        """Queue validated ``inputs`` (``rows`` rows); the future resolves to this request's outputs.

        Raises :class:`Overloaded` at once when ``max_queue`` requests already wait.
        """
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        if len(self._queue) >= self.max_queue:
            retry = max(1, round(len(self._queue) * max(self.latency_, 1e-3) / self._max_rows))
            raise Overloaded(f"the model's queue is full ({self.max_queue} requests); retry later",
                             retry_after=retry, limit=self.max_queue)
        now = time.perf_counter()
        if self._last_arrival:
            self.gap_ = (1 - _SMOOTHING) * self.gap_ + _SMOOTHING * min(now - self._last_arrival, 1.0)
        self._last_arrival = now
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        self._queue.append(_Item(inputs, rows, proba, future, now, self.timeout_s))
        self._queued_rows += rows
        if self._sweeper is None:
            self._sweeper = loop.call_later(self._sweep_every(), self._sweep)
        if not self._busy:
            if self._queued_rows >= self._max_rows:
                self._schedule(0.0, replace=True)
            elif self._scheduled is None:
                self._schedule(self._window(now))
        return future

    def _window(self, now: float) -> float:
        if not (self.config.adaptive and self.config.enabled):
            return 0.0
        latency, gap = self.latency_, max(self.gap_, 1e-6)
        if self._last_batch < 2 or latency / gap < 1.0:  # nobody else is coming: do not wait
            return 0.0
        fill = (self._max_rows - self._queued_rows) * gap
        budget = self._budget - (now - self._queue[0].enqueued)
        return max(0.0, min(latency, fill, budget))

    def _schedule(self, delay: float, *, replace: bool = False) -> None:
        if self._scheduled is not None:
            if not replace:
                return
            self._scheduled.cancel()
        assert self._loop is not None
        self._scheduled = (self._loop.call_soon(self._flush) if delay <= 0
                           else self._loop.call_later(delay, self._flush))

    # -- running a batch -------------------------------------------------------------------

    def _take(self) -> list[_Item]:
        batch: list[_Item] = []
        rows = 0
        queue = self._queue
        while queue:
            item = queue[0]
            if batch and rows + item.rows > self._max_rows:
                break
            queue.popleft()
            self._queued_rows -= item.rows
            if item.future.done():  # timed out or cancelled while queued
                continue
            batch.append(item)
            rows += item.rows
        return batch

    def _flush(self) -> None:
        self._scheduled = None
        if self._busy:
            return
        batch = self._take()
        if not batch:
            self._set_idle()
            return
        self._busy = True
        self._inflight = batch
        started = time.perf_counter()
        if self.inline:
            self._deliver(batch, *_execute(self.run, batch), started)
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="shipyard-model")
        assert self._loop is not None
        done = self._loop.run_in_executor(self._executor, _execute, self.run, batch)
        done.add_done_callback(lambda f: self._deliver(batch, *f.result(), started))

    def _deliver(self, batch: list[_Item], results: list[tuple[bool, Any]], merged: dict[str, Any] | None,
                 started: float) -> None:
        elapsed = time.perf_counter() - started
        self.observe_latency(elapsed)
        rows = 0
        for item, (ok, value) in zip(batch, results, strict=True):
            rows += item.rows
            if item.future.done():
                continue
            if ok:
                item.future.set_result(value)
            else:
                item.future.set_exception(value)
        self._inflight = []
        self._busy = False
        self._last_batch = len(batch)
        self._measure_rate(len(batch), time.perf_counter())
        if self.on_batch is not None:
            self.on_batch(rows, elapsed, merged)
        if self._queue:
            self._schedule(0.0)
        else:
            self._set_idle()

    # -- deadlines and draining --------------------------------------------------------------

    def _sweep_every(self) -> float:
        return min(0.1, self.timeout_s / 4)

    def _sweep(self) -> None:
        self._sweeper = None
        now = time.perf_counter()
        for item in (*self._inflight, *self._queue):
            if item.deadline <= now and not item.future.done():
                item.future.set_exception(InferenceTimeout(
                    f"no answer within {self.timeout_s:g} s", timeout_s=self.timeout_s))
        if self._queue or self._inflight:
            assert self._loop is not None
            self._sweeper = self._loop.call_later(self._sweep_every(), self._sweep)

    def _set_idle(self) -> None:
        if self._idle is not None and not self._queue and not self._busy:
            self._idle.set()

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait until every queued and running request is answered, then free the thread."""
        if self._queue or self._busy:
            self._idle = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), timeout)
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None


def _execute(run: RunBatch, batch: Sequence[_Item]) -> tuple[list[tuple[bool, Any]], dict[str, Any] | None]:
    """Run the batch as one call; if that fails, each request alone. Never raises.

    Returns one ``(ok, outputs or error)`` per request, and the merged outputs when
    the batch ran as one call (for prediction summaries).
    """
    proba = any(item.proba for item in batch)
    if len(batch) > 1:
        try:
            outputs = run(concat_inputs([item.inputs for item in batch]), proba)
            parts = split_outputs(outputs, [item.rows for item in batch])
            return [(True, part) for part in parts], outputs
        except Exception:  # noqa: BLE001 - isolate the culprit below
            pass
    results: list[tuple[bool, Any]] = []
    for item in batch:
        try:
            results.append((True, run(item.inputs, proba)))
        except Exception as exc:  # noqa: BLE001 - the request's own failure
            results.append((False, exc))
    return results, (results[0][1] if len(results) == 1 and results[0][0] else None)


def concat_inputs(parts: Sequence[Any]) -> Any:
    """Join validated inputs row-wise: ndarrays, DataFrames or dicts of arrays."""
    first = parts[0]
    if len(parts) == 1:
        return first
    if isinstance(first, np.ndarray):
        if not all(isinstance(p, np.ndarray) and p.shape[1:] == first.shape[1:] for p in parts):
            raise _CannotMerge
        return np.concatenate(parts)
    if isinstance(first, pd.DataFrame):
        if not all(isinstance(p, pd.DataFrame) for p in parts):
            raise _CannotMerge
        return pd.concat(parts, ignore_index=True)
    if isinstance(first, dict):
        if not all(isinstance(p, dict) and p.keys() == first.keys() for p in parts):
            raise _CannotMerge
        return {key: concat_inputs([p[key] for p in parts]) for key in first}
    if isinstance(first, list):
        return [row for p in parts for row in p]
    raise _CannotMerge


def split_outputs(outputs: dict[str, Any], rows: Sequence[int]) -> list[dict[str, Any]]:
    """Slice each output back into one piece per request (``rows`` rows each)."""
    total = sum(rows)
    pieces: list[dict[str, Any]] = [{} for _ in rows]
    for key, value in outputs.items():
        for piece, part in zip(pieces, _split(value, rows, total), strict=True):
            piece[key] = part
    return pieces


def _split(value: Any, rows: Sequence[int], total: int) -> list[Any]:
    if isinstance(value, dict):
        columns = {k: _split(v, rows, total) for k, v in value.items()}
        return [{k: columns[k][i] for k in value} for i in range(len(rows))]
    if isinstance(value, pd.DataFrame | pd.Series):
        value_len, take = len(value), (lambda a, b: value.iloc[a:b])
    elif isinstance(value, np.ndarray) and value.ndim >= 1:
        value_len, take = value.shape[0], (lambda a, b: value[a:b])
    elif isinstance(value, list):
        value_len, take = len(value), (lambda a, b: value[a:b])
    else:
        raise _CannotMerge
    if value_len != total:
        raise _CannotMerge
    out, start = [], 0
    for n in rows:
        out.append(take(start, start + n))
        start += n
    return out
