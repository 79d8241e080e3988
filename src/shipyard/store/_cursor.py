"""Page tokens: the one opaque cursor format of every paginated list, in stores and on the wire.

A list is read in its sort order from just after a key (keyset pagination), so an item
added or removed between two pages neither repeats nor hides another. The token holds
the sort key of the page's last item and, optionally, the name of the list it belongs to,
so one list's token is refused by another.

>>> decode_cursor(encode_cursor(("ana", 3), kind="users"), (str, int), kind="users")
('ana', 3)
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from shipyard.errors import InvalidInput

__all__ = ["MAX_PAGE", "check_max_results", "decode_cursor", "encode_cursor"]

#: The most items one page may hold.
MAX_PAGE = 10_000

# A key is one scalar, or a tuple of them, of these types.
Shape = type | tuple[type, ...]


def encode_cursor(key: Any, *, kind: str = "") -> str:
    """The page token of list ``kind`` that continues after sort key ``key`` (an int or str,
    or a tuple of them)."""
    raw = orjson.dumps({"k": kind, "a": list(key) if isinstance(key, tuple) else key})
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _fits(value: Any, kind: type) -> bool:
    return type(value) is kind


def decode_cursor(token: str | None, shape: Shape, *, kind: str = "") -> Any:
    """The sort key ``token`` continues after (a tuple when ``shape`` is one); None without a token.

    A token that is not one of :func:`encode_cursor`'s, belongs to another list than ``kind``,
    or whose key is not of ``shape``, raises :class:`InvalidInput` naming ``page_token``.
    """
    if not token:
        return None
    try:
        data = orjson.loads(base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True))
    except ValueError:  # binascii.Error and orjson.JSONDecodeError are ValueErrors
        data = None
    key = data.get("a") if isinstance(data, dict) and data.get("k") == kind else None
    if isinstance(shape, tuple):
        if isinstance(key, list) and len(key) == len(shape) and all(map(_fits, key, shape)):
            return tuple(key)
    elif _fits(key, shape):
        return key
    raise InvalidInput(f"page_token: not a page token of this list: {token[:40]!r}", field="page_token")


def check_max_results(max_results: object) -> int | None:
    """``max_results`` if it is None (every item) or 1 to :data:`MAX_PAGE`, else :class:`InvalidInput`."""
    if max_results is None:
        return None
    if isinstance(max_results, bool) or not isinstance(max_results, int) or not 1 <= max_results <= MAX_PAGE:
        raise InvalidInput(f"max_results: must be an integer from 1 to {MAX_PAGE}, got {max_results!r:.40}",
                           field="max_results")
    return max_results
