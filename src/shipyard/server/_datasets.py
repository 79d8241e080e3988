"""Dataset endpoints under ``/api/v1/datasets``: a thin skin over a DatasetStore.

A remote registration asks which objects are missing, uploads those (``PUT
/objects/{sha256}``, the body checked against the digest), then creates the version;
the server re-checks that every object the version names is stored before it
commits, so a client can never create a version with missing bytes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from shipyard.datasets import DatasetStore, codec
from shipyard.errors import IntegrityError, InvalidInput
from shipyard.server._datasets_schemas import Dataset, DatasetFiles, DatasetVersion, MissingObjects, StoredObject
from shipyard.server._errors import error_response
from shipyard.server._paging import keyset_page
from shipyard.server._registry_schemas import LineageGraph
from shipyard.server._schemas import ERROR_ANSWERS, Page, answers
from shipyard.server._seek import MaxResults, PageToken, seek_page
from shipyard.server._spool import spool_body
from shipyard.server._tracking_schemas import BYTES_ANSWER, Empty
from shipyard.tracking._codec import page_to_json

if TYPE_CHECKING:
    from shipyard.datasets._sql_store import SqlDatasetStore

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/datasets", responses=ERROR_ANSWERS)


def _store(request: Request) -> DatasetStore:
    store: DatasetStore = request.app.state.datasets
    return store


def _sql(request: Request) -> SqlDatasetStore:
    """The store as the server holds it: the SQL one, which reads a page from a key on."""
    store: SqlDatasetStore = request.app.state.datasets
    return store


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


class Digests(BaseModel):
    digests: list[str] = Field(max_length=50_000)
    dataset: str | None = None


class Lineage(BaseModel):
    run_id: str = Field(min_length=1, max_length=64)
    relation: str = "input"


@router.get("", responses=answers(Page[Dataset]))
def list_datasets(request: Request, max_results: MaxResults = 100, page_token: PageToken = None) -> Response:
    """Datasets by name."""
    store = _sql(request)
    page = seek_page(lambda after, n: store.list_datasets(after=after, limit=n), lambda d: d.name,
                     max_results, page_token, str)
    return _json(page_to_json(page, codec.dataset_to_json))


@router.get("/resolve", responses=answers(DatasetVersion))
def resolve(request: Request, ref: str = Query(min_length=1), version: int | None = None) -> Response:
    return _json(codec.version_to_json(_store(request).resolve(ref, version)))


@router.post("/objects/missing", responses=answers(MissingObjects))
def missing_objects(body: Digests, request: Request) -> Response:
    return _json({"missing": _store(request).missing_objects(body.digests, body.dataset)})


@router.put("/objects/{digest}", responses=answers(StoredObject))
async def upload_object(digest: str, request: Request) -> Response:
    store: Any = _store(request)  # the server always holds the SQL store, which has put_stream
    # Spool the body to disk so an upload of any size never sits whole in memory.
    with await spool_body(request) as tmp:
        try:
            await run_in_threadpool(store.put_stream, tmp, digest)
        except IntegrityError as exc:
            # The bytes just sent, not stored ones, miss their digest: the request is at fault,
            # and sending it again as it is fails again (400, where stored corruption is 500).
            return error_response(400, type(exc).__name__, exc.message, **exc.context)
    return _json({"digest": digest})


@router.post("/{name}/versions", responses=answers(DatasetVersion))
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


@router.get("/{name}/versions", responses=answers(Page[DatasetVersion]))
def list_versions(name: str, request: Request, max_results: MaxResults = 100,
                  page_token: PageToken = None) -> Response:
    """Versions newest first, without their profiles."""
    store = _sql(request)
    page = seek_page(lambda after, n: store.list_versions(name, after=after, limit=n), lambda v: v.version,
                     max_results, page_token, int)
    return _json(page_to_json(page, codec.version_to_json))


@router.get("/{name}/versions/{version}", responses=answers(DatasetVersion))
def get_version(name: str, version: int, request: Request) -> Response:
    return _json(codec.version_to_json(_store(request).get_version(name, version)))


@router.get("/{name}/versions/{version}/files", responses=answers(DatasetFiles))
def list_files(name: str, version: int, request: Request, max_results: MaxResults = 1000,
               page_token: PageToken = None) -> Response:
    """The version's files by path, each ``[path, sha256, size]``."""
    files = _store(request).list_files(name, version)
    return _json(page_to_json(keyset_page(files, lambda f: f.path, max_results, page_token), codec.file_to_json))


@router.get("/{name}/versions/{version}/files/{path:path}", response_class=StreamingResponse,
            responses=BYTES_ANSWER)
def download_file(name: str, version: int, path: str, request: Request) -> Response:
    store: Any = _store(request)  # the server always holds the SQL store
    file = store.find_file(name, version, path)
    chunks = request.app.state.artifacts.open(file.digest)
    return StreamingResponse(chunks, media_type="application/octet-stream", headers={"x-shipyard-digest": file.digest})


@router.post("/{name}/versions/{version}/lineage", responses=answers(Empty))
def record_lineage(name: str, version: int, body: Lineage, request: Request) -> Response:
    _store(request).record_lineage(body.run_id, name, version, body.relation)
    return _json({})


@router.get("/{name}/versions/{version}/lineage", responses=answers(LineageGraph))
def lineage(name: str, version: int, request: Request, max_depth: int = Query(default=10, ge=1, le=100)) -> Response:
    return _json(_store(request).lineage(name, version, max_depth).to_json())
