"""A cache of URI → version resolutions, invalidated by the registry generation.

Every alias or version change bumps one counter in the registry (in the same
transaction), so a cached answer is valid exactly while the counter is unchanged:
one primary-key read replaces the joins of a full resolution, and a change made by
any process is seen at the next call.
"""

from __future__ import annotations

import threading

from shipyard.registry._backend import RegistryStore
from shipyard.registry._entities import ModelVersion

__all__ = ["ResolveCache"]


class ResolveCache:
    """Resolves model URIs through ``store``, remembering answers per generation."""

    def __init__(self, store: RegistryStore, max_entries: int = 10_000) -> None:
        self._store = store
        self._max = max_entries
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._entries: dict[str, ModelVersion] = {}

    def resolve(self, uri: str) -> ModelVersion:
        generation = self._store.generation()
        with self._lock:
            if generation != self._generation:
                self._entries.clear()
                self._generation = generation
            hit = self._entries.get(uri)
        if hit is not None:
            return hit
        version = self._store.resolve(uri)
        with self._lock:
            if generation == self._generation:
                if len(self._entries) >= self._max:
                    self._entries.clear()
                self._entries[uri] = version
        return version
