"""Dataset versions on the metadata database, bytes in the artifact store.

A version is created in one transaction (the dataset row, the version row, its
file manifest — one compressed row per distinct content, however many files — and
the lineage edge of the producing run), after every object it names has been
stored. The unique index on (name, content hash) makes registering the
same content twice return the first version, even when two processes race.
"""

from __future__ import annotations

import json
import re
import threading
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, cast

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shipyard.datasets._backend import RELATIONS, VersionSpec
from shipyard.datasets._entities import (
    Dataset,
    DatasetFile,
    DatasetRef,
    DatasetVersion,
    now_ms,
    parse_dataset_ref,
    validate_dataset_name,
)
from shipyard.datasets._profile import Profile
from shipyard.datasets._verified import VerifiedReader
from shipyard.errors import InvalidInput, NotFound
from shipyard.lineage import Edge, LineageGraph, Node
from shipyard.store import Database, LineageStore, insert_ignore
from shipyard.store import schema as t
from shipyard.store.artifacts import ArtifactStore, FsspecArtifactStore, check_digest, safe_relpath

__all__ = ["SqlDatasetStore", "decode_manifest", "encode_manifest", "lineage_edge"]

_RUN_ID_LENGTH = 32
_MANIFEST_CACHE = 8
# Relative POSIX paths with no empty part, backslash or NUL; "." and ".." parts are caught by _DOT_PART.
_PLAIN_PATH = re.compile(r"(?:[^/\\\x00]+/)*[^/\\\x00]+")
_DOT_PART = re.compile(r"(?:^|/)\.\.?(?:/|$)")
_ALL_PLAIN = re.compile(r"(?:(?:[^/\\\x00\n]+/)*[^/\\\x00\n]+\n)*(?:[^/\\\x00\n]+/)*[^/\\\x00\n]+")
_ANY_DOT_PART = re.compile(r"(?:^|/|\n)\.\.?(?:/|\n|$)")
_ANY_DRIVE = re.compile(r"(?:^|\n).:")
_ALL_DIGESTS = re.compile(r"(?:[0-9a-f]{64}\n)*[0-9a-f]{64}")


def encode_manifest(files: Sequence[DatasetFile]) -> bytes:
    """zlib-compressed JSON ``[[path, sha256, size], …]`` (sorted by path)."""
    rows = [[f.path, f.digest, f.size] for f in sorted(files, key=lambda f: f.path)]
    return zlib.compress(orjson.dumps(rows), 1)


def decode_manifest(blob: bytes) -> list[DatasetFile]:
    return [DatasetFile(p, d, s) for p, d, s in orjson.loads(zlib.decompress(blob))]


def lineage_edge(run_id: str, ref: str, relation: str) -> Edge:
    """``dataset -input-> run`` or ``run -produced-> dataset``."""
    if relation not in RELATIONS:
        raise InvalidInput(f"relation must be one of {RELATIONS}, got {relation!r}", field="relation")
    if relation == "input":
        return Edge(Node("dataset", ref), "input", Node("run", run_id))
    return Edge(Node("run", run_id), "produced", Node("dataset", ref))


