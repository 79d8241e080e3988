"""The adaptive batcher: merging, exact splitting, isolation of bad rows, bounds."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from typing import Any

import numpy as np
import pytest

from shipyard.serving import BatchingConfig, InferenceTimeout, Overloaded
from shipyard.serving._batcher import AdaptiveBatcher, _CannotMerge, concat_inputs, split_outputs


class Recorder:
    """A model that records each call's batch size (and may fail, or be slow)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.sizes: list[int] = []
        self.delay = delay
        self.threads: set[str] = set()

    def __call__(self, x: np.ndarray, proba: bool) -> dict[str, Any]:
        self.sizes.append(len(x))
        self.threads.add(threading.current_thread().name)
        if self.delay:
            time.sleep(self.delay)
        if (x[:, 0] < 0).any():
            raise ValueError("negative row")
        out = {"predict": x.sum(axis=1)}
        if proba:
            out["predict_proba"] = np.column_stack([x[:, 0], -x[:, 0]])
        return out


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_concurrent_requests_merge_into_one_call_and_split_back_exactly() -> None:
    model = Recorder()

    async def main() -> list[Any]:
        batcher = AdaptiveBatcher(model, BatchingConfig(max_batch_size=64))
        futures = [batcher.submit(np.full((i % 3 + 1, 2), float(i)), i % 3 + 1) for i in range(20)]
        return await asyncio.gather(*futures)

    results = run(main())
    assert model.sizes == [sum(i % 3 + 1 for i in range(20))]
    for i, result in enumerate(results):
        assert result["predict"].tolist() == [2.0 * i] * (i % 3 + 1)


def test_batches_never_exceed_max_batch_size() -> None:
    model = Recorder()

    async def main() -> None:
        batcher = AdaptiveBatcher(model, BatchingConfig(max_batch_size=8))
        await asyncio.gather(*(batcher.submit(np.ones((3, 2)), 3) for _ in range(10)))

    run(main())
    assert max(model.sizes) <= 8 and sum(model.sizes) == 30


def test_one_bad_row_fails_only_its_own_request() -> None:
    model = Recorder()

    async def main() -> list[Any]:
        batcher = AdaptiveBatcher(model, BatchingConfig())
        rows = [np.array([[1.0, 1.0]]), np.array([[-1.0, 1.0]]), np.array([[2.0, 2.0]])]
        return await asyncio.gather(*(batcher.submit(r, 1) for r in rows), return_exceptions=True)

    ok1, bad, ok2 = run(main())
    assert ok1["predict"].tolist() == [2.0] and ok2["predict"].tolist() == [4.0]
    assert isinstance(bad, ValueError)


def test_probabilities_are_split_with_the_rows_that_asked() -> None:
    async def main() -> list[Any]:
        batcher = AdaptiveBatcher(Recorder(), BatchingConfig())
        return await asyncio.gather(batcher.submit(np.array([[1.0, 0]]), 1, proba=True),
                                    batcher.submit(np.array([[2.0, 0], [3.0, 0]]), 2))

    first, second = run(main())
    assert first["predict_proba"].tolist() == [[1.0, -1.0]]
    assert second["predict"].tolist() == [2.0, 3.0]


def test_switched_off_it_calls_the_model_once_per_request() -> None:
    model = Recorder()

    async def main() -> None:
        batcher = AdaptiveBatcher(model, BatchingConfig(enabled=False))
        await asyncio.gather(*(batcher.submit(np.ones((2, 2)), 2) for _ in range(5)))

    run(main())
    assert model.sizes == [2] * 5


def test_a_lone_request_waits_about_nothing() -> None:
    model = Recorder()

    async def main() -> float:
        batcher = AdaptiveBatcher(model, BatchingConfig(max_latency_ms=50))
        batcher.observe_latency(0.0001)
        await batcher.submit(np.ones((1, 2)), 1)
        await asyncio.sleep(0.2)  # a quiet spell: the arrival rate estimate drops
        started = time.perf_counter()
        await batcher.submit(np.ones((1, 2)), 1)
        return time.perf_counter() - started

    assert run(main()) < 0.005


