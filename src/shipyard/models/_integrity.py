"""File hashes of a model package: recorded at save, checked before anything loads.

:func:`verify_files` runs before a flavor reads a byte, so a tampered pickle is never
unpickled. Every file must be listed with its sha256; an unlisted file, a missing one
or a symbolic link is refused too, because a loader might read any of them.

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp()); _ = (folder / "w.bin").write_bytes(b"abc")
>>> files = hash_files(folder)
>>> verify_files(folder, files)  # silent when intact
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from shipyard.errors import IntegrityError
from shipyard.models._manifest import MANIFEST_FILE

__all__ = ["hash_file", "hash_files", "verify_files"]


def hash_file(path: Path) -> str:
    """The sha256 hex digest of a file, read in chunks."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _walk(root: Path) -> Iterator[tuple[str, Path]]:
    """Every entry below ``root`` except the top-level manifest, as (POSIX path, path)."""
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        for name in sorted(dirs):
            if (here / name).is_symlink():
                yield (here / name).relative_to(root).as_posix(), here / name
        for name in sorted(names):
            path = here / name
            relative = path.relative_to(root).as_posix()
            if relative != MANIFEST_FILE:
                yield relative, path


def hash_files(root: Path) -> dict[str, str]:
    """Map every file below ``root`` (except ``model.yaml``) to its sha256."""
    files = {}
    for relative, path in _walk(Path(root)):
        if path.is_symlink() or not path.is_file():
            raise IntegrityError(
                f"{relative!r} is not a plain file; model packages hold plain files only", file=relative
            )
        files[relative] = hash_file(path)
    return dict(sorted(files.items()))


def verify_files(root: Path, expected: Mapping[str, str]) -> None:
    """Raise ``IntegrityError`` naming the first file that differs from ``expected``."""
    root = Path(root)
    seen = set()
    for relative, path in _walk(root):
        if path.is_symlink() or not path.is_file():
            raise IntegrityError(
                f"{relative!r} in {root} is not a plain file; model packages hold plain files only",
                file=relative,
                path=str(root),
            )
        if relative not in expected:
            raise IntegrityError(
                f"{relative!r} in {root} is not listed in {MANIFEST_FILE}", file=relative, path=str(root)
            )
        actual = hash_file(path)
        if actual != expected[relative]:
            raise IntegrityError(
                f"{relative!r} in {root} has sha256 {actual}, but {MANIFEST_FILE} records "
                f"{expected[relative]}: the file was modified",
                file=relative,
                path=str(root),
            )
        seen.add(relative)
    missing = sorted(set(expected) - seen)
    if missing:
        raise IntegrityError(
            f"{missing[0]!r} is listed in {MANIFEST_FILE} but missing from {root}",
            file=missing[0],
            path=str(root),
        )