class SqlDatasetStore:
    """:class:`~shipyard.datasets._backend.DatasetStore` over a Database and an ArtifactStore."""

    def __init__(self, db: Database, artifacts: ArtifactStore) -> None:
        self.db = db
        self.artifacts = artifacts
        self.lineage_store = LineageStore(db)
        self._manifests: dict[str, dict[str, DatasetFile]] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        """Nothing of its own to release: the database belongs to the tracking store too."""

    # -- objects ----------------------------------------------------------------------

    def missing_objects(self, digests: list[str], dataset: str | None = None) -> list[str]:
        if dataset is not None:
            known = self._latest_digests(validate_dataset_name(dataset))
            digests = [d for d in digests if d not in known]
        for digest in digests:
            check_digest(digest)
        local = isinstance(self.artifacts, FsspecArtifactStore) and self.artifacts.uri.startswith("/")
        if local or len(digests) < 4:
            return [d for d in digests if not self.artifacts.exists(d)]
        with ThreadPoolExecutor(max_workers=16, thread_name_prefix="shipyard-exists") as pool:
            stored = list(pool.map(self.artifacts.exists, digests))
        return [d for d, ok in zip(digests, stored, strict=True) if not ok]

    def _latest_digests(self, name: str) -> set[str]:
        dv = t.dataset_versions
        with self.db.read() as conn:
            digest = conn.execute(sa.select(dv.c.digest).where(dv.c.name == name)
                                  .order_by(dv.c.version.desc()).limit(1)).scalar()
            return {f.digest for f in self._manifest(conn, digest)} if digest else set()

    def put_object(self, path: Path, digest: str) -> None:
        check_digest(digest)
        try:
            source = open(path, "rb")  # noqa: SIM115 - closed by the `with` below
        except FileNotFoundError:
            raise NotFound(f"no such file: {str(path)!r}", resource="file", path=str(path)) from None
        with source:
            changed = f"{str(path)!r} changed while it was being registered; register it again"
            self.artifacts.put_stream(cast(BinaryIO, VerifiedReader(source, digest, changed)))

    def put_stream(self, stream: Any, digest: str) -> None:
        """Store an uploaded stream (the server's side of ``put_object``); bytes that do not
        hash to ``digest`` raise IntegrityError (``expected``, ``actual``) and are not kept."""
        check_digest(digest)
        reader = VerifiedReader(stream, digest, "uploaded bytes do not match their digest")
        self.artifacts.put_stream(cast(BinaryIO, reader))

    def fetch_object(self, version: DatasetVersion, file: DatasetFile, dest: Path) -> None:
        self.artifacts.get_file(file.digest, dest)

    # -- versions ---------------------------------------------------------------------

    def create_version(self, name: str, spec: VersionSpec, actor: str | None = None) -> DatasetVersion:
        validate_dataset_name(name)
        files = _check_files(spec.files)
        digest = _content_hash(files)
        now = now_ms()
        with self.db.write() as conn:
            insert_ignore(conn, t.datasets, [{"name": name, "description": None, "created_at": now,
                                              "updated_at": now}])
            # Serialises version numbering on PostgreSQL (SQLite's BEGIN IMMEDIATE already does).
            conn.execute(sa.select(t.datasets.c.name).where(t.datasets.c.name == name).with_for_update())
            found = conn.execute(_select_versions().where(t.dataset_versions.c.name == name,
                                                          t.dataset_versions.c.digest == digest)).first()
            if spec.run_id:
                self._require_run(conn, spec.run_id)
            if found is not None:
                number = found.version
            else:
                number = (conn.execute(sa.select(sa.func.max(t.dataset_versions.c.version))
                                       .where(t.dataset_versions.c.name == name)).scalar() or 0) + 1
                conn.execute(t.dataset_versions.insert().values(
                    name=name, version=number, digest=digest, format=spec.format, num_files=len(files),
                    num_bytes=sum(f.size for f in files), num_rows=spec.num_rows, schema=_dump(spec.schema),
                    profile=_dump(spec.profile.to_json() if spec.profile else None), source=spec.source,
                    description=spec.description, tags=_dump(spec.tags or None), run_id=spec.run_id,
                    user=actor, created_at=now))
                insert_ignore(conn, t.dataset_manifests, [
                    {"digest": digest, "num_files": len(files), "manifest": encode_manifest(files)}])
                self._remember(digest, {f.path: f for f in sorted(files, key=lambda f: f.path)})
                conn.execute(t.datasets.update().where(t.datasets.c.name == name).values(updated_at=now))
            if spec.run_id:
                LineageStore.add_in(conn, [lineage_edge(spec.run_id, f"{name}@{number}", "produced")], now)
        return self.get_version(name, number)

    def find_version(self, name: str, digest: str) -> DatasetVersion | None:
        validate_dataset_name(name)
        with self.db.read() as conn:
            row = conn.execute(_select_versions(profile=True).where(
                t.dataset_versions.c.name == name, t.dataset_versions.c.digest == check_digest(digest))).first()
        return _version(row) if row is not None else None

    def get_version(self, name: str, version: int) -> DatasetVersion:
        with self.db.read() as conn:
            return _version(self._version_row(conn, name, int(version)))

    def resolve(self, ref: str, version: int | None = None) -> DatasetVersion:
        parsed = parse_dataset_ref(ref, version)
        dv = t.dataset_versions
        query = _select_versions(profile=True)
        if parsed.name is None:
            query = query.where(dv.c.digest == parsed.digest).order_by(dv.c.created_at, dv.c.name)
        elif parsed.version is not None:
            query = query.where(dv.c.name == parsed.name, dv.c.version == parsed.version)
        elif parsed.digest is not None:
            query = query.where(dv.c.name == parsed.name, dv.c.digest.startswith(parsed.digest, autoescape=True))
        else:
            query = query.where(dv.c.name == parsed.name).order_by(dv.c.version.desc())
        with self.db.read() as conn:
            rows = conn.execute(query.limit(2)).all()
        if not rows:
            raise _not_found(parsed, ref)
        if parsed.name is not None and parsed.digest is not None and len(rows) > 1:
            raise InvalidInput(f"{ref!r} matches more than one version: give more of the hash", field="ref")
        return _version(rows[0])

    def list_datasets(self, *, after: str | None = None, limit: int | None = None) -> list[Dataset]:
        """Datasets by name; a page of them with ``limit``, those named after ``after``."""
        d, dv = t.datasets, t.dataset_versions
        latest = sa.select(sa.func.max(dv.c.version)).where(dv.c.name == d.c.name).scalar_subquery()
        query = sa.select(d, latest.label("latest")).order_by(d.c.name).limit(limit)
        if after is not None:
            query = query.where(d.c.name > after)
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        return [Dataset(r.name, r.latest, r.description, r.created_at, r.updated_at) for r in rows]

    def list_versions(self, name: str, *, after: int | None = None, limit: int | None = None) -> list[DatasetVersion]:
        """Versions newest first; a page of them with ``limit``, those older than version ``after``."""
        validate_dataset_name(name)
        dv = t.dataset_versions
        query = _select_versions().where(dv.c.name == name).order_by(dv.c.version.desc()).limit(limit)
        if after is not None:
            query = query.where(dv.c.version < after)
        with self.db.read() as conn:
            self._dataset_row(conn, name)
            rows = conn.execute(query).all()
        return [_version(r) for r in rows]

    def list_files(self, name: str, version: int) -> list[DatasetFile]:
        with self.db.read() as conn:
            row = self._version_row(conn, name, int(version), profile=False)
            return list(self._manifest(conn, row.digest))

    def find_file(self, name: str, version: int, path: str) -> DatasetFile:
        """One file of a version by its path (NotFound if the version has no such file)."""
        with self.db.read() as conn:
            row = self._version_row(conn, name, int(version), profile=False)
            found = self._by_path(conn, row.digest).get(path)
        if found is None:
            raise NotFound(f"dataset version {name}@{version} has no file {path!r}", resource="file", path=path)
        return found

    def _manifest(self, conn: Connection, digest: str) -> tuple[DatasetFile, ...]:
        return tuple(self._by_path(conn, digest).values())

    def _by_path(self, conn: Connection, digest: str) -> dict[str, DatasetFile]:
        """The manifest of content ``digest``, path → file; kept for the last few digests
        (manifests never change, so the cache cannot go stale)."""
        with self._lock:
            cached = self._manifests.get(digest)
        if cached is None:
            blob = conn.execute(sa.select(t.dataset_manifests.c.manifest)
                                .where(t.dataset_manifests.c.digest == digest)).scalar_one()
            cached = {f.path: f for f in decode_manifest(blob)}
            self._remember(digest, cached)
        return cached

    def _remember(self, digest: str, by_path: dict[str, DatasetFile]) -> None:
        with self._lock:
            self._manifests[digest] = by_path
            while len(self._manifests) > _MANIFEST_CACHE:
                self._manifests.pop(next(iter(self._manifests)))

    # -- lineage ----------------------------------------------------------------------

    def record_lineage(self, run_id: str, name: str, version: int, relation: str = "input") -> None:
        edge = lineage_edge(run_id, f"{name}@{int(version)}", relation)
        with self.db.write() as conn:
            self._version_row(conn, name, int(version), profile=False)
            self._require_run(conn, run_id)
            LineageStore.add_in(conn, [edge], now_ms())

    def lineage(self, name: str, version: int, max_depth: int = 10) -> LineageGraph:
        with self.db.read() as conn:
            self._version_row(conn, name, int(version), profile=False)
        return self.lineage_store.graph(Node("dataset", f"{name}@{int(version)}"), max_depth)

    # -- helpers ----------------------------------------------------------------------

    @staticmethod
    def _require_run(conn: Connection, run_id: str) -> None:
        if not isinstance(run_id, str) or len(run_id) != _RUN_ID_LENGTH or \
                conn.execute(sa.select(t.runs.c.id).where(t.runs.c.id == run_id)).first() is None:
            raise NotFound(f"run {run_id!r} not found", resource="run", run_id=run_id)

    @staticmethod
    def _dataset_row(conn: Connection, name: str) -> Any:
        row = conn.execute(sa.select(t.datasets.c.name).where(t.datasets.c.name == name)).first()
        if row is None:
            raise NotFound(f"dataset {name!r} not found", resource="dataset", name=name)
        return row

    def _version_row(self, conn: Connection, name: str, version: int, profile: bool = True) -> Any:
        row = conn.execute(_select_versions(profile).where(
            t.dataset_versions.c.name == name, t.dataset_versions.c.version == version)).first()
        if row is None:
            self._dataset_row(conn, name)
            raise NotFound(f"dataset version {name}@{version} not found", resource="dataset_version",
                           name=name, version=version)
        return row


