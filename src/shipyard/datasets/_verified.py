"""A stream that must hash to a stated digest, or fail before its end is seen.

An object's digest is named before its bytes arrive (an upload to
``/objects/{sha256}``, a file whose hash was taken when it was staged). Handing the
bytes to :meth:`ArtifactStore.put_stream` and comparing afterwards would keep bytes
that match nothing: the store files them under what they hash to. Wrapped in
:class:`VerifiedReader`, the stream raises at its end instead, while the store still
holds them in its temporary file, and an artifact store publishes nothing from a put
that failed (its atomic-write promise), so a mismatch leaves nothing behind.

>>> import hashlib, io
>>> reader = VerifiedReader(io.BytesIO(b"hi"), hashlib.sha256(b"hi").hexdigest(), "mismatch")
>>> reader.read(1 << 20), reader.read(1 << 20)
(b'hi', b'')
"""

from __future__ import annotations

import hashlib
from typing import BinaryIO

from shipyard.errors import IntegrityError

__all__ = ["VerifiedReader"]


class VerifiedReader:
    """The bytes of ``stream``, hashed as they are read; the read that finds the end raises
    ``IntegrityError(message, field="digest", expected=digest, actual=...)`` unless they hash
    to ``digest``."""

    def __init__(self, stream: BinaryIO, digest: str, message: str) -> None:
        self._stream = stream
        self._hash = hashlib.sha256()
        self.digest = digest
        self.message = message

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size)
        if chunk:
            self._hash.update(chunk)
        elif size != 0:
            actual = self._hash.hexdigest()
            if actual != self.digest:
                raise IntegrityError(f"{self.message}: the bytes hash to {actual}, not {self.digest}",
                                     field="digest", expected=self.digest, actual=actual)
        return chunk
