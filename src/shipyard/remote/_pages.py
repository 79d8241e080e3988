"""Reading a paged list of ``shipyard server`` whole: ``{"items", "next_page_token"?}`` page after page."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shipyard.remote._http import HttpTransport

__all__ = ["PAGE_SIZE", "every_item"]

#: Items asked for per page: the most a list route of ``/api/v1`` gives in one answer.
PAGE_SIZE = 10_000


def every_item(transport: HttpTransport, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Any]:
    """Every item ``GET path`` lists, following ``next_page_token`` until the last page.

    A server that sends the whole list at once (no ``next_page_token``) is read in one request.
    """
    query = {**(params or {}), "max_results": PAGE_SIZE}
    while True:
        data = transport.json("GET", path, params=query)
        yield from data["items"]
        token = data.get("next_page_token")
        if not token:
            return
        query = {**query, "page_token": token}