def _select_versions(profile: bool = False) -> Any:
    dv = t.dataset_versions
    columns = [c for c in dv.c if profile or c.name != "profile"]
    return sa.select(*columns)


def _version(row: Any) -> DatasetVersion:
    data = row._mapping
    profile = data.get("profile")
    return DatasetVersion(
        row.name, row.version, row.digest, row.format, row.num_files, row.num_bytes, row.num_rows,
        _load(row.schema), Profile.from_json(json.loads(profile)) if profile else None, row.source,
        row.description, _load(row.tags) or {}, row.run_id, row.user, row.created_at)


def _clean(path: str) -> str:
    """``path`` if it is already a normalised safe relative path, else :func:`safe_relpath`'s answer."""
    if _PLAIN_PATH.fullmatch(path) and not _DOT_PART.search(path) and path[1:2] != ":":
        return path
    return safe_relpath(path)


def _check_files(files: Sequence[DatasetFile]) -> list[DatasetFile]:
    if not files:
        raise InvalidInput("a version needs at least one file", field="files")
    paths, digests = "\n".join(f.path for f in files), "\n".join(f.digest for f in files)
    if _ALL_PLAIN.fullmatch(paths) and not _ANY_DOT_PART.search(paths) and not _ANY_DRIVE.search(paths) \
            and _ALL_DIGESTS.fullmatch(digests) and all(isinstance(f.size, int) for f in files):
        checked = list(files)  # the common case, checked in four passes over the joined text
    else:
        checked = [DatasetFile(_clean(f.path), check_digest(f.digest), int(f.size)) for f in files]
    if len({f.path for f in checked}) != len(checked):
        raise InvalidInput("a version lists the same path twice", field="files")
    return checked


def _content_hash(files: Sequence[DatasetFile]) -> str:
    from shipyard.datasets._entities import content_hash

    return content_hash(files)


def _not_found(parsed: DatasetRef, ref: str) -> NotFound:
    if parsed.name is None:
        return NotFound(f"no dataset version has content hash {parsed.digest}", resource="dataset_version",
                        ref=ref)
    return NotFound(f"dataset version {ref!r} not found", resource="dataset_version", ref=ref)


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True)


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)
