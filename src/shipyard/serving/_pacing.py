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
from collections.abc import Callable

__all__ = ["RefusalPacer"]

_TICK_S = 0.002  # the shortest wait between two releases of waiting refusals


class RefusalPacer:
    """Lets refusals out at most ``rate()`` per second, in bursts of ``burst_s`` seconds' worth.

    ``rate`` is called whenever tokens are added (it may change as the models' service
    rate is measured). Learned state: ``tokens_``. The constructor does no work.
    """

    def __init__(self, rate: Callable[[], float], *, burst_s: float = 0.05) -> None:
        self.rate = rate
        self.burst_s = burst_s
        self.tokens_ = -1.0  # full on first use
        self._stamp = 0.0
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    @property
    def waiting(self) -> int:
        """Refusals held back now."""
        return len(self._waiting)

    def backlog_s(self) -> int:
        """Whole seconds (rounded up) until the refusals held back now have gone out; 0 when none wait."""
        return math.ceil(len(self._waiting) / max(self.rate(), 1.0)) if self._waiting else 0

    def _refill(self) -> float:
        now = time.perf_counter()
        rate = max(self.rate(), 1.0)
        burst = max(1.0, rate * self.burst_s)
        self.tokens_ = burst if self.tokens_ < 0 else min(burst, self.tokens_ + (now - self._stamp) * rate)
        self._stamp = now
        return rate

    def acquire(self) -> asyncio.Future[None] | None:
        """None when a refusal may be sent now; otherwise a future that resolves at its turn."""
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
