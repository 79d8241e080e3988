"""Dataset endpoints under ``/api/v1/datasets``: a thin skin over a DatasetStore.

A remote registration asks which objects are missing, uploads those (``PUT
/objects/{sha256}``, the body checked against the digest), then creates the version;
the server re-checks that every object the version names is stored before it
commits, so a client can never create a version with missing bytes.
"""

from __future__ import annotations

import tempfile
from typing import Any

import orjson
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from shipyard.datasets import DatasetStore, codec
from shipyard.errors import InvalidInput

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/datasets")


def _store(request: Request) -> DatasetStore:
    store: DatasetStore = request.app.state.datasets
    return store


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


class Digests(BaseModel):
    digests: list[str] = Field(max_length=50_000)
    dataset: str | None = None


class Lineage(BaseModel):
    run_id: str = Field(min_length=1, max_length=64)
    relation: str = "input"


@router.get("")
def list_datasets(request: Request) -> Response:
    return _json({"items": [codec.dataset_to_json(d) for d in _store(request).list_datasets()]})


@router.get("/resolve")
def resolve(request: Request, ref: str = Query(min_length=1), version: int | None = None) -> Response:
    return _json(codec.version_to_json(_store(request).resolve(ref, version)))


@router.post("/objects/missing")
def missing_objects(body: Digests, request: Request) -> Response:
    return _json({"missing": _store(request).missing_objects(body.digests, body.dataset)})


@router.put("/objects/{digest}")
async def upload_object(digest: str, request: Request) -> Response:
    store: Any = _store(request)  # the server always holds the SQL store, which has put_stream
    # Spool the body to disk so an upload of any size never sits whole in memory.
    with tempfile.SpooledTemporaryFile(max_size=8 << 20) as tmp:
        async for chunk in request.stream():
            tmp.write(chunk)
        tmp.seek(0)
        await run_in_threadpool(store.put_stream, tmp, digest)
    return _json({"digest": digest})


@router.post("/{name}/versions")
async def create_version(name: str, request: Request) -> Response:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"body is not JSON: {exc}", field="body") from None
    return await run_in_threadpool(_create, _store(request), name, body)


def _create(store: DatasetStore, name: str, body: Any) -> Response:
    spec = codec.spec_from_json(body)
    missing = store.missing_objects(sorted({f.digest for f in spec.files}), name)
    if missing:
        raise InvalidInput(f"{len(missing)} objects of the version are not uploaded (e.g. {missing[0]})",
                           field="files", missing=missing[:20])
    return _json(codec.version_to_json(store.create_version(name, spec, body.get("actor"))))


@router.get("/{name}/versions")
def list_versions(name: str, request: Request) -> Response:
    return _json({"items": [codec.version_to_json(v) for v in _store(request).list_versions(name)]})


@router.get("/{name}/versions/{version}")
def get_version(name: str, version: int, request: Request) -> Response:
    return _json(codec.version_to_json(_store(request).get_version(name, version)))


@router.get("/{name}/versions/{version}/files")
def list_files(name: str, version: int, request: Request) -> Response:
    return _json({"items": [codec.file_to_json(f) for f in _store(request).list_files(name, version)]})


@router.get("/{name}/versions/{version}/files/{path:path}")
def download_file(name: str, version: int, path: str, request: Request) -> Response:
    store: Any = _store(request)  # the server always holds the SQL store
    file = store.find_file(name, version, path)
    chunks = request.app.state.artifacts.open(file.digest)
    return StreamingResponse(chunks, media_type="application/octet-stream", headers={"x-shipyard-digest": file.digest})


@router.post("/{name}/versions/{version}/lineage")
def record_lineage(name: str, version: int, body: Lineage, request: Request) -> Response:
    _store(request).record_lineage(body.run_id, name, version, body.relation)
    return _json({})


@router.get("/{name}/versions/{version}/lineage")
def lineage(name: str, version: int, request: Request, max_depth: int = Query(default=10, ge=1, le=100)) -> Response:
    return _json(_store(request).lineage(name, version, max_depth).to_json())
