"""Keyset pages of a list the store returns whole: experiments, a run's artifacts, a model's history.

Such a list is small enough to read at once, but its answer must still come in bounded
pages. A page token names the key of the last item sent, not an offset, so an item
added or removed between two requests neither repeats nor hides another one. Items
are ordered by their key, which must be unique in the list; the tokens are the store's
(:func:`shipyard.store.encode_cursor`), as are those of :mod:`shipyard.server._seek`,
which pages the lists a store reads from a key on.

>>> page = keyset_page(["c", "a", "b"], str, 2, None)
>>> page.items, keyset_page(["c", "a", "b"], str, 2, page.next_page_token).items
(['a', 'b'], ['c'])
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from typing import TypeVar

from shipyard.store import decode_cursor, encode_cursor
from shipyard.tracking import Page

__all__ = ["keyset_page"]

T = TypeVar("T")
Key = int | str | tuple[int | str, ...]


def keyset_page(items: Iterable[T], key: Callable[[T], Key], max_results: int, page_token: str | None) -> Page:
    """The ``max_results`` items whose key follows the token's (all from the first, without one).

    ``next_page_token`` is None on the last page. A malformed token, or one made for a
    list with keys of another type, raises :class:`InvalidInput` naming ``page_token``.
    """
    ordered = sorted(((key(item), item) for item in items), key=lambda pair: pair[0])
    start = 0
    if page_token and ordered:
        first = ordered[0][0]
        shape = tuple(map(type, first)) if isinstance(first, tuple) else type(first)
        start = bisect.bisect_right([k for k, _ in ordered], decode_cursor(page_token, shape))
    chosen = ordered[start:start + max_results]
    more = start + max_results < len(ordered)
    return Page([item for _, item in chosen], encode_cursor(chosen[-1][0]) if more and chosen else None)
