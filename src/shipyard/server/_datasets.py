"""Dataset endpoints under ``/api/v1/datasets``: a thin skin over a DatasetStore.

A remote registration asks which objects are missing, uploads those (``PUT
/objects/{sha256}``, the body checked against the digest), then creates the version;
the server re-checks that every object the version names is stored before it
commits, so a client can never create a version with missing bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from shipyard.datasets import DatasetStore, codec
from shipyard.errors import IntegrityError, InvalidInput, TooLarge
from shipyard.server._datasets_schemas import (
    Dataset,
    DatasetFiles,
    DatasetVersion,
    InferredContract,
    MissingObjects,
    ProfileDiff,
    StoredObject,
    Validation,
)
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


# Validation reads the whole version on the server: beyond this, validate where the data lives.
VALIDATION_LIMIT_BYTES = 256 * 1024 * 1024


def _profiled(store: DatasetStore, name: str, version: int, field: str) -> Any:
    found = store.get_version(name, version)
    if found.profile is None:
        raise InvalidInput(f"{found.ref} holds {found.format!r} files: it has no table profile", field=field)
    return found


@router.get("/{name}/diff", responses=answers(ProfileDiff))
def diff(name: str, request: Request, old: int = Query(ge=1), new: int = Query(ge=1)) -> Response:
    """What changed from version ``old`` to ``new``: schema changes and per-column shifts,
    computed from the stored profiles alone (no data is read)."""
    from shipyard.datasets import diff_profiles

    store = _store(request)
    before, after = _profiled(store, name, old, "old"), _profiled(store, name, new, "new")
    return _json({"name": name, "old": old, "new": new, **diff_profiles(before.profile, after.profile).to_json()})


@router.get("/{name}/versions/{version}/contract", responses=answers(InferredContract))
def contract(name: str, version: int, request: Request) -> Response:
    """The contract the version satisfies, inferred from its profile: a starting point to edit."""
    from shipyard.datasets import infer_contract

    found = _profiled(_store(request), name, version, "version")
    return _json({"name": name, "version": version, "contract": infer_contract(found).to_dict()})


@router.get("/{name}/versions/{version}/validation", responses=answers(Validation))
def validation(name: str, version: int, request: Request, contract_version: int = Query(ge=1)) -> Response:
    """The version's data checked against the contract inferred from ``contract_version``
    (does a new version still meet what an earlier one set?). The data is read from the
    store into a temporary folder, each file's hash checked; versions over
    :data:`VALIDATION_LIMIT_BYTES` are refused (413)."""
    import tempfile

    from shipyard.datasets import DatasetHandle, infer_contract

    store = _store(request)
    rules = infer_contract(_profiled(store, name, contract_version, "contract_version"))
    found = _profiled(store, name, version, "version")
    if found.num_bytes > VALIDATION_LIMIT_BYTES:
        raise TooLarge(f"{found.ref} has {found.num_bytes} bytes; the server validates at most "
                       f"{VALIDATION_LIMIT_BYTES}", field="version", limit=VALIDATION_LIMIT_BYTES)
    with tempfile.TemporaryDirectory(prefix="shipyard-validate-") as tmp:
        handle = DatasetHandle(found, lambda: store.list_files(found.name, found.version),
                               lambda f, dest: store.fetch_object(found, f, dest), Path(tmp))
        report = handle.validate(rules)
    return _json({"name": name, "version": version, "contract_version": contract_version,
                  "contract": rules.to_dict(), "report": report.to_json()})
