"""The DatasetStore interface over HTTP, for clients with ``SHIPYARD_URL`` set.

Uploads stream file bodies; downloads hold one file in memory at a time (the
transport has no streaming call yet). Both run in the caller's thread pool, so a
large folder moves in parallel. Every downloaded file's sha256 is checked before
it appears at its destination.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

from shipyard.datasets import Dataset, DatasetFile, DatasetVersion, VersionSpec, codec
from shipyard.errors import IntegrityError, NotFound
from shipyard.lineage import Edge, LineageGraph, Node
from shipyard.remote._http import HttpTransport, RetryPolicy
from shipyard.remote._pages import every_item

__all__ = ["RemoteDatasetStore"]

_API = "/api/v1/datasets"


def _q(text: str) -> str:
    return quote(text, safe="")


class RemoteDatasetStore:
    """:class:`~shipyard.datasets._backend.DatasetStore` talking to ``shipyard server``."""

    def __init__(self, url: str, token: str | None = None, retry: RetryPolicy | None = None) -> None:
        self._t = HttpTransport(url, token, timeout=300.0, retry=retry)

    def close(self) -> None:
        self._t.close()

    def missing_objects(self, digests: list[str], dataset: str | None = None) -> list[str]:
        missing: list[str] = []
        for start in range(0, len(digests), 50_000):
            body = {"digests": digests[start:start + 50_000], "dataset": dataset}
            missing += self._t.json("POST", f"{_API}/objects/missing", json=body)["missing"]
        return missing

    def put_object(self, path: Path, digest: str) -> None:
        with open(path, "rb") as fh:
            self._t.request("PUT", f"{_API}/objects/{_q(digest)}", content=fh)

    def fetch_object(self, version: DatasetVersion, file: DatasetFile, dest: Path) -> None:
        url = f"{_API}/{_q(version.name)}/versions/{version.version}/files/{quote(file.path, safe='/')}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        content = self._t.request("GET", url).content
        actual = hashlib.sha256(content).hexdigest()
        if actual != file.digest:
            raise IntegrityError(f"file {file.path!r} of {version.ref} does not match its hash",
                                 path=file.path, digest=file.digest, actual=actual)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(content)
            os.replace(tmp, dest)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def create_version(self, name: str, spec: VersionSpec, actor: str | None = None) -> DatasetVersion:
        body = {**codec.spec_to_json(spec), "actor": actor}
        return codec.version_from_json(self._t.json("POST", f"{_API}/{_q(name)}/versions", json=body))

    def find_version(self, name: str, digest: str) -> DatasetVersion | None:
        try:
            return self.resolve(f"{name}@{digest}")
        except NotFound:
            return None

    def get_version(self, name: str, version: int) -> DatasetVersion:
        return codec.version_from_json(self._t.json("GET", f"{_API}/{_q(name)}/versions/{int(version)}"))

    def resolve(self, ref: str, version: int | None = None) -> DatasetVersion:
        params: dict[str, Any] = {"ref": ref}
        if version is not None:
            params["version"] = version
        return codec.version_from_json(self._t.json("GET", f"{_API}/resolve", params=params))

    def list_datasets(self) -> list[Dataset]:
        return [codec.dataset_from_json(d) for d in every_item(self._t, _API)]

    def list_versions(self, name: str) -> list[DatasetVersion]:
        return [codec.version_from_json(v) for v in every_item(self._t, f"{_API}/{_q(name)}/versions")]

    def list_files(self, name: str, version: int) -> list[DatasetFile]:
        files = every_item(self._t, f"{_API}/{_q(name)}/versions/{int(version)}/files")
        return [codec.file_from_json(f) for f in files]

    def record_lineage(self, run_id: str, name: str, version: int, relation: str = "input") -> None:
        self._t.request("POST", f"{_API}/{_q(name)}/versions/{int(version)}/lineage",
                        json={"run_id": run_id, "relation": relation})

    def lineage(self, name: str, version: int, max_depth: int = 10) -> LineageGraph:
        data = self._t.json("GET", f"{_API}/{_q(name)}/versions/{int(version)}/lineage",
                            params={"max_depth": max_depth})

        def node(text: str) -> Node:
            kind, _, ident = text.partition(":")
            return Node(kind, ident)

        def edges(items: list[dict[str, str]]) -> list[Edge]:
            return [Edge(node(e["src"]), e["relation"], node(e["dst"])) for e in items]

        return LineageGraph(node(data["root"]), edges(data["upstream"]), edges(data["downstream"]))
