"""Pages of a list the store reads from a key on: dataset versions, monitor windows, series
points, alert history, the audit log, pipeline runs.

Such a store answers ``fetch(after, limit)`` — the next ``limit`` items whose sort key follows
``after`` — with one bounded query however long the list. The page token holds the key of
the page's last item, so items added or removed between two requests neither repeat nor
hide others. A list the store gives whole is paged by :func:`shipyard.server._paging.keyset_page`.
Every list route takes ``max_results`` (:data:`MaxResults`) and ``page_token`` (:data:`PageToken`).

>>> page = seek_page(lambda after, n: [x for x in (1, 2, 3) if after is None or x > after][:n],
...                  lambda x: x, 2, None, int)
>>> page.items, seek_page(lambda after, n: [3][:n], lambda x: x, 2, page.next_page_token, int).items
([1, 2], [3])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import Query

from shipyard.store import MAX_PAGE, decode_cursor, encode_cursor
from shipyard.tracking import Page

__all__ = ["MAX_RESULTS", "MaxResults", "PageToken", "seek_page"]

T = TypeVar("T")

#: The most items one page may hold.
MAX_RESULTS = MAX_PAGE

MaxResults = Annotated[int, Query(ge=1, le=MAX_RESULTS, description="The most items this page holds")]
PageToken = Annotated[str | None, Query(max_length=4096,
                                        description="The previous page's next_page_token; absent: the first page")]

Shape = type | tuple[type, ...]


def seek_page(fetch: Callable[[Any, int], Sequence[T]], key: Callable[[T], Any], max_results: int,
              page_token: str | None, shape: Shape) -> Page:
    """The page ``page_token`` asks for: ``fetch(after, limit)`` gives up to ``limit`` items whose
    key follows ``after`` (None: from the first), in key order; ``shape`` is the key's type(s).

    A full page asks for one item past its end, so the last page carries no token, and
    ``limit`` never exceeds ``max_results`` (whatever bound the store sets).
    """
    items = list(fetch(decode_cursor(page_token, shape), max_results))
    if len(items) < max_results or not fetch(key(items[-1]), 1):
        return Page(items)
    return Page(items, encode_cursor(key(items[-1])))
