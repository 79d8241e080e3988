"""Datasets: content-addressed versions, profiles, data contracts and validation.

A domain package (beside ``tracking`` and ``models``): it imports the storage and
base layers only. Clients register and read versions through
:class:`shipyard.Client` (``register_dataset``, ``get_dataset``…) or the fluent
``shipyard.register_dataset`` / ``shipyard.get_dataset`` / ``shipyard.log_input``;
everything that needs no store lives here:

* :func:`register`, :func:`get` (and ``log_input``, ``log_output``, ``list``, ``versions``)
  — the fluent calls of :mod:`shipyard.data`, reachable here by the names users expect:
  ``shipyard.datasets.register("churn", df)``, ``shipyard.datasets.get("churn@3")``
  (no submodule may carry these names, or importing it would shadow them);
* :class:`Contract`, :class:`Column`, :class:`Check` — data contracts, in Python or YAML;
* :func:`validate` → :class:`ValidationReport` of every :class:`Violation`;
* :func:`infer_contract` from a reference (``"churn@3"``), a profile, a version or data;
* :class:`Profile` (mergeable, JSON) and :func:`profile_table`; :func:`diff_profiles`.

Names are loaded on first use, so ``import shipyard`` stays light (no numpy or Arrow).

>>> from shipyard.datasets import Column, Contract, validate
>>> import pandas as pd
>>> validate(pd.DataFrame({"age": [30, 41]}), Contract([Column("age", "int", min=0)])).passed
True
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shipyard.datasets import codec
    from shipyard.datasets.backend import DatasetStore, VersionSpec
    from shipyard.datasets.contract import Check, Column, Contract
    from shipyard.datasets.diff import ColumnShift, ProfileDiff, diff_profiles
    from shipyard.datasets.entities import (
        Dataset,
        DatasetFile,
        DatasetRef,
        DatasetVersion,
        content_hash,
        parse_dataset_ref,
        validate_dataset_name,
    )
    from shipyard.datasets.handle import DatasetHandle
    from shipyard.datasets.profile import ColumnProfile, Profile
    from shipyard.datasets.profiling import profile_table
    from shipyard.datasets.registration import register_version
    from shipyard.datasets.validation import ValidationReport, Violation, validate

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
    "DatasetStore": "backend", "VersionSpec": "backend",
    "Check": "contract", "Column": "contract", "Contract": "contract",
    "ColumnShift": "diff", "ProfileDiff": "diff", "diff_profiles": "diff",
    "Dataset": "entities", "DatasetFile": "entities", "DatasetRef": "entities", "DatasetVersion": "entities",
    "content_hash": "entities", "parse_dataset_ref": "entities", "validate_dataset_name": "entities",
    "DatasetHandle": "handle",
    "ColumnProfile": "profile", "Profile": "profile", "profile_table": "profiling",
    "register_version": "registration",
    "ValidationReport": "validation", "Violation": "validation", "validate": "validation",
}


def infer_contract(source: Any, *, max_categories: int = 20, name: str | None = None) -> Contract:
    """A contract ``source`` satisfies, to review and edit: a stored version named by
    reference (``"churn@3"``), a version or handle, a Profile, or data."""
    if isinstance(source, str):
        # A reference needs the store: the fluent layer resolves it (see _FLUENT below).
        fluent = importlib.import_module("shipyard.data")
        return fluent.infer_contract(source, max_categories=max_categories)  # type: ignore[no-any-return]
    from shipyard.datasets.infer import infer_contract as from_source

    return from_source(source, max_categories=max_categories, name=name)


_FLUENT = ("register", "get", "log_input", "log_output", "list", "versions")


def __getattr__(name: str) -> Any:
    if name == "codec":
        return importlib.import_module("shipyard.datasets.codec")
    module = _WHERE.get(name)
    if name in _FLUENT:
        # The spelling users expect (``shipyard.datasets.register("churn", df)``) needs a
        # client, which lives above this domain package: forward to the fluent module
        # on first use. This is the one sanctioned upward import (see pyproject.toml).
        value = getattr(importlib.import_module("shipyard.data"), name)
        globals()[name] = value
        return value
    if module is None:
        raise AttributeError(f"module 'shipyard.datasets' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"shipyard.datasets.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
