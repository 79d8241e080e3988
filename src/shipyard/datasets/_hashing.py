"""Hashing staged files: fast for many small files, parallel for large ones, remembered.

Small files (under 64 KiB, read in one call) are hashed in the calling thread:
for them the cost is system calls and interpreter overhead, and threads only
fight over the GIL (20,000 files of 512 bytes: 0.26 s in one thread, 0.9 s in two,
on this machine). Larger files go to a thread pool, where ``hashlib`` releases the
GIL while it digests, so big files hash in parallel.

**Remembered hashes.** Registering a new version of a large local folder should not
re-read every unchanged file. :class:`HashCache` keeps, per source folder, each
file's sha256 with its size, mtime, ctime and inode; a file whose four values are
unchanged is not read again. Writing a file always moves its ctime (which cannot
be set back, unlike mtime), so a rewritten file is never mistaken for the old one.
As in git's "racily clean" rule, a file changed less than 2 s before it was hashed
is not remembered: a second write within the same timestamp tick could otherwise
go unnoticed. Only files registered from a local path are remembered, never
temporary copies.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson

from shipyard.datasets._entities import DatasetFile
from shipyard.datasets._sources import Staged
from shipyard.errors import InvalidInput

__all__ = ["HashCache", "hash_files"]

_SMALL = 1 << 16  # below malloc's mmap threshold: a read this size costs no mmap/munmap
_RACY_NS = 2_000_000_000

Progress = Callable[[int], object]
Key = tuple[int, int, int, int]


class HashCache:
    """Remembered hashes of the files under local folders, one small file per folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def _file(self, root: Path) -> Path:
        return self.folder / f"{hashlib.sha256(str(root.absolute()).encode()).hexdigest()[:32]}.json"

    def load(self, root: Path) -> dict[str, list[int | str]]:
        try:
            data = orjson.loads(self._file(root).read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return {}
        entries = data.get("files") if isinstance(data, dict) and data.get("root") == str(root.absolute()) else None
        return entries if isinstance(entries, dict) else {}

    def save(self, root: Path, entries: dict[str, list[int | str]]) -> None:
        """Write atomically; a failure only costs re-hashing next time."""
        target = self._file(root)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(orjson.dumps({"root": str(root.absolute()), "files": entries}))
            os.replace(tmp, target)
        except OSError:
            tmp.unlink(missing_ok=True)


def hash_files(staged: Staged, *, workers: int = 8, progress: Progress | None = None,
               cache: HashCache | None = None) -> list[DatasetFile]:
    """The (path, sha256, size) of every staged file, sorted by path (see the module docstring)."""
    remember = cache is not None and not staged.temporary
    known = cache.load(staged.root) if remember and cache is not None else {}
    fresh: dict[str, list[int | str]] = {}
    started = time.time_ns()
    files: list[DatasetFile] = []
    large: list[tuple[str, bytes, Key]] = []
    root = str(staged.root).rstrip("/") + "/"
    for path in staged.paths:
        try:
            key: Key = (0, 0, 0, 0)
            if remember:
                st = os.stat(root + path)  # a stat is several times cheaper than an open
                key = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
                entry = known.get(path)
                if entry is not None and tuple(entry[:4]) == key:
                    files.append(DatasetFile(path, str(entry[4]), key[0]))
                    fresh[path] = entry
                    if progress is not None:
                        progress(1)
                    continue
            with open(root + path, "rb") as fh:
                head = fh.read(_SMALL)
                if len(head) < _SMALL:
                    found = DatasetFile(path, hashlib.sha256(head).hexdigest(), len(head))
                    files.append(found)
                    _remember(fresh, found, key, started, remember)
                    if progress is not None:
                        progress(1)
                    continue
        except OSError as exc:
            raise InvalidInput(f"cannot read {path!r}: {exc}", field="source", path=path) from None
        large.append((path, head, key))
    if large:
        def run(item: tuple[str, bytes, Key]) -> DatasetFile:
            found = _hash_large(root + item[0], item[0], item[1])
            if progress is not None:
                progress(1)
            return found

        with ThreadPoolExecutor(max_workers=min(workers, len(large)), thread_name_prefix="shipyard-hash") as pool:
            for found, (_, _, key) in zip(pool.map(run, large), large, strict=True):
                files.append(found)
                _remember(fresh, found, key, started, remember)
    if remember and cache is not None and fresh != known:
        cache.save(staged.root, fresh)
    return sorted(files, key=lambda f: f.path)


def _remember(fresh: dict[str, list[int | str]], found: DatasetFile, key: Key, started: int, remember: bool) -> None:
    # Racily clean: a file changed within 2 s of hashing is hashed again next time.
    if remember and key[2] < started - _RACY_NS and key[0] == found.size:
        fresh[found.path] = [*key, found.digest]


def _hash_large(local: str, path: str, head: bytes) -> DatasetFile:
    digest = hashlib.sha256(head)
    size = len(head)
    try:
        with open(local, "rb") as fh:
            fh.seek(size)
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise InvalidInput(f"cannot read {path!r}: {exc}", field="source", path=path) from None
    return DatasetFile(path, digest.hexdigest(), size)
