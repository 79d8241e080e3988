"""Dataset methods of the client: register, read, diff, contracts, lineage."""

from __future__ import annotations

import getpass
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.client._base import ClientBase
from shipyard.errors import InvalidInput

if TYPE_CHECKING:
    from shipyard.datasets import (
        Contract,
        Dataset,
        DatasetFile,
        DatasetHandle,
        DatasetStore,
        DatasetVersion,
        ProfileDiff,
        ValidationReport,
    )
    from shipyard.types import LineageGraph

__all__ = ["DatasetsMixin"]

DatasetLike = Any  # a DatasetVersion, a DatasetHandle or a reference string


def _actor() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


class DatasetsMixin(ClientBase):
    """Versioned datasets: content-addressed files, profiles, contracts and lineage."""

    @property
    def dataset_store(self) -> DatasetStore:
        """The dataset backend (opened on first use, with the other stores)."""
        if self._datasets is None:
            self._open_stores()
        assert self._datasets is not None
        return self._datasets

    @property
    def dataset_cache_dir(self) -> Path:
        """Where verified local copies of dataset versions are kept."""
        return self.config.home.absolute() / "cache" / "datasets"

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._datasets is not None:
                self._datasets.close()

    # -- versions ---------------------------------------------------------------------

    def register_dataset(self, name: str, source: Any, *, description: str | None = None,
                         tags: Mapping[str, str] | None = None, run_id: str | None = None,
                         contract: Contract | str | os.PathLike[str] | None = None,
                         progress: bool | None = None) -> DatasetVersion:
        """Register ``source`` as a new version of dataset ``name`` (created if needed).

        ``source``: a pandas or polars DataFrame, an Arrow table, a Parquet or CSV
        file, a folder, or an ``s3://bucket/prefix``. The same content registered
        again returns the existing version. With ``run_id`` the run is recorded as
        the producer; with ``contract`` (a Contract or a YAML file) data that breaks
        it is refused with ``InvalidInput`` and nothing is stored. Bad input (ragged
        CSV, truncated Parquet, a type change across files, an empty source, an
        illegal name) raises ``InvalidInput`` and leaves no version.
        """
        from shipyard.datasets.hashing import HashCache
        from shipyard.datasets.registration import register_version

        options = {"endpoint_url": self.config.s3_endpoint_url} if self.config.s3_endpoint_url else {}
        return register_version(self.dataset_store, name, source, description=description, tags=tags,
                                run_id=run_id, contract=_contract(contract), actor=_actor(),
                                storage_options=options, progress=progress,
                                hash_cache=HashCache(self.config.home.absolute() / "cache" / "hashes"))

    def get_dataset(self, ref: str, version: int | None = None, *,
                    on_read: Callable[[DatasetVersion], object] | None = None) -> DatasetHandle:
        """A handle on ``name``, ``name@3``, ``name@latest``, ``name@<hash prefix>`` or a content hash.

        The handle reads as pandas, polars, Arrow or a local folder, pulling the
        files from the store on first use. ``on_read`` is called with the version
        whenever the handle's data is read (see :mod:`shipyard.datasets.handle`).
        """
        from shipyard.datasets.handle import DatasetHandle

        found = self.dataset_store.resolve(ref, version)
        store = self.dataset_store
        return DatasetHandle(found, lambda: store.list_files(found.name, found.version),
                             lambda f, dest: store.fetch_object(found, f, dest), self.dataset_cache_dir, on_read)

    def get_dataset_version(self, ref: str, version: int | None = None) -> DatasetVersion:
        """The version a reference names, with its schema and profile."""
        return self.dataset_store.resolve(ref, version)

    def list_datasets(self) -> list[Dataset]:
        return self.dataset_store.list_datasets()

    def list_dataset_versions(self, name: str) -> list[DatasetVersion]:
        """Every version of ``name``, newest first (profiles left out; get one for it)."""
        return self.dataset_store.list_versions(name)

    def list_dataset_files(self, ref: str, version: int | None = None) -> list[DatasetFile]:
        found = self.dataset_store.resolve(ref, version)
        return self.dataset_store.list_files(found.name, found.version)

    def pull_dataset(self, ref: str, dest: str | os.PathLike[str] | None = None) -> Path:
        """The version's files in a local folder: the verified cache, or a copy at ``dest``."""
        folder = self.get_dataset(ref).path()
        if dest is None:
            return folder
        target = Path(dest)
        shutil.copytree(folder, target, dirs_exist_ok=True)
        return target

    def diff_datasets(self, old: str, new: str) -> ProfileDiff:
        """Schema changes and per-column distribution shifts from ``old`` to ``new``."""
        from shipyard.datasets.diff import diff_profiles

        before, after = self.dataset_store.resolve(old), self.dataset_store.resolve(new)
        if before.profile is None or after.profile is None:
            raise InvalidInput(f"only tabular versions have profiles to compare ({before.format}, "
                               f"{after.format})", field="ref")
        return diff_profiles(before.profile, after.profile)

    # -- contracts --------------------------------------------------------------------

    def infer_contract(self, ref: str, *, max_categories: int = 20) -> Contract:
        """A contract the version satisfies, inferred from its stored profile, to edit."""
        from shipyard.datasets.infer import infer_contract

        return infer_contract(self.dataset_store.resolve(ref), max_categories=max_categories)

    def validate_dataset(self, ref: str, contract: Contract | str | os.PathLike[str]) -> ValidationReport:
        """Check a stored version against a contract (the files are pulled if needed)."""
        checked = _contract(contract)
        assert checked is not None
        return self.get_dataset(ref).validate(checked)

    # -- lineage ----------------------------------------------------------------------

    def log_input(self, run_id: str, dataset: DatasetLike) -> DatasetVersion:
        """Record that run ``run_id`` read ``dataset`` (a version, a handle or a reference)."""
        version = self._dataset_version_of(dataset)
        self.dataset_store.record_lineage(run_id, version.name, version.version, "input")
        return version

    def log_output(self, run_id: str, dataset: DatasetLike) -> DatasetVersion:
        """Record that run ``run_id`` produced ``dataset``."""
        version = self._dataset_version_of(dataset)
        self.dataset_store.record_lineage(run_id, version.name, version.version, "produced")
        return version

    def dataset_lineage(self, ref: str, max_depth: int = 10) -> LineageGraph:
        """The runs and models upstream and downstream of a version."""
        found = self.dataset_store.resolve(ref)
        return self.dataset_store.lineage(found.name, found.version, max_depth)

    def _dataset_version_of(self, dataset: DatasetLike) -> DatasetVersion:
        from shipyard.datasets.entities import DatasetVersion
        from shipyard.datasets.handle import DatasetHandle

        if isinstance(dataset, DatasetHandle):
            return dataset.version
        if isinstance(dataset, DatasetVersion):
            return dataset
        if isinstance(dataset, str):
            return self.dataset_store.resolve(dataset)
        raise InvalidInput(f"expected a dataset version, handle or reference, got {type(dataset).__name__}",
                           field="dataset")


def _contract(contract: Any) -> Contract | None:
    if contract is None:
        return None
    from shipyard.datasets.contract import Contract

    if isinstance(contract, Contract):
        return contract
    if isinstance(contract, (str, os.PathLike)):
        return Contract.load(contract)
    raise InvalidInput(f"contract must be a Contract or a YAML file, got {type(contract).__name__}",
                       field="contract")
