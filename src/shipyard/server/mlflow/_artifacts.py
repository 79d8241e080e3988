"""MLflow's artifact proxy (``/api/2.0/mlflow-artifacts/artifacts``) over Shipyard's artifact store.

The MLflow client turns ``mlflow-artifacts:/<path>`` into requests here: a raw PUT per
file, ``GET …/artifacts?path=<dir>`` to list a folder's immediate children, a GET of
the file to download it (streamed; bytes are hash-checked as they are read) and a
DELETE of a file or folder. Paths map onto Shipyard as follows:

* ``<experiment>/<run id>/artifacts/<path>`` → the run's artifact ``<path>``
  (logged models' files live here too, see :mod:`.logged_models`);
* ``registered-models/<name>/<version>/<path>`` → a registered version's files
  (read-only), the download URI the registry endpoints hand out.

Anything else lists as empty and downloads as RESOURCE_DOES_NOT_EXIST, as a missing
folder does on an MLflow server. ``/api/3.0/mlflow/server-info`` says multipart
transfers are off, so the client always uses the plain requests above.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, BinaryIO, cast

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from shipyard.errors import InvalidInput, NotFound
from shipyard.server._spool import spool_body
from shipyard.server.mlflow._registry import REGISTRY_ARTIFACT_ROOT, version_files
from shipyard.server.mlflow._routing import Routes, Stores, json_response
from shipyard.store.artifacts import safe_relpath
from shipyard.tracking import ArtifactInfo, validate_run_id

__all__ = ["Location", "children", "locate", "routes", "server_routes"]

ROOT = "/api/2.0/mlflow-artifacts/artifacts"
routes = Routes(ROOT)


@dataclass(frozen=True)
class Location:
    """Where an artifact-proxy path points: a run's artifacts or a version's files, and the
    path inside (``""`` for the root)."""

    run_id: str | None = None
    model: tuple[str, str] | None = None
    path: str = ""


def locate(path: str) -> Location | None:
    """The location of an artifact-proxy path, or None when it names nothing Shipyard holds."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[0] == REGISTRY_ARTIFACT_ROOT:
        rest = "/".join(parts[3:])
        return Location(model=(parts[1], parts[2]), path=safe_relpath(rest) if rest else "")
    if len(parts) >= 3 and parts[0].isdigit() and parts[2] == "artifacts":
        rest = "/".join(parts[3:])
        return Location(run_id=validate_run_id(parts[1]), path=safe_relpath(rest) if rest else "")
    if ".." in parts:
        raise InvalidInput(f"artifact path {path!r} may not contain '..'", field="path")
    return None


def _files(stores: Stores, where: Location) -> list[ArtifactInfo]:
    """Every file at or under ``where`` (its path relative to the location's root)."""
    if where.run_id is not None:
        return stores.tracking.list_artifacts(where.run_id, where.path)
    assert where.model is not None
    prefix = where.path + "/" if where.path else ""
    return [f for f in version_files(stores, *where.model) if f.path == where.path or f.path.startswith(prefix)]


def children(files: list[ArtifactInfo], folder: str) -> list[dict[str, Any]]:
    """MLflow's listing of ``folder``: its immediate children, by base name; a file lists empty."""
    prefix = folder + "/" if folder else ""
    entries: dict[str, dict[str, Any]] = {}
    for f in files:
        if not f.path.startswith(prefix):
            continue
        head, _, rest = f.path[len(prefix):].partition("/")
        if rest:
            entries.setdefault(head, {"path": head, "is_dir": True})
        else:
            entries[head] = {"path": head, "is_dir": False, "file_size": f.size}
    return [entries[k] for k in sorted(entries)]


def _list(stores: Stores, path: str) -> dict[str, Any]:
    where = locate(path)
    if where is None:
        return {}
    try:
        files = _files(stores, where)
    except NotFound:  # a missing folder lists as empty on MLflow's server too
        return {}
    listed = children(files, where.path)
    return {"files": listed} if listed else {}


@routes.raw("GET", "")
async def list_artifacts(request: Request, stores: Stores) -> Response:
    path = request.query_params.get("path", "")
    return json_response(await run_in_threadpool(_list, stores, path))


def _open(stores: Stores, path: str) -> tuple[Any, int]:
    where = locate(path)
    if where is None or not where.path:
        raise NotFound(f"No such artifact: {path!r}", resource="artifact", path=path)
    match = [f for f in _files(stores, where) if f.path == where.path]
    if not match:
        raise NotFound(f"No such artifact: {path!r}", resource="artifact", path=path)
    if where.run_id is not None:
        return stores.tracking.open_artifact(where.run_id, where.path), match[0].size
    return stores.artifacts.open(match[0].digest), match[0].size


@routes.raw("GET", "/{path:path}")
async def download_artifact(request: Request, stores: Stores) -> Response:
    chunks, size = await run_in_threadpool(_open, stores, request.path_params["path"])
    return StreamingResponse(chunks, media_type="application/octet-stream",
                             headers={"content-length": str(size)})


def _writable(path: str) -> Location:
    where = locate(path)
    if where is None or where.run_id is None or not where.path:
        raise InvalidInput(
            f"cannot write artifact {path!r}: Shipyard stores artifacts at <experiment>/<run id>/artifacts/<path>",
            field="path",
        )
    return where


@routes.raw("PUT", "/{path:path}")
async def upload_artifact(request: Request, stores: Stores) -> Response:
    where = _writable(request.path_params["path"])
    with await spool_body(request) as tmp:
        assert where.run_id is not None
        await run_in_threadpool(stores.tracking.log_artifact, where.run_id, where.path, cast(BinaryIO, tmp))
    return json_response({})


def _delete(stores: Stores, path: str) -> None:
    where = locate(path)
    if where is not None and where.run_id is not None:
        for f in stores.tracking.list_artifacts(where.run_id, where.path):
            stores.tracking.delete_artifact(where.run_id, f.path)
        return
    _writable(path)  # raises: only run artifacts can be deleted


@routes.raw("DELETE", "/{path:path}")
async def delete_artifact(request: Request, stores: Stores) -> Response:
    await run_in_threadpool(_delete, stores, request.path_params["path"])
    return json_response({})


server_routes = Routes("/api/3.0/mlflow")


@server_routes.raw("GET", "/server-info")
async def server_info(request: Request, stores: Stores) -> Response:
    return json_response({
        "store_type": "SqlStore", "workspaces_enabled": False, "trace_archival_enabled": False,
        "multipart_uploads_enabled": False, "multipart_downloads_enabled": False,
    })
