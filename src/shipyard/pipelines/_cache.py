"""Cache keys and the cache index interface.

A step's cache key is the sha256 of its code fingerprint (its source and the
project code it calls, see :mod:`shipyard.pipelines._fingerprint`) and, for each
argument, the content hash of its value: an upstream output's digest, or the
digest of a constant serialized like an output. Names of steps and parameters do
not enter it, so renaming a node or reading the same data under another name
still hits; changing a line of code, a parameter's value, or one byte of an
input misses.

The index maps a key to the stored output (:class:`CacheEntry`). Where it lives is
the recorder's business; :class:`MemoryCacheIndex` serves untracked runs and tests.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Protocol

from shipyard.pipelines._task import OutputRef

__all__ = ["CACHE_FORMAT", "CacheEntry", "CacheIndex", "MemoryCacheIndex", "cache_key"]

#: Bumped when the key's recipe changes, so old entries stop matching.
CACHE_FORMAT = 1


def cache_key(fingerprint: str, args: dict[str, Any]) -> str:
    """The key of a step call: ``args`` maps each argument to its content key (JSON-able)."""
    text = json.dumps({"v": CACHE_FORMAT, "code": fingerprint, "args": args}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    """A cached output and the run that computed it."""

    output: OutputRef
    step: str
    run_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"output": self.output.to_json(), "step": self.step, "run_id": self.run_id}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CacheEntry:
        return cls(OutputRef.from_json(data["output"]), data["step"], data.get("run_id"))


class CacheIndex(Protocol):
    """Where cache entries are kept. ``put`` may be asynchronous but must be durable
    once the pipeline run has ended."""

    def get(self, key: str) -> CacheEntry | None: ...

    def put(self, key: str, entry: CacheEntry) -> None: ...


class MemoryCacheIndex:
    """A cache index in a dict: for untracked runs and tests."""

    def __init__(self) -> None:
        self.entries: dict[str, CacheEntry] = {}

    def get(self, key: str) -> CacheEntry | None:
        return self.entries.get(key)

    def put(self, key: str, entry: CacheEntry) -> None:
        self.entries[key] = entry
