"""The refusal pacer: refusals go out at once up to its rate, then in turn, first come first served."""

from __future__ import annotations

import asyncio
import time

from shipyard.serving._pacing import RefusalPacer


def test_refusals_within_the_rate_go_at_once_and_the_rest_wait_their_turn_in_order() -> None:
    async def main() -> tuple[int, list[int], float]:
        pacer = RefusalPacer(lambda: 200.0, burst_s=0.05)  # bursts of 10, then one per 5 ms
        started = time.perf_counter()
        turns = [pacer.acquire() for _ in range(40)]
        immediate = sum(turn is None for turn in turns)
        order: list[int] = []
        waiting = [(i, turn) for i, turn in enumerate(turns) if turn is not None]
        for i, turn in waiting:
            turn.add_done_callback(lambda _, i=i: order.append(i))
        await asyncio.gather(*(turn for _, turn in waiting))
        return immediate, order, time.perf_counter() - started

    immediate, order, elapsed = asyncio.run(main())
    assert immediate == 10
    assert order == list(range(10, 40))
    assert 0.12 <= elapsed < 2.0  # 30 more at 200/s: 0.15 s, give or take a coarse timer


def test_a_refusal_whose_client_left_costs_no_turn() -> None:
    async def main() -> float:
        pacer = RefusalPacer(lambda: 10.0, burst_s=0.1)  # one at once, then one per 100 ms
        assert pacer.acquire() is None
        gone, kept = pacer.acquire(), pacer.acquire()
        assert gone is not None and kept is not None and pacer.waiting == 2
        gone.cancel()
        started = time.perf_counter()
        await kept
        return time.perf_counter() - started

    assert asyncio.run(main()) < 0.19  # the next turn (100 ms), not the one after it


def test_retry_after_spreads_the_refused_clients_over_a_share_of_the_rate() -> None:
    async def main() -> tuple[int, int, int]:
        pacer = RefusalPacer(lambda: 100.0, spread=0.5)  # returns spread over 50 refusals a second
        for _ in range(200):
            pacer.acquire(("127.0.0.1", 40000))  # one client refused again and again
        one = pacer.retry_after()
        many = RefusalPacer(lambda: 100.0, spread=0.5)
        for port in range(200):
            many.acquire(("127.0.0.1", port))  # 200 clients: back over 4 s, 50 a second
        crowd = many.retry_after()
        flood = RefusalPacer(lambda: 100.0, spread=0.5)
        for port in range(100_000):
            flood.acquire(("127.0.0.1", port))
        return one, crowd, flood.retry_after()

    one, crowd, flood = asyncio.run(main())
    assert (one, crowd) == (1, 4)
    assert flood == 30  # never longer than 30 s
