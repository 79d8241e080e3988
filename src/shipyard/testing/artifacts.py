"""The conformance suite every :class:`~shipyard.store.artifacts.ArtifactStore` passes.

Subclass :class:`ArtifactStoreConformance` in a test module and provide a fixture
named ``artifact_store`` that yields a fresh, empty store; pytest collects the
inherited ``test_*`` methods::

    class TestMyStore(ArtifactStoreConformance):
        @pytest.fixture
        def artifact_store(self, tmp_path):
            return MyStore(tmp_path)

The suite needs nothing but the standard library, so a method can also be called
by hand with a store. Backends whose objects are not reachable as
``store.fs`` + ``store.object_path(digest)`` override :meth:`_corrupt`.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shipyard.errors import IntegrityError, InvalidInput, NotFound, ShipyardError
from shipyard.store.artifacts import ArtifactStore, ObjectRef, safe_relpath

__all__ = ["ArtifactStoreConformance"]

_BAD_DIGESTS = (
    "",
    "abc",
    "A" * 64,  # upper case
    "g" * 64,
    "0" * 63,
    "0" * 65,
    "../" + "0" * 61,
    "00/" + "0" * 61,
    "0" * 63 + "\x00",
)
_GOOD_PATHS = {
    "model.pkl": "model.pkl",
    "./model//weights.bin": "model/weights.bin",
    "a/b/c/": "a/b/c",
    "a/./b": "a/b",
    "..data/x..y": "..data/x..y",
}
_BAD_PATHS = (
    "",
    ".",
    "./",
    "../x",
    "/etc/passwd",
    "a/../../b",
    "a/..",
    "a\x00b",
    "a\\..\\b",
    "C:/x",
)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@contextmanager
def _raises(kind: type[ShipyardError], **attrs: Any) -> Iterator[None]:
    """Assert the block raises ``kind`` carrying the given attributes."""
    try:
        yield
    except kind as exc:
        for name, value in attrs.items():
            assert getattr(exc, name, None) == value, f"{name}={getattr(exc, name, None)!r}"
    else:
        raise AssertionError(f"{kind.__name__} not raised")


class _ShortReads(io.RawIOBase):
    """A non-seekable stream that returns short reads, like a socket."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._data.read(min(len(buffer), 7))
        buffer[: len(chunk)] = chunk
        return len(chunk)


