"""The artifact store: immutable, content-addressed (sha256) blobs.

:class:`ArtifactStore` is the interface; :class:`FsspecArtifactStore` implements it
on local disk and S3; :func:`open_artifact_store` picks the backend from a URI.
Logical per-run paths live in the metadata database, not here; validate them with
:func:`safe_relpath`.

>>> import tempfile
>>> store = open_artifact_store(tempfile.mkdtemp())
>>> ref = store.put_bytes(b"weights")
>>> store.exists(ref.digest), store.size(ref.digest)
(True, 7)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidInput
from shipyard.store.artifacts._base import (
    ArtifactStore,
    ObjectReader,
    ObjectRef,
    check_digest,
    safe_relpath,
)

if TYPE_CHECKING:
    from shipyard.store.artifacts._fsspec_store import FsspecArtifactStore

__all__ = [
    "ArtifactStore",
    "FsspecArtifactStore",
    "ObjectReader",
    "ObjectRef",
    "check_digest",
    "open_artifact_store",
    "safe_relpath",
]


def open_artifact_store(uri: str, *, s3_endpoint_url: str | None = None) -> ArtifactStore:
    """The artifact store at ``uri`` (e.g. ``Config.artifacts_uri``); does no I/O.

    ``s3://bucket/prefix`` opens S3 (needs the ``s3`` extra, else MissingExtra;
    ``s3_endpoint_url``, from ``Config.s3_endpoint_url``, targets an S3-compatible
    server). A plain path or a ``file://`` URL opens a local directory. Any other
    scheme raises ``InvalidInput(field="uri")``.
    """
    from urllib.parse import urlsplit
    from urllib.request import url2pathname

    from shipyard.store.artifacts._fsspec_store import FsspecArtifactStore

    if not isinstance(uri, str) or not uri:
        raise InvalidInput(f"artifact store URI must be a non-empty string, got {uri!r}", field="uri")
    if uri.startswith("s3://"):
        return FsspecArtifactStore.s3(uri, endpoint_url=s3_endpoint_url)
    if uri.startswith("file://"):
        parts = urlsplit(uri)
        if parts.netloc not in ("", "localhost"):
            raise InvalidInput(f"file URI must be local, got {uri!r}", field="uri")
        return FsspecArtifactStore.local(url2pathname(parts.path))
    if "://" in uri:
        raise InvalidInput(f"unsupported artifact store URI {uri!r}", field="uri")
    return FsspecArtifactStore.local(uri)


def __getattr__(name: str) -> Any:
    # The fsspec store (and fsspec itself) loads on first use: importing this package for
    # its interface and path checks, as ``import shipyard`` does, stays cheap.
    if name == "FsspecArtifactStore":
        from shipyard.store.artifacts._fsspec_store import FsspecArtifactStore

        return FsspecArtifactStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
