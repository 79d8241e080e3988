"""The RegistryStore interface over HTTP, for clients with ``SHIPYARD_URL`` set."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

from shipyard.errors import IntegrityError
from shipyard.lineage import LineageGraph
from shipyard.registry import AuditEvent, ModelVersion, RegisteredModel, codec
from shipyard.registry._materialize import Materializer
from shipyard.remote._http import HttpTransport, RetryPolicy
from shipyard.remote._pages import every_item
from shipyard.tracking import ArtifactInfo, Page
from shipyard.tracking._codec import artifact_from_json

__all__ = ["RemoteRegistryStore"]

_API = "/api/v1/registry"


def _q(text: str) -> str:
    return quote(text, safe="")


class RemoteRegistryStore:
    """:class:`~shipyard.registry._backend.RegistryStore` talking to ``shipyard server``."""

    def __init__(
        self, url: str, token: str | None = None, cache_dir: Path | None = None, retry: RetryPolicy | None = None
    ) -> None:
        self._t = HttpTransport(url, token, retry=retry)
        self._materializer = Materializer(cache_dir or Path(tempfile.gettempdir()) / "shipyard-models")

    def close(self) -> None:
        self._t.close()

    def _page(self, data: dict[str, Any], decode: Any) -> Page:
        return Page([decode(x) for x in data["items"]], data.get("next_page_token"))

    def create_registered_model(self, name: str, description: str | None = None,
                                tags: dict[str, str] | None = None, actor: str | None = None) -> RegisteredModel:
        body = {"name": name, "description": description, "tags": tags, "actor": actor}
        return codec.model_from_json(self._t.json("POST", f"{_API}/models", json=body))

    def get_registered_model(self, name: str) -> RegisteredModel:
        return codec.model_from_json(self._t.json("GET", f"{_API}/models/{_q(name)}"))

    def search_registered_models(self, name_like: str | None = None, max_results: int = 100,
                                 page_token: str | None = None) -> Page:
        params = {k: v for k, v in {"name_like": name_like, "max_results": max_results,
                                    "page_token": page_token}.items() if v is not None}
        return self._page(self._t.json("GET", f"{_API}/models", params=params), codec.model_from_json)

    def update_registered_model(self, name: str, description: str | None,
                                actor: str | None = None) -> RegisteredModel:
        body = {"description": description, "actor": actor}
        return codec.model_from_json(self._t.json("PATCH", f"{_API}/models/{_q(name)}", json=body))

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        self._t.request("PUT", f"{_API}/models/{_q(name)}/tags/{_q(key)}", json={"value": value})

    def delete_registered_model(self, name: str, actor: str | None = None, reason: str | None = None) -> None:
        params = {k: v for k, v in {"actor": actor, "reason": reason}.items() if v is not None}
        self._t.request("DELETE", f"{_API}/models/{_q(name)}", params=params)

    def create_model_version(self, name: str, source: str, description: str | None = None,
                             tags: dict[str, str] | None = None, actor: str | None = None) -> ModelVersion:
        body = {"source": source, "description": description, "tags": tags, "actor": actor}
        return codec.version_from_json(self._t.json("POST", f"{_API}/models/{_q(name)}/versions", json=body))

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        return codec.version_from_json(self._t.json("GET", f"{_API}/models/{_q(name)}/versions/{int(version)}"))

    def search_model_versions(self, name: str | None = None, run_id: str | None = None, max_results: int = 100,
                              page_token: str | None = None) -> Page:
        params = {k: v for k, v in {"name": name, "run_id": run_id, "max_results": max_results,
                                    "page_token": page_token}.items() if v is not None}
        return self._page(self._t.json("GET", f"{_API}/versions", params=params), codec.version_from_json)

    def update_model_version(self, name: str, version: int, description: str | None,
                             actor: str | None = None) -> ModelVersion:
        body = {"description": description, "actor": actor}
        return codec.version_from_json(
            self._t.json("PATCH", f"{_API}/models/{_q(name)}/versions/{int(version)}", json=body))

    def set_model_version_tag(self, name: str, version: int, key: str, value: str) -> None:
        self._t.request("PUT", f"{_API}/models/{_q(name)}/versions/{int(version)}/tags/{_q(key)}",
                        json={"value": value})

    def delete_model_version(self, name: str, version: int, actor: str | None = None,
                             reason: str | None = None) -> None:
        params = {k: v for k, v in {"actor": actor, "reason": reason}.items() if v is not None}
        self._t.request("DELETE", f"{_API}/models/{_q(name)}/versions/{int(version)}", params=params)

    def list_version_files(self, name: str, version: int) -> list[ArtifactInfo]:
        items = every_item(self._t, f"{_API}/models/{_q(name)}/versions/{int(version)}/files")
        return [artifact_from_json(f) for f in items]

    def _fetch(self, name: str, version: int, info: ArtifactInfo, dest: Path) -> None:
        """Download one file, checking its sha256 before it appears at ``dest``."""
        url = f"{_API}/models/{_q(name)}/versions/{int(version)}/files/{quote(info.path, safe='/')}"
        content = self._t.request("GET", url).content
        if hashlib.sha256(content).hexdigest() != info.digest:
            raise IntegrityError(f"file {info.path!r} of {name}/{version} does not match its hash",
                                 path=info.path)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent)
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        os.replace(tmp, dest)

    def materialize(self, name: str, version: int) -> Path:
        files = self.list_version_files(name, version)
        return self._materializer.materialize(f"{name}/{version}", files,
                                              lambda f, dest: self._fetch(name, version, f, dest))

    def get_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return codec.version_from_json(self._t.json("GET", f"{_API}/models/{_q(name)}/aliases/{_q(alias)}"))

    def resolve(self, uri: str) -> ModelVersion:
        return codec.version_from_json(self._t.json("GET", f"{_API}/resolve", params={"uri": uri}))

    def set_alias(self, name: str, alias: str, version: int, actor: str | None = None,
                  reason: str | None = None, force: bool = False) -> ModelVersion:
        body = {"version": int(version), "reason": reason, "force": force, "actor": actor}
        return codec.version_from_json(
            self._t.json("PUT", f"{_API}/models/{_q(name)}/aliases/{_q(alias)}", json=body))

    def delete_alias(self, name: str, alias: str, actor: str | None = None, reason: str | None = None) -> None:
        params = {k: v for k, v in {"actor": actor, "reason": reason}.items() if v is not None}
        self._t.request("DELETE", f"{_API}/models/{_q(name)}/aliases/{_q(alias)}", params=params)

    def rollback(self, name: str, alias: str, actor: str | None = None, reason: str | None = None) -> ModelVersion:
        body = {"actor": actor, "reason": reason}
        return codec.version_from_json(
            self._t.json("POST", f"{_API}/models/{_q(name)}/aliases/{_q(alias)}/rollback", json=body))

    def set_policy(self, name: str, policy: dict[str, Any] | None, actor: str | None = None,
                   reason: str | None = None) -> RegisteredModel:
        body = {"policy": policy, "actor": actor, "reason": reason}
        return codec.model_from_json(self._t.json("PUT", f"{_API}/models/{_q(name)}/policy", json=body))

    def set_traffic(self, name: str, split: dict[str, Any] | None, actor: str | None = None,
                    reason: str | None = None) -> RegisteredModel:
        body = {"traffic": split, "actor": actor, "reason": reason}
        return codec.model_from_json(self._t.json("PUT", f"{_API}/models/{_q(name)}/traffic", json=body))

    def history(self, name: str) -> list[AuditEvent]:
        return [codec.event_from_json(e) for e in every_item(self._t, f"{_API}/models/{_q(name)}/history")]

    def lineage(self, node_type: str, node_id: str, max_depth: int = 10) -> LineageGraph:
        data = self._t.json("GET", f"{_API}/lineage", params={"type": node_type, "id": node_id,
                                                              "max_depth": max_depth})
        return codec.lineage_from_json(data)

    def generation(self) -> int:
        return int(self._t.json("GET", f"{_API}/generation")["generation"])
