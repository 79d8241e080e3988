"""Garbage collection: purge runs deleted long enough ago, then remove the blobs nothing references.

The artifact store is content-addressed, so a blob is garbage exactly when no live record
names its digest: a run's artifacts, a model version's files, a dataset version's
manifest. This module owns every table's schema, so it counts those references itself.
Runs are soft-deleted (``lifecycle_stage`` and ``deleted_at``) and purged here after a
retention; the registry deletes model versions outright and dataset versions are never
deleted, so those two matter here only as references. :func:`collect_garbage` works in
four steps, from a start time ``T``:

1. **Purge.** Runs deleted at or before ``T - older_than`` are hard-deleted with their
   params, tags, metrics and artifact paths, a batch per write transaction that re-reads
   (on PostgreSQL, locks) the rows first, so a run restored meanwhile stays. Lineage
   edges and the audit log are kept: they are the provenance of what the run produced.
   A deleted run without a deletion time (deleted by an older Shipyard) gets ``T``, so
   its retention counts from the first collection that sees it.
2. **List** every blob of the artifact store with its size and modification time.
3. **Mark** the candidates: blobs no record references that were modified before
   ``T - grace - 1 s`` (the extra second covers stores that keep whole seconds, as S3
   does). Unreferenced blobs modified later are kept and counted as *too young*.
4. **Sweep**, a batch at a time: re-read which of the batch's digests are referenced now
   (records committed since step 3 count), re-read each blob's size and time, and
   delete only those still unreferenced, unchanged and old.

Why a concurrent writer loses nothing: writers store a blob *before* recording a
reference to it (``log_artifact``, dataset registration, pipeline outputs), so the
dangerous moment is a blob that no record names yet.

* A blob written at or after ``T - grace`` is never removed: its time fails the age test
  of step 3. A blob rewritten later (a put repairing a torn copy) is seen young again by
  the re-read of step 4; only a rewrite landing between that re-read and the delete, an
  instant, escapes. So a writer that records its reference within ``grace`` of writing
  the blob is safe however the collection interleaves with it.
* A blob whose reference was committed before its batch's re-check is never removed.

What no collector can see without the writers' help is a write that stores nothing: a
put of content already present, or a dataset registration skipping files it found
present, leaves no trace on an old, unreferenced blob. If such a writer checked for the
blob before the sweep deleted it and commits its record after the sweep re-checked it,
the record names a removed blob. For ``log_artifact`` that needs its few milliseconds
to straddle one batch's re-check and delete; a dataset registration checks for present
files before its whole upload, so do not register reused content during a collection.

The default ``grace`` of a day must exceed the longest time between storing a blob and
recording it (a large dataset upload, an untracked pipeline's intermediate outputs) and
the clock difference between this host and the object store. A blob's time is what the
store reports, on S3 when its upload began: the grace must cover the longest upload too.
The artifact store must belong to this database alone: blobs another database
references look unreferenced here.

>>> import tempfile
>>> from shipyard.store.artifacts import open_artifact_store
>>> db = Database("sqlite:///:memory:"); db.ensure_schema()
>>> collect_garbage(db, open_artifact_store(tempfile.mkdtemp())).runs
()
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import posixpath
import re
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from fsspec.implementations.local import LocalFileSystem
from sqlalchemy.engine import Connection

from shipyard.errors import InvalidInput
from shipyard.store import schema as t
from shipyard.store._db import Database
from shipyard.store.artifacts import ArtifactStore, FsspecArtifactStore, ObjectRef

__all__ = ["GcReport", "collect_garbage"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_PURGE_BATCH = 500
_SWEEP_BATCH = 200
_REMOTE_WORKERS = 8
# Some stores (S3) keep modification times in whole seconds, rounded down.
_TIME_SLACK_MS = 1000
# A client retries a keyed write within seconds; a day covers any retry budget and clock skew.
_IDEMPOTENCY_RETENTION_MS = 24 * 60 * 60 * 1000
_FAN = re.compile(r"[0-9a-f]{2}")
_REST = re.compile(r"[0-9a-f]{62}")


@dataclass(frozen=True)
class GcReport:
    """What one collection removed or, with ``dry_run``, would remove.

    ``runs`` are the ids of the runs purged, ``blobs`` the objects removed from the
    artifact store; ``kept_young`` counts unreferenced blobs left because they were
    written within the grace period. ``started_at`` is the collection's start in
    milliseconds since the epoch.
    """

    dry_run: bool
    started_at: int
    runs: tuple[str, ...] = ()
    blobs: tuple[ObjectRef, ...] = ()
    kept_young: int = 0
    idempotency_keys: int = 0  # idempotency keys purged (or, with dry_run, that would be)

    @property
    def bytes_freed(self) -> int:
        """The bytes the removed blobs held."""
        return sum(blob.size for blob in self.blobs)


@dataclass(frozen=True)
class _Blob:
    digest: str
    size: int
    modified_ms: int | None  # None: the store did not say, so the blob counts as young


def collect_garbage(
    db: Database,
    artifacts: ArtifactStore,
    *,
    older_than: timedelta = timedelta(days=30),
    grace: timedelta = timedelta(days=1),
    dry_run: bool = False,
    on_phase: Callable[[str], None] | None = None,
) -> GcReport:
    """Purge runs deleted at least ``older_than`` ago, then remove unreferenced blobs.

    See the module docstring for the steps and why concurrent writers are safe.
    ``grace`` protects blobs written recently that no record names yet. With
    ``dry_run`` nothing is written or removed, and the report lists what would go.
    ``on_phase`` is called with ``"started"``, ``"purged"``, ``"listed"``, ``"marked"``
    and ``"swept"`` as the collection reaches each point (progress reporting; tests use
    it to interleave writers). The schema must be current (``Database.ensure_schema``).
    Negative durations raise ``InvalidInput`` naming the parameter; a store that
    cannot list its objects raises ``InvalidInput(field="artifacts")``.
    """
    retention_ms = _duration_ms(older_than, "older_than")
    grace_ms = _duration_ms(grace, "grace")
    if not isinstance(artifacts, FsspecArtifactStore):
        raise InvalidInput(f"cannot list the objects of {artifacts!r} to collect garbage", field="artifacts")
    phase = on_phase or (lambda _name: None)
    started = time.time_ns() // 1_000_000
    cutoff = started - retention_ms
    phase("started")

    if dry_run:
        with db.read() as conn:
            runs = list(conn.scalars(sa.select(t.runs.c.id).where(_purgeable(cutoff, started)).order_by(t.runs.c.id)))
    else:
        runs = _purge_runs(db, cutoff, started)
    keys = _purge_idempotency_keys(db, started - _IDEMPOTENCY_RETENTION_MS, dry_run)
    phase("purged")

    listed = list(_list_blobs(artifacts))
    phase("listed")

    with db.read() as conn:
        manifests: dict[str, set[str]] = {}
        # A dry run purged nothing: what the purge would remove must not count as a reference.
        live = _referenced(conn, manifests, (cutoff, started) if dry_run else None)
    unreferenced = [blob for blob in listed if blob.digest not in live]
    blob_cutoff = started - grace_ms - _TIME_SLACK_MS
    candidates = [blob for blob in unreferenced if _old(blob, blob_cutoff)]
    young = len(unreferenced) - len(candidates)
    phase("marked")

    if dry_run:
        removed = [ObjectRef(blob.digest, blob.size) for blob in candidates]
    else:
        removed = []
        for batch in _chunks(candidates, _SWEEP_BATCH):
            swept, rewritten = _sweep(db, artifacts, batch, manifests, blob_cutoff)
            removed.extend(swept)
            young += rewritten
    phase("swept")
    report = GcReport(dry_run, started, tuple(runs), tuple(removed), young, keys)
    logger.info("gc%s: %d runs purged, %d blobs removed (%d bytes), %d unreferenced blobs too young",
                " (dry run)" if dry_run else "", len(runs), len(removed), report.bytes_freed, young)
    return report


def _purge_idempotency_keys(db: Database, cutoff: int, dry_run: bool) -> int:
    """Forget the idempotency keys stored before ``cutoff``: their writes can no longer be retried."""
    old = t.idempotency_keys.c.created_at < cutoff
    if dry_run:
        with db.read() as conn:
            return int(conn.scalar(sa.select(sa.func.count()).select_from(t.idempotency_keys).where(old)) or 0)
    with db.write() as conn:
        return int(conn.execute(sa.delete(t.idempotency_keys).where(old)).rowcount or 0)


def _duration_ms(value: object, name: str) -> int:
    if not isinstance(value, timedelta) or value < timedelta(0):
        raise InvalidInput(f"{name} must be a timedelta of zero or more, got {value!r}", field=name)
    return value // timedelta(milliseconds=1)


def _chunks(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# -- records --------------------------------------------------------------------------


def _purgeable(cutoff: int, unstamped: int | None = None) -> Any:
    """Runs deleted at or before ``cutoff``; with ``unstamped``, a deleted run without a
    deletion time counts as deleted then (what a real collection stamps it with)."""
    runs = t.runs.c
    deleted_at = runs.deleted_at if unstamped is None else sa.func.coalesce(runs.deleted_at, unstamped)
    return sa.and_(runs.lifecycle_stage == "deleted", deleted_at.is_not(None), deleted_at <= cutoff)


def _purge_runs(db: Database, cutoff: int, started: int) -> list[str]:
    runs = t.runs
    with db.write() as conn:
        conn.execute(runs.update().where(runs.c.lifecycle_stage == "deleted", runs.c.deleted_at.is_(None))
                     .values(deleted_at=started))
    with db.read() as conn:
        ids = [row.id for row in conn.execute(sa.select(runs.c.id).where(_purgeable(cutoff)).order_by(runs.c.id))]
    purged: list[str] = []
    for batch in _chunks(ids, _PURGE_BATCH):
        with db.write() as conn:
            # Locked and re-checked: a run restored since the listing is not purged.
            confirmed = list(conn.scalars(
                sa.select(runs.c.id).where(runs.c.id.in_(batch), _purgeable(cutoff)).with_for_update()))
            if not confirmed:
                continue
            for table in (t.params, t.run_tags, t.latest_metrics, t.metrics, t.artifacts):
                conn.execute(table.delete().where(table.c.run_id.in_(confirmed)))
            conn.execute(runs.delete().where(runs.c.id.in_(confirmed)))
        purged.extend(confirmed)
    return purged


def _referenced(conn: Connection, manifests: dict[str, set[str]], purge: tuple[int, int] | None) -> set[str]:
    """Every digest a record names; ``manifests`` is filled with each manifest's digests.

    With ``purge`` (the cutoff and start of a collection), the artifacts of the runs that
    collection would purge do not count.
    """
    a = t.artifacts
    query = sa.select(a.c.digest).distinct()
    if purge is not None:
        query = query.select_from(a.join(t.runs, t.runs.c.id == a.c.run_id)).where(sa.not_(_purgeable(*purge)))
    live = set(conn.scalars(query))
    live.update(conn.scalars(sa.select(t.model_version_files.c.digest).distinct()))
    for files in _new_manifests(conn, manifests):
        live.update(files)
    return live


def _new_manifests(conn: Connection, manifests: dict[str, set[str]]) -> list[set[str]]:
    """The file digests of dataset manifests not in ``manifests`` yet, which records them.

    Manifests are immutable rows keyed by content, so only new keys need decoding.
    """
    dm = t.dataset_manifests
    new = [d for d in conn.scalars(sa.select(dm.c.digest)) if d not in manifests]
    found = []
    for batch in _chunks(new, _SWEEP_BATCH):
        for digest, blob in conn.execute(sa.select(dm.c.digest, dm.c.manifest).where(dm.c.digest.in_(batch))):
            # zlib-compressed JSON [[path, sha256, size], ...], see the dataset_manifests table.
            files = {entry[1] for entry in orjson.loads(zlib.decompress(blob))}
            manifests[digest] = files
            found.append(files)
    return found


def _still_referenced(conn: Connection, digests: Sequence[str], manifests: dict[str, set[str]]) -> set[str]:
    wanted = set(digests)
    hits = set(conn.scalars(sa.select(t.artifacts.c.digest).where(t.artifacts.c.digest.in_(digests))))
    hits.update(conn.scalars(sa.select(t.model_version_files.c.digest)
                             .where(t.model_version_files.c.digest.in_(digests))))
    for files in _new_manifests(conn, manifests):
        hits.update(files & wanted)
    return hits


# -- blobs ----------------------------------------------------------------------------


def _old(blob: _Blob, cutoff: int) -> bool:
    return blob.modified_ms is not None and blob.modified_ms < cutoff


def _sweep(db: Database, store: FsspecArtifactStore, batch: Sequence[_Blob], manifests: dict[str, set[str]],
           cutoff: int) -> tuple[list[ObjectRef], int]:
    """Delete the blobs of ``batch`` still unreferenced and unchanged; return them and how
    many were found rewritten (young again)."""
    with db.read() as conn:
        referenced = _still_referenced(conn, [blob.digest for blob in batch], manifests)

    def remove(blob: _Blob) -> ObjectRef | bool:
        now = _stat(store, blob.digest)
        if now is None:  # already gone (another collection)
            return False
        if now.size != blob.size or not _old(now, cutoff):
            return True
        store.delete(blob.digest)
        return ObjectRef(blob.digest, blob.size)

    todo = [blob for blob in batch if blob.digest not in referenced]
    if _is_local(store) or len(todo) < 2:
        outcomes = [remove(blob) for blob in todo]
    else:
        with ThreadPoolExecutor(max_workers=_REMOTE_WORKERS, thread_name_prefix="shipyard-gc") as pool:
            outcomes = list(pool.map(remove, todo))
    removed = [o for o in outcomes if isinstance(o, ObjectRef)]
    return removed, sum(1 for o in outcomes if o is True)


def _is_local(store: FsspecArtifactStore) -> bool:
    return isinstance(store.fs, LocalFileSystem)


def _list_blobs(store: FsspecArtifactStore) -> Iterator[_Blob]:
    """Every object under ``objects/`` (see the layout in ``fsspec_store``); other files are ignored."""
    if _is_local(store):
        top = os.path.join(store.root, "objects")
        with store._translate(None):  # the store's own translation of OS and backend errors
            try:
                fans = [entry for entry in os.scandir(top) if _FAN.fullmatch(entry.name) and entry.is_dir()]
            except FileNotFoundError:  # nothing stored yet
                return
            for fan in fans:
                for entry in os.scandir(fan.path):
                    if _REST.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                        st = entry.stat(follow_symlinks=False)
                        yield _Blob(fan.name + entry.name, st.st_size, st.st_mtime_ns // 1_000_000)
        return
    top = posixpath.join(store.root, "objects")
    with store._translate(None):
        try:
            found = store.fs.find(top, detail=True)
        except FileNotFoundError:
            return
    for path, info in found.items():
        head, rest = _split(path)
        if _FAN.fullmatch(head) and _REST.fullmatch(rest) and info.get("type", "file") == "file":
            yield _Blob(head + rest, int(info.get("size") or 0), _modified_ms(info))


def _split(path: str) -> tuple[str, str]:
    """``(fan-out directory, rest of the name)`` of an object's path."""
    parts = path.rstrip("/").split("/")
    return (parts[-2], parts[-1]) if len(parts) >= 2 else ("", "")


def _stat(store: FsspecArtifactStore, digest: str) -> _Blob | None:
    """The blob's current size and time, or None if it is gone."""
    path = store.object_path(digest)
    with store._translate(digest):
        try:
            if _is_local(store):
                st = os.stat(path)
                return _Blob(digest, st.st_size, st.st_mtime_ns // 1_000_000)
            info = store.fs.info(path)
        except FileNotFoundError:
            return None
    return _Blob(digest, int(info.get("size") or 0), _modified_ms(info))


def _modified_ms(info: dict[str, Any]) -> int | None:
    """The modification time an fsspec ``info`` reports, in ms; None when it has none."""
    for key in ("LastModified", "mtime", "last_modified", "updated", "created"):
        value = info.get(key)
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=dt.UTC)
            return int(value.timestamp() * 1000)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return int(value * 1000)
        if isinstance(value, str) and value:
            try:
                parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp() * 1000)
    return None
