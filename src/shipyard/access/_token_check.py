"""A picklable token check for processes that hold no access store, such as serving workers."""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["TokenCheck"]


class TokenCheck:
    """``check(token)``: whether ``token`` is a live API token of an enabled user of the
    database at ``database_url``. Opens the database on first use, in the process that
    calls it, so it can be pickled to a worker before then. Answers come through a
    :class:`~shipyard.access._cache.TokenCache`: one primary-key read per check while
    nothing about access changes, and a revocation is seen at the next check.

    An event loop asks :meth:`answer_now` first, which answers from memory without I/O
    while nothing was committed to the database since the last check (SQLite), and calls
    the check itself off the loop otherwise.
    """

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._cache: Any = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"database_url": self.database_url}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["database_url"])  # type: ignore[misc]

    def __call__(self, token: str) -> bool:
        return self._tokens().user_for_token(token) is not None

    def answer_now(self, token: str) -> bool | None:
        """Whether ``token`` is accepted, when that is known without I/O (see
        :meth:`~shipyard.access._cache.TokenCache.cached`); None when only a call can tell,
        as before the first call (which imports and opens what the check needs)."""
        cache = self._cache
        if cache is None:
            return None
        known, user = cache.cached(token)
        return user is not None if known else None

    def close(self) -> None:
        """Close the database connections the check opened (a later check opens them again)."""
        with self._lock:
            cache, self._cache = self._cache, None
        if cache is not None:
            cache.store.close()
            cache.store.db.dispose()

    def _tokens(self) -> Any:
        if self._cache is None:
            with self._lock:
                if self._cache is None:  # no I/O here: the database opens at the first read
                    from shipyard.access._cache import TokenCache
                    from shipyard.access._sql_store import SqlAccessStore
                    from shipyard.store import Database

                    self._cache = TokenCache(SqlAccessStore(Database(self.database_url)))
        return self._cache

    def __repr__(self) -> str:
        return "TokenCheck(...)"  # the URL may carry a database password
