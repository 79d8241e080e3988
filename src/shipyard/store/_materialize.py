"""A folder of stored files made locally, complete or not at all.

:func:`materialize` fetches every file into a temporary sibling of the target and
renames it into place only once all are there, so a reader never sees half a folder
and two processes materialising the same target race harmlessly (the loser's copy is
thrown away). The target's name should be derived from the files' content hashes by
the caller: a folder that exists is then known complete and current.

>>> import tempfile
>>> from pathlib import Path
>>> from types import SimpleNamespace
>>> target = Path(tempfile.mkdtemp()) / "v1"
>>> files = [SimpleNamespace(path="a/b.txt")]
>>> folder = materialize(target, files, lambda f, dest: dest.parent.mkdir(parents=True) or dest.write_text("x"))
>>> (folder / "a" / "b.txt").read_text()
'x'
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol, TypeVar

from shipyard.store.artifacts import safe_relpath

__all__ = ["StoredFile", "materialize"]


class StoredFile(Protocol):
    """Anything with a logical relative ``path`` (a dataset file, a model package file)."""

    @property
    def path(self) -> str: ...


F = TypeVar("F", bound=StoredFile)


def materialize(target: Path, files: Sequence[F], fetch: Callable[[F, Path], object], *, workers: int = 1) -> Path:
    """``target`` holding ``files``: each fetched by ``fetch(file, destination)`` into a
    temporary sibling folder, which is then renamed to ``target`` in one step.

    An existing ``target`` is returned as it is. ``workers`` > 1 fetches that many
    files at a time. A fetch that raises leaves no trace and the error propagates;
    a ``path`` escaping the folder is refused (``InvalidInput``).
    """
    target = Path(target)
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        def one(file: F) -> None:
            fetch(file, tmp / safe_relpath(file.path))

        if workers <= 1 or len(files) <= 1:
            for file in files:
                one(file)
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="shipyard-pull") as pool:
                list(pool.map(one, files))
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():  # somebody else won the race if it exists now
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
