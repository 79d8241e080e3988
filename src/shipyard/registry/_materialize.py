"""Local copies of stored model packages, verified and cached by content.

A package is downloaded file by file (each hash checked by the artifact store)
into a temporary folder, which is renamed into place only when complete; the
folder's name is derived from the digests of all its files, so a cached copy can
never be stale and two processes materialising the same version race harmlessly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

from shipyard.store import materialize
from shipyard.tracking import ArtifactInfo

__all__ = ["Fetch", "Materializer"]

Fetch = Callable[[ArtifactInfo, Path], object]
"""Downloads one file to a destination path, verifying its hash (raises IntegrityError)."""


class Materializer:
    """Keeps verified local copies of packages under ``cache_dir``."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = Path(cache_dir)

    def materialize(self, label: str, files: Sequence[ArtifactInfo], fetch: Fetch) -> Path:
        """The local folder holding ``files``; ``label`` only names it for humans."""
        key = hashlib.sha256("\n".join(f"{f.path}:{f.digest}" for f in sorted(files, key=lambda f: f.path))
                             .encode()).hexdigest()[:24]
        return materialize(self.cache_dir / label.replace("/", "-") / key, files, fetch)
