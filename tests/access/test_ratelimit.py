"""Login throttling: slowed, then refused, then allowed again after the window."""

from __future__ import annotations

from shipyard.access import LoginLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failures_slow_then_refuse_until_the_window_passes() -> None:
    clock = Clock()
    limiter = LoginLimiter(slow_after=5, refuse_after=20, window=300, delay=0.5, clock=clock)
    keys = ("user:ana", "addr:10.0.0.1")
    verdicts = []
    for _ in range(100):
        verdicts.append(limiter.verdict(*keys)[0])
        if verdicts[-1] != "refuse":
            limiter.failed(*keys)
    assert verdicts[:5] == ["ok"] * 5
    assert verdicts[5:20] == ["slow"] * 15
    assert set(verdicts[20:]) == {"refuse"}
    clock.now += 299
    assert limiter.verdict(*keys)[0] == "refuse"
    clock.now += 1
    assert limiter.verdict(*keys) == ("ok", 0.0)


def test_keys_count_separately_and_a_success_clears_them() -> None:
    limiter = LoginLimiter(slow_after=1, refuse_after=2, clock=Clock())
    limiter.failed("user:ana", "addr:a")
    limiter.failed("user:ana", "addr:a")
    assert limiter.verdict("user:ana", "addr:b")[0] == "refuse"  # the same user from elsewhere
    assert limiter.verdict("user:bob", "addr:a")[0] == "refuse"  # another user from the same address
    assert limiter.verdict("user:bob", "addr:b")[0] == "ok"
    limiter.succeeded(["user:ana", "addr:a"])
    assert limiter.verdict("user:ana", "addr:a")[0] == "ok"
