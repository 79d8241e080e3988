"""Login throttling: consecutive failures per user and per address slow, then refuse.

After ``slow_after`` failures in a row for a key, each further attempt is answered only
after ``delay`` seconds; after ``refuse_after`` it is refused outright until ``window``
seconds pass without a failure. A success clears the key. Keys are ``user:<name>`` and
``addr:<ip>``, so guessing one user's password from many addresses, or many users' from
one address, is throttled alike.

>>> limiter = LoginLimiter(slow_after=1, refuse_after=2, window=60, clock=lambda: 0.0)
>>> limiter.failed("user:ana"); limiter.verdict("user:ana")
('slow', 1.0)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

__all__ = ["LoginLimiter"]


class LoginLimiter:
    """Counts consecutive login failures per key, in memory (one server process)."""

    def __init__(self, slow_after: int = 5, refuse_after: int = 20, window: float = 300.0,
                 delay: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.slow_after = slow_after
        self.refuse_after = refuse_after
        self.window = window
        self.delay = delay
        self.clock = clock
        self._failures: dict[str, tuple[int, float]] = {}  # key -> (count, time of the last)
        self._lock = threading.Lock()

    def _count(self, key: str) -> int:
        count, last = self._failures.get(key, (0, 0.0))
        if count and self.clock() - last >= self.window:
            self._failures.pop(key, None)
            return 0
        return count

    def verdict(self, *keys: str) -> tuple[str, float]:
        """``("ok", 0)``, ``("slow", seconds to wait)`` or ``("refuse", seconds until the window ends)``."""
        with self._lock:
            worst = max((self._count(k) for k in keys), default=0)
            if worst >= self.refuse_after:
                last = max(self._failures[k][1] for k in keys if k in self._failures)
                return "refuse", max(0.0, self.window - (self.clock() - last))
            if worst >= self.slow_after:
                return "slow", self.delay
            return "ok", 0.0

    def failed(self, *keys: str) -> None:
        """Record one failed attempt against each key."""
        with self._lock:
            now = self.clock()
            for key in keys:
                self._failures[key] = (self._count(key) + 1, now)

    def succeeded(self, keys: Iterable[str]) -> None:
        """Clear the keys of a successful login."""
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)
