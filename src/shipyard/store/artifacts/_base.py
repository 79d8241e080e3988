"""The artifact store contract: immutable blobs addressed by their sha256.

An :class:`ArtifactStore` keeps bytes under the lowercase hex sha256 of their
content and nothing else: which run logged ``model/weights.bin`` lives in the
metadata database. Three promises hold for every backend:

* **Atomic writes.** An object is never visible under its digest until all of its
  bytes are there; a crashed or failed put leaves nothing under the digest.
* **Verified reads.** Every read re-hashes what it returns and raises
  :class:`~shipyard.errors.IntegrityError` on a mismatch, so tampered or torn
  bytes are never handed out silently.
* **Checked digests.** Every digest argument must be exactly 64 lowercase hex
  characters (:func:`check_digest`), so no caller-supplied string forms a path.

Putting content that is already stored is a cheap no-op (deduplication).
:mod:`shipyard.testing.artifacts` holds the conformance suite every backend passes.

>>> ref = ObjectRef(digest=hashlib.sha256(b"hi").hexdigest(), size=2)
>>> ref.digest[:12]
'8f434346648f'
"""

from __future__ import annotations

import abc
import hashlib
import os
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from shipyard.errors import IntegrityError, InvalidInput

__all__ = [
    "CHUNK_SIZE",
    "ArtifactStore",
    "ObjectReader",
    "ObjectRef",
    "check_digest",
    "check_hash",
    "safe_relpath",
]

#: Bytes read, hashed and written at a time when streaming.
CHUNK_SIZE = 1 << 20

_DIGEST = re.compile(r"[0-9a-f]{64}")
_DRIVE = re.compile(r"[A-Za-z]:")


def check_digest(digest: object) -> str:
    """Return ``digest`` if it is 64 lowercase hex characters, else raise InvalidInput.

    >>> check_digest("0" * 64) == "0" * 64
    True
    """
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise InvalidInput(
            f"digest must be 64 lowercase hex characters (a sha256), got {str(digest)[:80]!r}",
            field="digest",
        )
    return digest


def safe_relpath(path: str) -> str:
    """Normalise a logical artifact path, rejecting any path that escapes its root.

    The result is a relative POSIX path with no empty, ``.`` or ``..`` parts.
    Rejected with ``InvalidInput(field="path")``: non-strings, the empty path, NUL
    bytes, backslashes (a separator on Windows, so ``a\\..\\..\\b`` cannot sneak
    past), absolute paths (``/x``, ``C:/x``) and any ``..`` part.

    >>> safe_relpath("./model//weights.bin")
    'model/weights.bin'
    """

    def reject(why: str) -> InvalidInput:
        return InvalidInput(f"artifact path {str(path)[:200]!r} {why}", field="path")

    if not isinstance(path, str):
        raise reject("is not a string")
    if "\x00" in path:
        raise reject("contains a NUL byte")
    if "\\" in path:
        raise reject("contains a backslash; use '/' as the separator")
    if path.startswith("/") or _DRIVE.match(path):
        raise reject("is absolute; artifact paths are relative to their run")
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise reject("contains '..'")
    if not parts:
        raise reject("is empty")
    return "/".join(parts)


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """A stored object: the sha256 of its content (64 lowercase hex) and its size in bytes."""

    digest: str
    size: int


def check_hash(digest: str, actual: str) -> None:
    """Raise ``IntegrityError(digest=..., actual=...)`` unless ``actual == digest``."""
    if actual != digest:
        raise IntegrityError(
            f"artifact {digest} is corrupt: its bytes hash to {actual}",
            digest=digest,
            actual=actual,
        )


class ObjectReader(Iterator[bytes]):
    """The chunks of one stored object, verified against its digest at the end.

    Iterating yields the object's bytes in chunks of at most ``chunk_size``; when
    the end is reached the sha256 of everything yielded is compared with
    ``digest`` and :class:`~shipyard.errors.IntegrityError` is raised on a
    mismatch. Consumers that stream to a client (HTTP downloads) therefore learn
    about corruption before the response is complete. ``guard`` wraps each read
    so that a backend can translate its own exceptions. Close it (or use it as a
    context manager) if you stop early.
    """

    def __init__(
        self,
        raw: BinaryIO,
        digest: str,
        *,
        chunk_size: int = CHUNK_SIZE,
        guard: Callable[[], AbstractContextManager[object]] = nullcontext,
    ) -> None:
        self.digest = digest
        self._raw = raw
        self._chunk_size = chunk_size
        self._guard = guard
        self._hash = hashlib.sha256()
        self._done = False

    def __iter__(self) -> ObjectReader:
        return self

    def __next__(self) -> bytes:
        if self._done:
            raise StopIteration
        try:
            with self._guard():
                chunk = self._raw.read(self._chunk_size)
        except BaseException:
            self.close()
            raise
        if chunk:
            self._hash.update(chunk)
            return chunk
        self.close()
        check_hash(self.digest, self._hash.hexdigest())
        raise StopIteration

    def close(self) -> None:
        """Release the underlying handle; further iteration yields nothing."""
        self._done = True
        self._raw.close()

    def __enter__(self) -> ObjectReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class ArtifactStore(abc.ABC):
    """Immutable blobs keyed by sha256; see the module docstring for the guarantees.

    Every ``digest`` argument is validated with :func:`check_digest`. A digest that
    is not stored raises ``NotFound(resource="artifact", digest=...)``; stored bytes
    that do not hash to their digest raise ``IntegrityError(digest=...)``; backend
    failures raise :class:`~shipyard.errors.StorageError` (``Unavailable`` when the
    backend cannot be reached).
    """

    #: The root of the store, e.g. ``/data/artifacts`` or ``s3://bucket/prefix``.
    uri: str

    @abc.abstractmethod
    def put_bytes(self, data: bytes) -> ObjectRef:
        """Store ``data``; a no-op if the same content is already stored."""

    @abc.abstractmethod
    def put_file(self, path: str | os.PathLike[str]) -> ObjectRef:
        """Store the content of a local file, streaming it (never fully in memory)."""

    @abc.abstractmethod
    def put_stream(self, stream: BinaryIO) -> ObjectRef:
        """Store everything read from ``stream`` until EOF (e.g. an HTTP upload).

        The stream is read once, in chunks, to a temporary location while being
        hashed; the object is published under its digest only when complete.
        """

    @abc.abstractmethod
    def get_bytes(self, digest: str) -> bytes:
        """Return the whole object, verified against ``digest``."""

    @abc.abstractmethod
    def get_file(self, digest: str, dest: str | os.PathLike[str]) -> Path:
        """Download the object to ``dest`` (a local path) and return it as a Path.

        The bytes land in a temporary file beside ``dest``, are verified, and only
        then renamed over ``dest``; on any failure ``dest`` is left untouched and
        no temporary file remains. Missing parent directories are created.
        """

    @abc.abstractmethod
    def open(self, digest: str) -> ObjectReader:
        """Stream the object in chunks, verifying it when the end is reached.

        ``NotFound`` is raised here, before any chunk, so an HTTP face can still
        answer 404; ``IntegrityError`` is raised by the final ``next()``.
        """

    @abc.abstractmethod
    def exists(self, digest: str) -> bool:
        """Whether an object is stored under ``digest``."""

    @abc.abstractmethod
    def size(self, digest: str) -> int:
        """The size in bytes of the stored object."""

    @abc.abstractmethod
    def delete(self, digest: str) -> None:
        """Remove the object; deleting a missing object is not an error."""
