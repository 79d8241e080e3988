"""A cache of API token → user resolutions, invalidated by the access generation.

Every write to users, tokens or grants bumps one counter in the metadata database (in
the same transaction), so a cached answer is valid exactly while the counter is
unchanged: one primary-key read replaces the token lookup and the user's grants, and a
revocation, a disabled user or a changed role made by any process is seen at the next
check. A token's expiry is kept with its answer, so an expired token is refused even
while the generation stands still.

An HTTP face on an event loop first asks :meth:`TokenCache.cached`, which answers from
memory, without I/O, while the store can tell without I/O that nothing was committed
since it last read the generation (SQLite: see :mod:`shipyard.access._generation`);
otherwise the face calls :meth:`TokenCache.user_for_token` off the loop.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from shipyard.access._entities import User
from shipyard.access._passwords import hash_token
from shipyard.timeutil import now_ms

__all__ = ["TokenCache"]


class _Resolver(Protocol):
    def generation(self) -> int: ...

    def token_owner(self, secret: str) -> tuple[User, int | None] | None: ...


class TokenCache:
    """``user_for_token(secret)`` through ``store``, remembering answers (misses too) per
    generation, at most ``max_entries`` of them (least recently used dropped first).

    Thread-safe; the lock guards only the dictionary, never a database read.
    """

    def __init__(self, store: _Resolver, max_entries: int = 10_000, clock: Callable[[], int] = now_ms) -> None:
        self.store = store
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._generation: int | None = None
        # sha256 of the token → (user or None for a refused token, expiry in ms or None)
        self._entries: OrderedDict[str, tuple[User | None, int | None]] = OrderedDict()
        # The generation as of now when the store can tell without I/O, else None.
        self._unchanged: Callable[[], int | None] = getattr(store, "generation_if_unchanged", lambda: None)

    @staticmethod
    def supports(store: Any) -> bool:
        """Whether ``store`` exposes the generation and token lookup this cache needs."""
        return callable(getattr(store, "generation", None)) and callable(getattr(store, "token_owner", None))

    def user_for_token(self, secret: str) -> User | None:
        """The enabled user whose live token ``secret`` is, or None; as fresh as the database."""
        generation = self.store.generation()
        key = hash_token(secret)
        with self._lock:
            if generation != self._generation:
                self._entries.clear()
                self._generation = generation
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
        if hit is not None:
            user, expires_at = hit
            if expires_at is None or expires_at > self._clock():
                return user
        found = self.store.token_owner(secret)
        user, expires_at = found if found is not None else (None, None)
        with self._lock:
            # An answer read under an older generation may already be stale: keep it only
            # while the generation it was read under is still the cache's.
            if generation == self._generation:
                self._entries[key] = (user, expires_at)
                self._entries.move_to_end(key)
                while len(self._entries) > self._max:
                    self._entries.popitem(last=False)
        if expires_at is not None and expires_at <= self._clock():
            return None
        return user

    def cached(self, secret: str) -> tuple[bool, User | None]:
        """``(True, answer)`` when memory holds the answer for ``secret`` and the store tells,
        without I/O, that the generation it was kept under is still current; else
        ``(False, None)``, and :meth:`user_for_token` must answer. Never blocks.

        Takes no lock: an entry is only ever stored under the generation current when it
        was read, and all are dropped when that moves, so whatever this read sees under the
        confirmed generation is valid. A hit here does not refresh the entry's place.
        """
        generation = self._unchanged()
        if generation is None or generation != self._generation:
            return False, None  # a different generation is for user_for_token to adopt
        hit = self._entries.get(hash_token(secret))
        if hit is None:
            return False, None
        user, expires_at = hit
        if expires_at is not None and expires_at <= self._clock():
            return True, None
        return True, user

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
