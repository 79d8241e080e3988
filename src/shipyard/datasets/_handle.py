"""A handle on a registered version: reads as Arrow, pandas, polars or a local folder.

The handle pulls the version's files from the store the first time they are
needed, into a cache folder named by the content hash, each file's sha256 checked;
so it works the same on a machine that never saw the data, and a cached copy can
never be stale. Files are fetched in parallel and appear only when all are there.

**Read hook.** ``on_read`` (optional) is called with the version each time the
handle's data is read (``path``, ``to_arrow``, ``to_pandas``, ``to_polars``). The
fluent layer passes a callback that records the read as an input of the active run,
which is how ``shipyard.get_dataset(...).to_pandas()`` inside a run shows up in
lineage without this package knowing about runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.datasets._entities import DatasetFile, DatasetVersion
from shipyard.errors import MissingExtra
from shipyard.store import materialize as materialize_folder

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from shipyard.datasets._contract import Contract
    from shipyard.datasets._validation import ValidationReport

__all__ = ["DatasetHandle", "Fetch", "materialize"]

Fetch = Callable[[DatasetFile, Path], object]
"""Downloads one file to a destination path, verifying its hash."""


def materialize(folder: Path, files: Sequence[DatasetFile], fetch: Fetch, workers: int = 8) -> Path:
    """``folder`` holding ``files``, fetched into a temporary sibling and renamed in whole."""
    return materialize_folder(folder, files, fetch, workers=workers)


class DatasetHandle:
    """One registered version and the means to read it (see the module docstring)."""

    def __init__(self, version: DatasetVersion, files: Callable[[], list[DatasetFile]], fetch: Fetch,
                 cache_dir: Path, on_read: Callable[[DatasetVersion], object] | None = None) -> None:
        self.version = version
        self._files = files
        self._fetch = fetch
        self._cache_dir = Path(cache_dir)
        self._on_read = on_read
        self._listed: list[DatasetFile] | None = None

    def __repr__(self) -> str:
        return f"DatasetHandle({self.version.uri!r}, format={self.version.format!r}, rows={self.version.num_rows})"

    @property
    def name(self) -> str:
        return self.version.name

    @property
    def uri(self) -> str:
        return self.version.uri

    @property
    def profile(self) -> Any:
        return self.version.profile

    @property
    def files(self) -> list[DatasetFile]:
        """The version's files (path, sha256, size), listed once."""
        if self._listed is None:
            self._listed = self._files()
        return self._listed

    def path(self) -> Path:
        """A local folder holding the version's files (downloaded and verified once)."""
        folder = self._folder()
        self._read()
        return folder

    def to_arrow(self) -> pa.Table:
        from shipyard.datasets._tables import read_files

        folder = self._folder()
        table = read_files([folder / f.path for f in self.files], self.version.format, [f.path for f in self.files])
        self._read()
        return table

    def to_pandas(self) -> pd.DataFrame:
        return self.to_arrow().to_pandas()

    def to_polars(self) -> Any:
        try:
            import polars as pl
        except ImportError:
            raise MissingExtra("polars", "polars") from None
        return pl.from_arrow(self.to_arrow())

    def validate(self, contract: Contract) -> ValidationReport:
        from shipyard.datasets._validation import validate

        return validate(self.to_arrow(), contract)

    def _folder(self) -> Path:
        return materialize(self._cache_dir / self.version.name / self.version.digest[:32], self.files, self._fetch)

    def _read(self) -> None:
        if self._on_read is not None:
            self._on_read(self.version)
