"""Time helpers shared by the domain packages: the clock in milliseconds, and durations.

Stored times are integer milliseconds since the epoch (:func:`now_ms`). Durations are
written ``90s``, ``15m``, ``1h``, ``7d``, ``2w`` or a number of seconds
(:func:`parse_duration`). A base-layer module: it imports nothing of Shipyard but the
error tree.

>>> parse_duration("1h"), parse_duration(90), format_duration(604800)
(3600, 90, '1w')
"""

from __future__ import annotations

import re
import time
from typing import Any

from shipyard.errors import InvalidInput

__all__ = ["format_duration", "now_ms", "parse_duration"]

_DURATION_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([smhdw]?)\s*\Z")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def now_ms() -> int:
    """The current time in integer milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


def parse_duration(text: Any, field_name: str = "window") -> int:
    """Seconds in ``text`` (``90s``, ``15m``, ``1h``, ``7d``, ``2w``, or a number); at least 1.

    Raises :class:`~shipyard.errors.InvalidInput` with ``field=field_name`` for anything
    else, or for a duration outside 1 s to 366 d or not a whole number of seconds.
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        seconds = float(text)
    else:
        match = _DURATION_RE.match(str(text)) if isinstance(text, str) else None
        if match is None:
            raise InvalidInput(f"{field_name} must be a duration such as 90s, 15m, 1h or 7d, got {text!r}",
                               field=field_name)
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if not 1 <= seconds <= 366 * 86400 or seconds != int(seconds):
        raise InvalidInput(f"{field_name} must be a whole number of seconds from 1s to 366d, got {text!r}",
                           field=field_name)
    return int(seconds)


def format_duration(seconds: Any) -> Any:
    """``seconds`` in the largest unit that divides it (``21600`` → ``6h``), as durations are
    written; anything but a whole number of seconds is returned as it is, for a reader to refuse."""
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 1:
        return seconds
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
