"""Time helpers: durations in the text users write, and the millisecond clock."""

from __future__ import annotations

import time

import pytest

from shipyard.errors import InvalidInput
from shipyard.timeutil import now_ms, parse_duration


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("15m", 900), ("1h", 3600), ("7d", 604800), ("2w", 1209600),
                                           ("3600", 3600), (60, 60), ("1.5h", 5400)])
def test_durations(text: object, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "-1h", "1y", "0s", "0.5s", True, None, "400d"])
def test_bad_durations_name_the_field(text: object) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_duration(text, "window")
    assert info.value.field == "window"  # type: ignore[attr-defined]


def test_now_is_integer_milliseconds_since_the_epoch() -> None:
    before = time.time_ns() // 1_000_000
    now = now_ms()
    assert isinstance(now, int) and before <= now <= time.time_ns() // 1_000_000