def test_under_load_the_window_opens_so_batches_grow() -> None:
    batcher = AdaptiveBatcher(Recorder(), BatchingConfig(max_batch_size=64, max_latency_ms=5))
    batcher.latency_, batcher.gap_ = 0.002, 0.0001  # 20 arrivals expected per model call
    batcher._last_batch = 1  # ...but the last batch was a lone request: no company seen yet
    batcher._queue.append(type("I", (), {"enqueued": time.perf_counter(), "rows": 1})())  # type: ignore[arg-type]
    batcher._queued_rows = 1
    assert batcher._window(time.perf_counter()) == 0.0
    batcher._last_batch = 8  # concurrency seen: now the window opens
    window = batcher._window(time.perf_counter())
    assert 0 < window <= 0.002
    batcher.gap_ = 0.05  # under one arrival per model call
    assert batcher._window(time.perf_counter()) == 0.0


def test_a_full_queue_refuses_at_once_with_a_retry_hint() -> None:
    async def main() -> None:
        batcher = AdaptiveBatcher(Recorder(delay=0.05), BatchingConfig(max_batch_size=1, inline_below_ms=0),
                                  max_queue=3)
        futures = [batcher.submit(np.ones((1, 2)), 1) for _ in range(3)]
        with pytest.raises(Overloaded) as info:
            batcher.submit(np.ones((1, 2)), 1)
        assert info.value.retry_after >= 1
        await asyncio.gather(*futures)

    run(main())


def test_admission_tightens_to_what_the_model_answers_within_the_queue_delay() -> None:
    async def main() -> tuple[int, int, float, int]:
        # 2 rows per 10 ms call: about 200 requests/s, so 0.1 s of queue holds about 20.
        batcher = AdaptiveBatcher(Recorder(delay=0.01), BatchingConfig(max_batch_size=2, inline_below_ms=0),
                                  max_queue=512, queue_delay_s=0.1)
        before = batcher.limit
        futures = [batcher.submit(np.ones((1, 2)), 1) for _ in range(60)]  # a backlog: the rate is measured
        await asyncio.gather(*futures)
        admitted = 0
        with pytest.raises(Overloaded) as refused:
            while True:
                batcher.admit()
                admitted += 1
        retry = refused.value.retry_after
        for _ in range(admitted):
            batcher.release()
        batcher.admit()  # a place given back can be taken again
        await batcher.drain(5)
        return before, admitted, batcher.rate_, retry

    before, admitted, rate, retry = run(main())
    assert before == 512  # no rate measured yet: the configured bound
    assert 80 < rate < 250
    assert admitted == math.ceil(rate * 0.1)
    assert retry >= 1


def test_admission_never_tightens_below_two_full_batches() -> None:
    async def main() -> int:
        batcher = AdaptiveBatcher(Recorder(delay=0.01), BatchingConfig(max_batch_size=8, inline_below_ms=0),
                                  max_queue=512, queue_delay_s=0.001)
        await asyncio.gather(*(batcher.submit(np.ones((1, 2)), 1) for _ in range(64)))
        await batcher.drain(5)
        return batcher.limit

    assert run(main()) == 16


def test_requests_past_their_deadline_time_out() -> None:
    async def main() -> None:
        batcher = AdaptiveBatcher(Recorder(delay=0.3), BatchingConfig(inline_below_ms=0), timeout_s=0.1)
        with pytest.raises(InferenceTimeout):
            await batcher.submit(np.ones((1, 2)), 1)
        await batcher.drain(5)

    run(main())


def test_slow_models_run_on_their_own_thread_and_fast_ones_inline() -> None:
    slow, fast = Recorder(delay=0.01), Recorder()

    async def main() -> None:
        for model, latency in ((slow, 0.01), (fast, 0.00001)):
            batcher = AdaptiveBatcher(model, BatchingConfig(inline_below_ms=2))
            batcher.observe_latency(latency)
            await batcher.submit(np.ones((1, 2)), 1)
            await batcher.drain(5)

    run(main())
    assert all(name.startswith("shipyard-model") for name in slow.threads)
    assert fast.threads == {"MainThread"}


def test_drain_answers_everything_queued() -> None:
    async def main() -> list[Any]:
        batcher = AdaptiveBatcher(Recorder(delay=0.01), BatchingConfig(max_batch_size=2, inline_below_ms=0))
        futures = [batcher.submit(np.ones((1, 2)), 1) for _ in range(6)]
        await batcher.drain(5)
        return [f.done() for f in futures]

    assert run(main()) == [True] * 6


def test_mixed_inputs_cannot_merge_and_run_one_by_one() -> None:
    with pytest.raises(_CannotMerge):
        concat_inputs([np.ones((1, 2)), np.ones((1, 3))])
    pieces = split_outputs({"predict": np.arange(5)}, [2, 3])
    assert [p["predict"].tolist() for p in pieces] == [[0, 1], [2, 3, 4]]
