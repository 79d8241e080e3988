"""Datasets: content-addressed versions, profiles, data contracts and validation.

A domain package (beside ``tracking`` and ``models``): it imports the storage and
base layers only. Registering and reading versions needs a store, so it goes through
a client: :class:`shipyard.Client` (``register_dataset``, ``get_dataset``…, or
``client.datasets``) or the fluent calls of :mod:`shipyard.data`
(``shipyard.data.register("churn", df)``, ``shipyard.data.get("churn@3")``,
``shipyard.log_input``). Everything that needs no store lives here:

* :class:`Contract`, :class:`Column`, :class:`Check` — data contracts, in Python or YAML;
* :func:`validate` → :class:`ValidationReport` of every :class:`Violation`;
* :func:`infer_contract` from a profile, a version or handle, or data;
* :class:`Profile` (mergeable, JSON) and :func:`profile_table`; :func:`diff_profiles`.

Names are loaded on first use, so ``import shipyard`` stays light (no numpy or Arrow).

>>> from shipyard.datasets import Column, Contract, validate
>>> import pandas as pd
>>> validate(pd.DataFrame({"age": [30, 41]}), Contract([Column("age", "int", min=0)])).passed
True
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard._lazy import lazy_exports
from shipyard.errors import InvalidInput

if TYPE_CHECKING:
    from shipyard.datasets import _codec as codec
    from shipyard.datasets._backend import DatasetStore, VersionSpec
    from shipyard.datasets._contract import Check, Column, Contract
    from shipyard.datasets._diff import ColumnShift, ProfileDiff, diff_profiles
    from shipyard.datasets._entities import (
        Dataset,
        DatasetFile,
        DatasetRef,
        DatasetVersion,
        content_hash,
        parse_dataset_ref,
        validate_dataset_name,
    )
    from shipyard.datasets._handle import DatasetHandle
    from shipyard.datasets._profile import ColumnProfile, Profile
    from shipyard.datasets._profiling import profile_table
    from shipyard.datasets._registration import register_version
    from shipyard.datasets._validation import ValidationReport, Violation, validate

__all__ = [
    "Check",
    "Column",
    "ColumnProfile",
    "ColumnShift",
    "Contract",
    "Dataset",
    "DatasetFile",
    "DatasetHandle",
    "DatasetRef",
    "DatasetStore",
    "DatasetVersion",
    "Profile",
    "ProfileDiff",
    "ValidationReport",
    "VersionSpec",
    "Violation",
    "codec",
    "content_hash",
    "diff_profiles",
    "infer_contract",
    "parse_dataset_ref",
    "profile_table",
    "register_version",
    "validate",
    "validate_dataset_name",
]

_WHERE = {
    "DatasetStore": "_backend", "VersionSpec": "_backend",
    "codec": "_codec",
    "Check": "_contract", "Column": "_contract", "Contract": "_contract",
    "ColumnShift": "_diff", "ProfileDiff": "_diff", "diff_profiles": "_diff",
    "Dataset": "_entities", "DatasetFile": "_entities", "DatasetRef": "_entities", "DatasetVersion": "_entities",
    "content_hash": "_entities", "parse_dataset_ref": "_entities", "validate_dataset_name": "_entities",
    "DatasetHandle": "_handle",
    "ColumnProfile": "_profile", "Profile": "_profile", "profile_table": "_profiling",
    "register_version": "_registration",
    "ValidationReport": "_validation", "Violation": "_validation", "validate": "_validation",
}

# Registering and reading versions needs a store, so these calls live in the fluent layer.
_MOVED = ("register", "get", "log_input", "log_output", "list", "versions")


def infer_contract(source: Any, *, max_categories: int = 20, name: str | None = None) -> Contract:
    """A contract ``source`` satisfies, to review and edit: a version or handle (its stored
    profile), a Profile, or data (a table, or a Parquet or CSV file). A stored version
    named by reference needs a store: ``shipyard.data.infer_contract("churn@3")``."""
    from shipyard.datasets._infer import infer_contract as from_source

    if isinstance(source, str) and not Path(source).exists():
        raise InvalidInput(f"no file at {source!r}; to infer from a stored version by reference use "
                           f"shipyard.data.infer_contract({source!r}) or Client.infer_contract", field="source")
    return from_source(source, max_categories=max_categories, name=name)


_lazy_getattr, __dir__ = lazy_exports(__name__, _WHERE, __all__, globals())


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        raise AttributeError(f"module 'shipyard.datasets' has no attribute {name!r}: it needs a store, "
                             f"use shipyard.data.{name} (or the dataset methods of a shipyard.Client)")
    return _lazy_getattr(name)
