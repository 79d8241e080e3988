"""Run artifacts: logical paths in the metadata database, bytes in the artifact store."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import sqlalchemy as sa

from shipyard.errors import NotFound
from shipyard.store import Database, upsert
from shipyard.store import schema as t
from shipyard.store.artifacts import ArtifactStore, safe_relpath
from shipyard.tracking._entities import ArtifactInfo, now_ms, validate_run_id

__all__ = ["SqlRunArtifacts"]


class SqlRunArtifacts:
    """The artifact part of :class:`~shipyard.tracking._sql_store.SqlTrackingStore`."""

    def __init__(self, db: Database, artifacts: ArtifactStore) -> None:
        self.db = db
        self.artifacts = artifacts

    def log_artifact(self, run_id: str, path: str, source: str | os.PathLike[str] | BinaryIO) -> ArtifactInfo:
        """Store ``source`` (a file path or a binary stream) at logical ``path`` of the run.

        The object is written (atomically, content-addressed) before the path is
        recorded, so a path is never visible without its bytes.
        """
        validate_run_id(run_id)
        path = safe_relpath(path)
        self._require_run(run_id)
        if isinstance(source, (str, os.PathLike)):
            ref = self.artifacts.put_file(source)
        else:
            ref = self.artifacts.put_stream(source)
        with self.db.write() as conn:
            upsert(conn, t.artifacts,
                   [{"run_id": run_id, "path": path, "digest": ref.digest, "size": ref.size, "created_at": now_ms()}],
                   keys=["run_id", "path"], update=["digest", "size", "created_at"])
        return ArtifactInfo(path, ref.digest, ref.size)

    def _require_run(self, run_id: str) -> None:
        with self.db.read() as conn:
            if not conn.execute(sa.select(t.runs.c.id).where(t.runs.c.id == run_id)).first():
                raise NotFound(f"run {run_id!r} not found", resource="run", run_id=run_id)

    def list_artifacts(self, run_id: str, prefix: str = "") -> list[ArtifactInfo]:
        validate_run_id(run_id)
        self._require_run(run_id)
        a = t.artifacts
        query = sa.select(a.c.path, a.c.digest, a.c.size).where(a.c.run_id == run_id).order_by(a.c.path)
        if prefix:
            prefix = safe_relpath(prefix).rstrip("/")
            query = query.where(sa.or_(a.c.path == prefix, a.c.path.startswith(prefix + "/", autoescape=True)))
        with self.db.read() as conn:
            return [ArtifactInfo(p, d, s) for p, d, s in conn.execute(query)]

    def _artifact_digest(self, run_id: str, path: str) -> str:
        validate_run_id(run_id)
        path = safe_relpath(path)
        with self.db.read() as conn:
            digest = conn.execute(
                sa.select(t.artifacts.c.digest).where(t.artifacts.c.run_id == run_id, t.artifacts.c.path == path)
            ).scalar()
        if digest is None:
            raise NotFound(f"artifact {path!r} of run {run_id!r} not found", resource="artifact",
                           run_id=run_id, path=path)
        return digest

    def open_artifact(self, run_id: str, path: str) -> Iterator[bytes]:
        return self.artifacts.open(self._artifact_digest(run_id, path))

    def download_artifact(self, run_id: str, path: str, dest: str | os.PathLike[str]) -> Path:
        return self.artifacts.get_file(self._artifact_digest(run_id, path), dest)

    def delete_artifact(self, run_id: str, path: str) -> None:
        # Only the logical path goes; the object may be shared by other paths (dedup).
        self._artifact_digest(run_id, path)
        with self.db.write() as conn:
            conn.execute(t.artifacts.delete().where(t.artifacts.c.run_id == run_id,
                                                    t.artifacts.c.path == safe_relpath(path)))
