"""The interface every dataset backend implements (SQL in-process, or HTTP to a server).

Registration is split so that both backends share one pipeline
(:func:`shipyard.datasets._registration.register_version`): the caller hashes and
profiles the data, asks which objects the store lacks, uploads those (in
parallel), then creates the version in one step. Nothing is visible before that
last step, so an interrupted registration leaves no version behind, and a retry
uploads only what is still missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from shipyard.datasets._entities import Dataset, DatasetFile, DatasetVersion
from shipyard.datasets._profile import Profile
from shipyard.lineage import LineageGraph

__all__ = ["RELATIONS", "DatasetStore", "VersionSpec"]

#: Lineage relations a run can have with a dataset version.
RELATIONS = ("input", "produced")


@dataclass(frozen=True)
class VersionSpec:
    """Everything a new version is made of, computed by the registering client."""

    files: list[DatasetFile]
    format: str
    num_rows: int | None = None
    schema: dict[str, Any] | None = None
    profile: Profile | None = None
    source: str | None = None
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    run_id: str | None = None


@runtime_checkable
class DatasetStore(Protocol):
    """Dataset versions, their files and their lineage."""

    def missing_objects(self, digests: list[str], dataset: str | None = None) -> list[str]:
        """The digests among ``digests`` that the artifact store does not hold.

        With ``dataset``, the files of that dataset's latest version count as stored
        without asking the artifact store (a version exists only once all its
        objects are stored), so a new version of a large folder checks only the
        files that changed.
        """
        ...

    def put_object(self, path: Path, digest: str) -> None:
        """Store a local file whose sha256 must be ``digest``; else IntegrityError, and nothing is kept."""
        ...

    def fetch_object(self, version: DatasetVersion, file: DatasetFile, dest: Path) -> None:
        """Download one file of ``version`` to ``dest``, its hash verified."""
        ...

    def create_version(self, name: str, spec: VersionSpec, actor: str | None = None) -> DatasetVersion:
        """Create the next version of ``name`` (and the dataset if new) in one transaction.

        If a version of ``name`` with the same content hash exists, it is returned
        instead (and ``spec.run_id``, if any, is linked to it as its producer).
        """
        ...

    def find_version(self, name: str, digest: str) -> DatasetVersion | None: ...

    def get_version(self, name: str, version: int) -> DatasetVersion: ...

    def resolve(self, ref: str, version: int | None = None) -> DatasetVersion:
        """The version a reference names (see :func:`~shipyard.datasets.parse_dataset_ref`)."""
        ...

    def list_datasets(self) -> list[Dataset]: ...

    def list_versions(self, name: str) -> list[DatasetVersion]:
        """Every version of ``name``, newest first, without their profiles."""
        ...

    def list_files(self, name: str, version: int) -> list[DatasetFile]: ...

    def record_lineage(self, run_id: str, name: str, version: int, relation: str = "input") -> None:
        """Record that run ``run_id`` read (``input``) or ``produced`` the version."""
        ...

    def lineage(self, name: str, version: int, max_depth: int = 10) -> LineageGraph: ...

    def close(self) -> None: ...
