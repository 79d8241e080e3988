"""Counts in messages, with the noun in the right number.

>>> counted(1, "violation"), counted(2, "violation"), counted(1234, "row")
('1 violation', '2 violations', '1,234 rows')
"""

from __future__ import annotations

__all__ = ["counted"]


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``count`` and ``noun``, made plural (``noun + "s"`` or ``plural``) unless it is 1."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"
