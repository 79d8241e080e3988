"""``client.datasets``: register, read, diff, contracts and lineage of versioned datasets.

>>> datasets = Client(home="/tmp/shipyard-doc").datasets            # doctest: +SKIP
>>> version = datasets.register_dataset("churn", df)                  # doctest: +SKIP
>>> datasets.get_dataset("churn@latest").to_pandas()                  # doctest: +SKIP
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.client._backend import Backend
from shipyard.client._tracking import Tracking
from shipyard.errors import InvalidInput
from shipyard.tracking._entities import current_user

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
    from shipyard.lineage import LineageGraph

__all__ = ["DatasetLike", "Datasets"]

DatasetLike = Any  # a DatasetVersion, a DatasetHandle or a reference string


class Datasets:
    """Versioned datasets: content-addressed files, profiles, contracts and lineage.

    Lineage names runs of ``tracking``: a run it started is stored before its lineage is.
    """

    def __init__(self, backend: Backend, tracking: Tracking) -> None:
        self._backend = backend
        self._tracking = tracking
        self.config = backend.config

    @property
    def store(self) -> DatasetStore:
        """The dataset store (opened on first use)."""
        return self._backend.datasets

    @property
    def cache_dir(self) -> Path:
        """Where verified local copies of dataset versions are kept."""
        return self.config.home.absolute() / "cache" / "datasets"

    # -- versions ---------------------------------------------------------------------------

    def register_dataset(self, name: str, source: Any, *, description: str | None = None,
                         tags: Mapping[str, str] | None = None, run_id: str | None = None,
                         contract: Contract | str | os.PathLike[str] | None = None,
                         progress: bool | None = None, source_name: str | None = None) -> DatasetVersion:
        """Register ``source`` as a new version of dataset ``name`` (created if needed).

        ``source``: a pandas or polars DataFrame, an Arrow table, a Parquet or CSV
        file, a folder, or an ``s3://bucket/prefix``. The same content registered
        again returns the existing version. With ``run_id`` the run is recorded as
        the producer; with ``contract`` (a Contract or a YAML file) data that breaks
        it is refused with ``InvalidInput`` and nothing is stored. Bad input (ragged
        CSV, truncated Parquet, a type change across files, an empty source, an
        illegal name) raises ``InvalidInput`` and leaves no version. ``source_name`` is
        what the version records as its source, for files written only to be registered
        (default: the path, the ``s3://`` URI or the DataFrame's type).
        """
        from shipyard.datasets import register_version
        from shipyard.datasets._hashing import HashCache

        if run_id is not None:
            self._tracking.wait_for(run_id)
        options = {"endpoint_url": self.config.s3_endpoint_url} if self.config.s3_endpoint_url else {}
        return register_version(self.store, name, source, description=description, tags=tags, run_id=run_id,
                                contract=_contract(contract), actor=current_user(), storage_options=options,
                                progress=progress, source_name=source_name,
                                hash_cache=HashCache(self.config.home.absolute() / "cache" / "hashes"))

    def get_dataset(self, ref: str, version: int | None = None, *,
                    on_read: Callable[[DatasetVersion], object] | None = None) -> DatasetHandle:
        """A handle on ``name``, ``name@3``, ``name@latest``, ``name@<hash prefix>`` or a content hash.

        The handle reads as pandas, polars, Arrow or a local folder, pulling the
        files from the store on first use. ``on_read`` is called with the version
        whenever the handle's data is read (see :mod:`shipyard.datasets._handle`).
        """
        from shipyard.datasets import DatasetHandle

        store = self.store
        found = store.resolve(ref, version)
        return DatasetHandle(found, lambda: store.list_files(found.name, found.version),
                             lambda f, dest: store.fetch_object(found, f, dest), self.cache_dir, on_read)

    def get_dataset_version(self, ref: str, version: int | None = None) -> DatasetVersion:
        """The version a reference names, with its schema and profile."""
        return self.store.resolve(ref, version)

    def list_datasets(self) -> list[Dataset]:
        """Every dataset with its latest version number."""
        return self.store.list_datasets()

    def list_dataset_versions(self, name: str) -> list[DatasetVersion]:
        """Every version of ``name``, newest first (profiles left out; get one for it)."""
        return self.store.list_versions(name)

    def list_dataset_files(self, ref: str, version: int | None = None) -> list[DatasetFile]:
        """The files of the version a reference names."""
        found = self.store.resolve(ref, version)
        return self.store.list_files(found.name, found.version)

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
        from shipyard.datasets import diff_profiles

        before, after = self.store.resolve(old), self.store.resolve(new)
        if before.profile is None or after.profile is None:
            raise InvalidInput(f"only tabular versions have profiles to compare ({before.format}, "
                               f"{after.format})", field="ref")
        return diff_profiles(before.profile, after.profile)

    # -- contracts --------------------------------------------------------------------------

    def infer_contract(self, ref: str, *, max_categories: int = 20) -> Contract:
        """A contract the version satisfies, inferred from its stored profile, to edit."""
        from shipyard.datasets import infer_contract

        return infer_contract(self.store.resolve(ref), max_categories=max_categories)

    def validate_dataset(self, ref: str, contract: Contract | str | os.PathLike[str]) -> ValidationReport:
        """Check a stored version against a contract (the files are pulled if needed)."""
        checked = _contract(contract)
        assert checked is not None
        return self.get_dataset(ref).validate(checked)

    # -- lineage ----------------------------------------------------------------------------

    def log_input(self, run_id: str, dataset: DatasetLike) -> DatasetVersion:
        """Record that run ``run_id`` read ``dataset`` (a version, a handle or a reference)."""
        version = self.version_of(dataset)
        self._tracking.wait_for(run_id)
        self.store.record_lineage(run_id, version.name, version.version, "input")
        return version

    def log_output(self, run_id: str, dataset: DatasetLike) -> DatasetVersion:
        """Record that run ``run_id`` produced ``dataset``."""
        version = self.version_of(dataset)
        self._tracking.wait_for(run_id)
        self.store.record_lineage(run_id, version.name, version.version, "produced")
        return version

    def dataset_lineage(self, ref: str, max_depth: int = 10) -> LineageGraph:
        """The runs and models upstream and downstream of a version."""
        found = self.store.resolve(ref)
        return self.store.lineage(found.name, found.version, max_depth)

    def version_of(self, dataset: DatasetLike) -> DatasetVersion:
        """The version a handle, a version or a reference stands for."""
        from shipyard.datasets import DatasetHandle, DatasetVersion

        if isinstance(dataset, DatasetHandle):
            return dataset.version
        if isinstance(dataset, DatasetVersion):
            return dataset
        if isinstance(dataset, str):
            return self.store.resolve(dataset)
        raise InvalidInput(f"expected a dataset version, handle or reference, got {type(dataset).__name__}",
                           field="dataset")


def _contract(contract: Any) -> Contract | None:
    if contract is None:
        return None
    from shipyard.datasets import Contract

    if isinstance(contract, Contract):
        return contract
    if isinstance(contract, (str, os.PathLike)):
        return Contract.load(contract)
    raise InvalidInput(f"contract must be a Contract or a YAML file, got {type(contract).__name__}",
                       field="contract")
