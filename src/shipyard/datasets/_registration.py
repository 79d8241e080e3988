"""Registering a version: stage, hash, check, profile, upload what is missing, commit.

The steps, in order, each before anything becomes visible:

1. stage the source as local files (:func:`shipyard.datasets._sources.stage`);
2. hash every file (unchanged local files are not read again) and compute the
   content hash; if this name already has a version with that hash, check it
   against ``contract`` (if given) and return it;
3. read tabular files to check them (ragged CSV rows, truncated Parquet, a column
   changing type between files, an empty source all raise ``InvalidInput``) and
   profile them in one pass per column;
4. validate against ``contract``, if given (a failing report raises ``InvalidInput``
   carrying the report);
5. upload, in parallel, only the objects the store lacks;
6. create the version in one transaction.

A process killed during step 5 leaves some objects in the store but no version;
running the registration again skips those objects (they are found by hash).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from shipyard.datasets._backend import DatasetStore, VersionSpec
from shipyard.datasets._contract import Contract
from shipyard.datasets._entities import DatasetVersion, content_hash, validate_dataset_name
from shipyard.datasets._hashing import HashCache, hash_files
from shipyard.datasets._profile import Profile
from shipyard.datasets._progress import QUIET, Reporter, reporter_for
from shipyard.datasets._sources import Staged, stage
from shipyard.datasets._tables import detect_format, inspect_parquet, read_csv_files, read_files, reading
from shipyard.datasets._text import counted
from shipyard.errors import InvalidInput

__all__ = ["register_version"]


def register_version(
    store: DatasetStore,
    name: str,
    source: Any,
    *,
    description: str | None = None,
    tags: Mapping[str, str] | None = None,
    run_id: str | None = None,
    contract: Contract | None = None,
    actor: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
    workers: int = 8,
    progress: bool | Reporter | None = None,
    hash_cache: HashCache | None = None,
    source_name: str | None = None,
) -> DatasetVersion:
    """Register ``source`` as a version of ``name`` in ``store`` (see the module docstring).

    ``hash_cache`` remembers the hashes of unchanged local files between
    registrations (see :mod:`shipyard.datasets._hashing`); ``source_name``, when
    given, is recorded as the version's source instead of the staged one.
    """
    validate_dataset_name(name)
    tags = {str(k): str(v) for k, v in (tags or {}).items()}
    with stage(source, storage_options=storage_options, workers=workers) as staged:
        if not staged.paths:
            raise InvalidInput(f"nothing to register: {staged.source} is empty", field="source")
        if source_name is not None:
            staged = dataclasses.replace(staged, source=source_name)
        reporter = reporter_for(progress, len(staged.paths),
                                lambda: sum(os.path.getsize(staged.local(p)) for p in staged.paths[:1000]))
        try:
            return _register(store, name, staged, reporter, description, tags, run_id, contract, actor, workers,
                             hash_cache)
        finally:
            reporter.close()


def _register(store: DatasetStore, name: str, staged: Staged, reporter: Reporter, description: str | None,
              tags: dict[str, str], run_id: str | None, contract: Contract | None, actor: str | None,
              workers: int, hash_cache: HashCache | None) -> DatasetVersion:
    reporter.phase(f"hashing {counted(len(staged.paths), 'file')}", len(staged.paths))
    files = hash_files(staged, workers=workers, progress=None if reporter is QUIET else reporter.advance,
                       cache=hash_cache)
    existing = store.find_version(name, content_hash(files))
    fmt = detect_format(staged.paths)
    if existing is not None:
        if contract is not None:  # the same content is refused whenever its contract refuses it
            reporter.phase("checking the contract", 1)
            _enforce(contract, staged, fmt, name)
        if run_id:
            store.record_lineage(run_id, name, existing.version, "produced")
        return existing
    reporter.phase("checking and profiling", 1)
    spec = _describe(staged, files, fmt)
    if contract is not None:
        _enforce(contract, staged, fmt, name)
    missing = set(store.missing_objects(sorted({f.digest for f in files}), name))
    todo = {}
    for f in files:
        if f.digest in missing and f.digest not in todo:
            todo[f.digest] = f
    reporter.phase(f"uploading {len(todo):,} of {counted(len(files), 'file')}", sum(f.size for f in todo.values()))

    def upload(file: Any) -> None:
        store.put_object(staged.local(file.path), file.digest)
        reporter.advance(file.size)

    if len(todo) <= 1:
        for f in todo.values():
            upload(f)
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="shipyard-upload") as pool:
            list(pool.map(upload, todo.values()))
    full = VersionSpec(files, fmt, spec.num_rows, spec.schema, spec.profile, staged.source, description, tags,
                       run_id)
    return store.create_version(name, full, actor)


def _describe(staged: Staged, files: list[Any], fmt: str) -> VersionSpec:
    """Row count, schema and profile of tabular files; checks them on the way."""
    if fmt == "files":
        if not any(f.size for f in files):
            raise InvalidInput(f"nothing to register: every file of {staged.source} is empty", field="source")
        return VersionSpec(files, fmt)
    from shipyard.datasets._profiling import profile_parquet, profile_table

    local = [staged.local(p) for p in staged.paths]
    profile: Profile
    if fmt == "parquet":
        schema, rows = inspect_parquet(local, staged.paths)
        if rows and len(schema):
            with reading(staged.paths[0] if len(local) == 1 else staged.source):
                profile = profile_parquet(local, schema, rows)
    else:
        table = read_csv_files(local, staged.paths)
        schema, rows = table.schema, table.num_rows
        if rows and len(schema):
            profile = profile_table(table)
    if not rows or not len(schema):
        raise InvalidInput(f"nothing to register: {staged.source} has {counted(rows, 'row')} and "
                           f"{counted(len(schema), 'column')}",
                           field="source")
    columns = [{"name": f.name, "type": str(f.type)} for f in schema]
    return VersionSpec(files, fmt, rows, {"columns": columns}, profile)


def _enforce(contract: Contract, staged: Staged, fmt: str, name: str) -> None:
    from shipyard.datasets._validation import validate

    if fmt == "files":
        raise InvalidInput("a contract applies to tabular data (Parquet or CSV files)", field="contract")
    table = read_files([staged.local(p) for p in staged.paths], fmt, staged.paths)
    report = validate(table, contract)
    if not report.passed:
        raise InvalidInput(f"data for {name!r} breaks its contract:\n{report}", field="contract",
                           report=report.to_json())

