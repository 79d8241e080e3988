"""Refusals under a flood: answered at once while they are few, paced when they are many.

A refusal (503, decided at the door before the body is read) is cheap but not free:
uvicorn parses the request head and the app answers it, some tens of microseconds of
the event loop. A client that ignores ``Retry-After`` sends again the moment its 503
arrives, so thousands of such connections would spend the loop on refusals and starve
the admitted requests: goodput collapses while every answer, 200 or 503, slows down.

:class:`RefusalPacer` is a token bucket over the refusals of one event loop: up to
``rate()`` per second (bursts of ``burst_s`` worth) go out at once; beyond that, a
refusal waits its turn, first come first served. A client that retries at once then
waits for its 503 instead of taking the loop from the model, so goodput holds. The
serving app's ``rate()`` is a share of the measured service rate of its models (with
a floor), so refusals never cost more than a fixed fraction of the loop.

:meth:`RefusalPacer.retry_after` spreads the clients that heed ``Retry-After``: it
counts the distinct connections refused lately and advises each to come back after
``refused clients ÷ (spread × rate)`` seconds, so that their returns fit in a share
``spread`` of the pacer's rate and are answered at once instead of queueing for a turn.
A fixed ``Retry-After: 1`` sent 3,500 refused clients back every second at 4,096
connections, more than the rate lets out at once, so their 503s waited in turn.

>>> import asyncio
>>> async def main():
...     pacer = RefusalPacer(lambda: 100.0, burst_s=0.02)  # 2 at once, then one per 10 ms
...     waits = [pacer.acquire() for _ in range(4)]
...     return [w is None for w in waits], await asyncio.gather(*(w for w in waits if w is not None))
>>> asyncio.run(main())
([True, True, False, False], [None, None])
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable, Hashable

__all__ = ["RefusalPacer"]

_TICK_S = 0.002  # the shortest wait between two releases of waiting refusals
_WINDOW_S = 1.0  # refused clients are counted over at least this long
_MAX_RETRY_AFTER_S = 30  # never send a client away for longer


class RefusalPacer:
    """Lets refusals out at most ``rate()`` per second, in bursts of ``burst_s`` seconds' worth.

    ``rate`` is called whenever tokens are added (it may change as the models' service
    rate is measured). Learned state: ``tokens_``. The constructor does no work.
    """

    def __init__(self, rate: Callable[[], float], *, burst_s: float = 0.05, spread: float = 0.5) -> None:
        self.rate = rate
        self.burst_s = burst_s
        self.spread = spread
        self.tokens_ = -1.0  # full on first use
        self.clients_ = 0  # distinct clients refused in the last whole window
        self._stamp = 0.0
        self._refused: set[Hashable] = set()  # distinct clients refused in the current window
        self._window_start = 0.0
        self._advised = 1
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    @property
    def waiting(self) -> int:
        """Refusals held back now."""
        return len(self._waiting)

    def retry_after(self) -> int:
        """Seconds a refused client should wait so that the clients refused lately come back
        spread over a share ``spread`` of the rate (at least 1, at most 30)."""
        clients = max(self.clients_, len(self._refused))
        budget = max(self.rate(), 1.0) * self.spread
        self._advised = max(1, min(_MAX_RETRY_AFTER_S, math.ceil(clients / budget)))
        return self._advised

    def _count(self, client: Hashable) -> None:
        now = time.perf_counter()
        # A window at least as long as the slowest return (Retry-After × 1.5 with jitter), so
        # that a client who heeds it is counted once in each whole window, not missed.
        if now - self._window_start >= max(_WINDOW_S, 1.5 * self._advised):
            self.clients_ = len(self._refused) if self._window_start else 0
            self._refused = set()
            self._window_start = now
        self._refused.add(client)

    def _refill(self) -> float:
        now = time.perf_counter()
        rate = max(self.rate(), 1.0)
        burst = max(1.0, rate * self.burst_s)
        self.tokens_ = burst if self.tokens_ < 0 else min(burst, self.tokens_ + (now - self._stamp) * rate)
        self._stamp = now
        return rate

    def acquire(self, client: Hashable = None) -> asyncio.Future[None] | None:
        """None when a refusal may be sent now; otherwise a future that resolves at its turn.

        ``client`` (the connection's address) is counted for :meth:`retry_after`."""
        self._count(client)
        self._refill()
        if not self._waiting and self.tokens_ >= 1:
            self.tokens_ -= 1
            return None
        loop = asyncio.get_running_loop()
        turn: asyncio.Future[None] = loop.create_future()
        self._waiting.append(turn)
        if self._timer is None:
            self._timer = loop.call_later(_TICK_S, self._release)
        return turn

    def _release(self) -> None:
        self._timer = None
        rate = self._refill()
        waiting = self._waiting
        while waiting and self.tokens_ >= 1:
            turn = waiting.popleft()
            if not turn.done():  # a cancelled waiter (its client left) costs no token
                turn.set_result(None)
                self.tokens_ -= 1
        if waiting:
            delay = max(_TICK_S, (1 - self.tokens_) / rate)
            self._timer = asyncio.get_running_loop().call_later(delay, self._release)
