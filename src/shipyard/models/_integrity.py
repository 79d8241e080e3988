"""File hashes of a model package: recorded at save, checked before anything loads.

:func:`verify_files` runs before a flavor reads a byte, so a tampered pickle is never
unpickled. Every file must be listed with its sha256; an unlisted file, a missing one
or a symbolic link is refused too, because a loader might read any of them.

The hashes are only as good as their record. ``model.yaml`` lies in the folder it
describes, so whoever can rewrite a pickle there can rewrite ``model.yaml`` to match:
a package is checked against digests recorded elsewhere (the registry's record of a
version, a run's artifact listing, a pinned ``model.yaml`` sha256), and a folder with
no such record is refused (:class:`UntrustedPackage`) unless the caller vouches for
it with ``trust=True``.

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

from shipyard.errors import IntegrityError, InvalidInput
from shipyard.models._manifest import MANIFEST_FILE

__all__ = ["UntrustedPackage", "hash_file", "hash_files", "untrusted", "verify_files"]


class UntrustedPackage(InvalidInput):
    """A model folder whose digests are recorded nowhere but in the folder itself, loaded
    without ``trust=True``. ``path`` names the folder; ``field`` is ``"trust"``."""


def untrusted(folder: Path, record: str) -> UntrustedPackage:
    """The refusal to load ``folder``, whose only record of its files is its own ``record``."""
    pin = f", or pin the sha256 of its {record} with manifest_sha256=" if record == MANIFEST_FILE else ""
    return UntrustedPackage(
        f"refusing to load the model at {folder} without trust=True: nothing outside the folder records "
        f"its files' digests, only its own {record}, and whoever can write the folder can rewrite {record} "
        "to match a malicious pickle, which loading would run. Load it through the registry "
        f"(models:/name/version) or a run (runs:/<id>/path), whose records it is checked against{pin}; "
        "if you trust everyone who can write the folder (you saved it yourself), pass trust=True "
        "(--trust on the command line).",
        field="trust", path=str(folder),
    )


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