class ArtifactStoreConformance:
    """Behaviour every artifact store must show; each test takes ``artifact_store``."""

    def _corrupt(self, store: ArtifactStore, digest: str) -> None:
        """Flip the first byte of a stored object behind the store's back."""
        backend: Any = store  # not part of the interface: FsspecArtifactStore's
        path = backend.object_path(digest)
        data = bytearray(backend.fs.cat_file(path))
        data[0] ^= 0xFF
        backend.fs.pipe_file(path, bytes(data))

    # -- round trips -------------------------------------------------------------

    def test_put_bytes_returns_sha256_ref_and_round_trips(self, artifact_store: ArtifactStore) -> None:
        ref = artifact_store.put_bytes(b"hello artifacts")
        assert ref == ObjectRef(_sha(b"hello artifacts"), 15)
        assert artifact_store.get_bytes(ref.digest) == b"hello artifacts"

    def test_empty_object_round_trips(self, artifact_store: ArtifactStore) -> None:
        ref = artifact_store.put_bytes(b"")
        assert ref == ObjectRef(_sha(b""), 0)
        assert artifact_store.get_bytes(ref.digest) == b""
        assert artifact_store.size(ref.digest) == 0
        assert b"".join(artifact_store.open(ref.digest)) == b""
        with tempfile.TemporaryDirectory() as tmp:
            assert artifact_store.get_file(ref.digest, Path(tmp, "e")).read_bytes() == b""
            assert artifact_store.put_file(Path(tmp, "e")) == ref

    def test_multi_mb_file_round_trips_through_files_and_streams(self, artifact_store: ArtifactStore) -> None:
        data = os.urandom(5 * 2**20 + 12_345)  # several chunks and an odd tail
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp, "src.bin")
            src.write_bytes(data)
            ref = artifact_store.put_file(src)
            assert ref == ObjectRef(_sha(data), len(data))
            out = artifact_store.get_file(ref.digest, Path(tmp, "nested", "dir", "out.bin"))
            assert out == Path(tmp, "nested", "dir", "out.bin")
            assert out.read_bytes() == data
        with artifact_store.open(ref.digest) as chunks:
            assert b"".join(chunks) == data
        assert artifact_store.get_bytes(ref.digest) == data

    def test_put_stream_reads_until_eof_despite_short_reads(self, artifact_store: ArtifactStore) -> None:
        data = bytes(range(256)) * 40
        ref = artifact_store.put_stream(_ShortReads(data))  # type: ignore[arg-type]
        assert ref == ObjectRef(_sha(data), len(data))
        assert artifact_store.get_bytes(ref.digest) == data

    # -- dedup and concurrency ---------------------------------------------------

    def test_same_content_is_stored_once_and_gives_the_same_ref(self, artifact_store: ArtifactStore) -> None:
        first = artifact_store.put_bytes(b"dup")
        assert artifact_store.put_bytes(b"dup") == first
        assert artifact_store.put_stream(io.BytesIO(b"dup")) == first
        with tempfile.TemporaryDirectory() as tmp:
            Path(tmp, "f").write_bytes(b"dup")
            assert artifact_store.put_file(Path(tmp, "f")) == first
        assert artifact_store.get_bytes(first.digest) == b"dup"

    def test_concurrent_puts_of_the_same_content_all_succeed(self, artifact_store: ArtifactStore) -> None:
        data = os.urandom(256 * 1024)
        threads, barrier = 8, threading.Barrier(8)
        refs: list[ObjectRef] = []
        errors: list[BaseException] = []

        def put(how: Callable[[bytes], ObjectRef]) -> None:
            try:
                barrier.wait()
                refs.append(how(data))
            except BaseException as exc:  # collected and re-raised below
                errors.append(exc)

        ways: list[Callable[[bytes], ObjectRef]] = [
            artifact_store.put_bytes,
            lambda d: artifact_store.put_stream(io.BytesIO(d)),
        ]
        workers = [threading.Thread(target=put, args=(ways[i % 2],)) for i in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert not errors, errors
        assert set(refs) == {ObjectRef(_sha(data), len(data))}
        assert artifact_store.get_bytes(_sha(data)) == data

    # -- missing and invalid digests -------------------------------------------

    def test_missing_digest_raises_not_found(self, artifact_store: ArtifactStore) -> None:
        digest = _sha(b"never stored")
        assert artifact_store.exists(digest) is False
        with _raises(NotFound, resource="artifact", digest=digest):
            artifact_store.get_bytes(digest)
        with _raises(NotFound, resource="artifact", digest=digest):
            artifact_store.open(digest)  # before the first chunk, so HTTP can answer 404
        with _raises(NotFound, resource="artifact", digest=digest):
            artifact_store.size(digest)
        with tempfile.TemporaryDirectory() as tmp:
            with _raises(NotFound, resource="artifact", digest=digest):
                artifact_store.get_file(digest, Path(tmp, "out"))
            assert os.listdir(tmp) == []

    def test_invalid_digests_are_rejected_before_any_io(self, artifact_store: ArtifactStore) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            calls: list[Callable[[str], object]] = [
                artifact_store.get_bytes,
                artifact_store.open,
                artifact_store.exists,
                artifact_store.size,
                artifact_store.delete,
                lambda d: artifact_store.get_file(d, Path(tmp, "out")),
            ]
            for bad in _BAD_DIGESTS:
                for call in calls:
                    with _raises(InvalidInput, field="digest"):
                        call(bad)
            assert os.listdir(tmp) == []

    # -- integrity ---------------------------------------------------------------

    def test_tampered_object_fails_get_bytes(self, artifact_store: ArtifactStore) -> None:
        ref = artifact_store.put_bytes(b"trust me")
        self._corrupt(artifact_store, ref.digest)
        with _raises(IntegrityError, digest=ref.digest):
            artifact_store.get_bytes(ref.digest)

    def test_tampered_object_fails_get_file_and_leaves_nothing(self, artifact_store: ArtifactStore) -> None:
        ref = artifact_store.put_bytes(b"trust me too")
        self._corrupt(artifact_store, ref.digest)
        with tempfile.TemporaryDirectory() as tmp:
            with _raises(IntegrityError, digest=ref.digest):
                artifact_store.get_file(ref.digest, Path(tmp, "out"))
            assert os.listdir(tmp) == []  # neither dest nor a temporary file
            Path(tmp, "out").write_bytes(b"previous")
            with _raises(IntegrityError, digest=ref.digest):
                artifact_store.get_file(ref.digest, Path(tmp, "out"))
            assert os.listdir(tmp) == ["out"]
            assert Path(tmp, "out").read_bytes() == b"previous"

    def test_tampered_object_fails_at_the_end_of_a_stream(self, artifact_store: ArtifactStore) -> None:
        data = os.urandom(3 * 2**20)
        ref = artifact_store.put_bytes(data)
        self._corrupt(artifact_store, ref.digest)
        received = bytearray()
        with _raises(IntegrityError, digest=ref.digest), artifact_store.open(ref.digest) as chunks:
            for chunk in chunks:
                received += chunk
        assert len(received) == len(data)

    def test_get_file_replaces_dest_whole(self, artifact_store: ArtifactStore) -> None:
        ref = artifact_store.put_bytes(b"new content")
        with tempfile.TemporaryDirectory() as tmp:
            dest = Path(tmp, "out")
            dest.write_bytes(b"old content that is longer")
            assert artifact_store.get_file(ref.digest, str(dest)) == dest
            assert dest.read_bytes() == b"new content"
            assert os.listdir(tmp) == ["out"]

    # -- exists, size, delete ----------------------------------------------------

    def test_exists_and_size_follow_puts_and_deletes(self, artifact_store: ArtifactStore) -> None:
        ref = artifact_store.put_bytes(b"12345")
        assert artifact_store.exists(ref.digest) is True
        assert artifact_store.size(ref.digest) == 5
        artifact_store.delete(ref.digest)
        assert artifact_store.exists(ref.digest) is False
        assert artifact_store.put_bytes(b"12345") == ref  # stored again after delete
        assert artifact_store.get_bytes(ref.digest) == b"12345"

    def test_delete_is_idempotent(self, artifact_store: ArtifactStore) -> None:
        ref = artifact_store.put_bytes(b"bye")
        artifact_store.delete(ref.digest)
        artifact_store.delete(ref.digest)
        artifact_store.delete(_sha(b"never stored"))
        assert artifact_store.exists(ref.digest) is False

    # -- logical paths -----------------------------------------------------------

    def test_safe_relpath_normalises_ordinary_paths(self) -> None:
        for given, expected in _GOOD_PATHS.items():
            assert safe_relpath(given) == expected, given

    def test_safe_relpath_rejects_paths_that_escape_their_root(self) -> None:
        for bad in _BAD_PATHS:
            with _raises(InvalidInput, field="path"):
                safe_relpath(bad)
