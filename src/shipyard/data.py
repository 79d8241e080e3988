"""The fluent API for datasets: ``shipyard.data.register``, ``shipyard.data.get`` and friends.

A thin layer over the default :class:`~shipyard.Client` (or the one passed as
``client=``), beside :mod:`shipyard.fluent`. Inside a run started with
:func:`shipyard.start_run`:

* a version registered here is recorded as produced by the active run;
* a handle from :func:`get` records itself as an input of the run that is active
  *when its data is read* (the handle's ``on_read`` hook), so reading in a run is
  enough for lineage;
* :func:`log_input` / :func:`log_output` record it explicitly.

The domain types (contracts, profiles, validation) are in :mod:`shipyard.datasets`;
this module adds what needs a client.

>>> import shipyard
>>> with shipyard.start_run("churn"):                          # doctest: +SKIP
...     v = shipyard.data.register("churn", df)                 # produced by the run
...     train = shipyard.data.get("churn@latest").to_pandas()   # read: an input of the run
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shipyard.client import Client
from shipyard.fluent import active_run, get_client

if TYPE_CHECKING:
    from shipyard.datasets import (
        Contract,
        Dataset,
        DatasetHandle,
        DatasetVersion,
        ProfileDiff,
        ValidationReport,
    )

__all__ = ["diff", "get", "infer_contract", "list", "log_input", "log_output", "register", "validate",
           "versions"]

_list = list


def register(name: str, source: Any, *, description: str | None = None, tags: Mapping[str, str] | None = None,
             contract: Contract | str | os.PathLike[str] | None = None, progress: bool | None = None,
             client: Client | None = None) -> DatasetVersion:
    """Register ``source`` as a version of ``name``; see :meth:`Client.register_dataset`.

    Inside an active run, the run is recorded as the version's producer.
    """
    run = active_run()
    client = client or (run.client if run else get_client())
    return client.register_dataset(name, source, description=description, tags=tags,
                                   run_id=run.id if run else None, contract=contract, progress=progress)


def get(ref: str, version: int | None = None, *, client: Client | None = None) -> DatasetHandle:
    """A handle on a version (``churn``, ``churn@3``, ``churn@latest``, a hash); reading it
    inside an active run records it as an input of that run."""
    client = client or get_client()

    def on_read(found: DatasetVersion) -> None:
        run = active_run()
        if run is not None:
            run.client.log_input(run.id, found)

    return client.get_dataset(ref, version, on_read=on_read)


def log_input(dataset: Any) -> DatasetVersion:
    """Record that the active run read ``dataset`` (a handle, a version or a reference)."""
    run = _require_run()
    return run.client.log_input(run.id, dataset)


def log_output(dataset: Any) -> DatasetVersion:
    """Record that the active run produced ``dataset``."""
    run = _require_run()
    return run.client.log_output(run.id, dataset)


def list(*, client: Client | None = None) -> _list[Dataset]:  # noqa: A001 - mirrors `shipyard data list`
    """Every dataset with its latest version number."""
    return (client or get_client()).list_datasets()


def versions(name: str, *, client: Client | None = None) -> _list[DatasetVersion]:
    """The versions of ``name``, newest first."""
    return (client or get_client()).list_dataset_versions(name)


def diff(old: str, new: str, *, client: Client | None = None) -> ProfileDiff:
    """Schema changes and distribution shifts between two versions (``churn@2``, ``churn@3``)."""
    return (client or get_client()).diff_datasets(old, new)


def infer_contract(ref: str, *, max_categories: int = 20, client: Client | None = None) -> Contract:
    """A contract inferred from a stored version's profile, to review and edit."""
    return (client or get_client()).infer_contract(ref, max_categories=max_categories)


def validate(data: Any, contract: Contract | str | os.PathLike[str], *,
             client: Client | None = None) -> ValidationReport:
    """Check data, a handle, or a stored version named by reference against a contract."""
    if isinstance(data, str):
        return (client or get_client()).validate_dataset(data, contract)
    from shipyard.datasets import Contract as _Contract
    from shipyard.datasets import validate as _validate

    checked = contract if isinstance(contract, _Contract) else _Contract.load(contract)
    return _validate(data, checked)


def _require_run() -> Any:
    from shipyard.errors import Conflict

    run = active_run()
    if run is None:
        raise Conflict("no active run: call shipyard.start_run() first")
    return run
