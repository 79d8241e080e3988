"""Tracking endpoints under ``/api/v1``: a thin HTTP skin over a TrackingStore.

No business logic lives here: each handler parses its request, calls the store
and encodes the answer. Errors travel as Shipyard exceptions to ``errors.py``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Annotated, Any, BinaryIO, cast

import orjson
import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from shipyard.errors import Conflict, InvalidInput, ShipyardError, Unavailable
from shipyard.server._errors import STATUS_BY_ERROR, error_response
from shipyard.server._paging import keyset_page
from shipyard.server._previews import ModelPackage, TableHead, model_package, table_head
from shipyard.server._schemas import ERROR_ANSWERS, Page, answers
from shipyard.server._seek import MaxResults, PageToken
from shipyard.server._spool import spool_body
from shipyard.server._tracking_schemas import (
    BYTES_ANSWER,
    LOG_BATCH_REQUEST,
    RECORD_REQUEST,
    UPLOAD_REQUEST,
    Artifact,
    Empty,
    Experiment,
    Health,
    Limits,
    Metric,
    RecordedRuns,
    Run,
)
from shipyard.store import Database
from shipyard.store.schema import idempotency_keys
from shipyard.tracking import RunStatus, TrackingStore, validate_key, validate_run_id
from shipyard.tracking import _codec as codec

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["tracking"], responses=ERROR_ANSWERS)


def _store(request: Request) -> TrackingStore:
    store: TrackingStore = request.app.state.tracking
    return store


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


# -- idempotent writes ---------------------------------------------------------------------
# A write that appends data (a log batch, recorded runs) may carry an ``Idempotency-Key``.
# The key is claimed (a row with no response) before the write and given the write's
# response after it, so a retry whose first try's response was lost is answered with that
# response and writes nothing; a retry racing a try still running is told to wait (503,
# Retry-After). A claim left without a response this long (a server that died mid-write)
# is taken over by the next try.

_KEY_HEADER = "Idempotency-Key"
_STALE_CLAIM_MS = 10 * 60 * 1000


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _claim(db: Database, key: str, scope: str) -> Response | None:
    """Claim ``key`` for a write; the stored answer instead when the key was used already."""
    now = _now_ms()
    k = idempotency_keys.c
    try:
        with db.write() as conn:
            row = conn.execute(sa.select(k.scope, k.created_at, k.response).where(k.key == key)).first()
            if row is None:
                conn.execute(sa.insert(idempotency_keys).values(key=key, scope=scope, created_at=now, response=None))
                return None
            if row.scope != scope:
                raise Conflict(f"{_KEY_HEADER} {key!r} was already used for {row.scope}", field=_KEY_HEADER)
            if row.response is None:
                if now - row.created_at < _STALE_CLAIM_MS:
                    raise Unavailable(f"a request with {_KEY_HEADER} {key!r} is still being processed",
                                      field=_KEY_HEADER)
                conn.execute(sa.update(idempotency_keys).where(k.key == key).values(created_at=now))
                return None
    except Conflict as exc:
        if exc.context.get("field") == _KEY_HEADER:
            raise
        # The key's primary key refused a concurrent claim: that try is running now.
        raise Unavailable(f"a request with {_KEY_HEADER} {key!r} is still being processed",
                          field=_KEY_HEADER) from None
    stored = orjson.loads(row.response)
    return Response(orjson.dumps(stored["body"]), status_code=stored["status"], media_type="application/json")


def _settle(db: Database, key: str, status: int | None, body: bytes = b"") -> None:
    """Store the write's answer with its key, or (``status`` None) release the claim for a retry."""
    k = idempotency_keys.c
    with db.write() as conn:
        if status is None:
            conn.execute(sa.delete(idempotency_keys).where(k.key == key, k.response.is_(None)))
        else:
            response = orjson.dumps({"status": status, "body": orjson.loads(body)}).decode()
            conn.execute(sa.update(idempotency_keys).where(k.key == key).values(response=response))


async def _idempotent(request: Request, write: Callable[[], Awaitable[Response]]) -> Response:
    """Run ``write`` at most once per ``Idempotency-Key``; a request without a key just runs it."""
    key = request.headers.get(_KEY_HEADER)
    db = getattr(_store(request), "db", None)
    if key is None or not isinstance(db, Database):
        return await write()
    if not 1 <= len(key) <= 128 or not key.isprintable():
        raise InvalidInput(f"{_KEY_HEADER} must be 1 to 128 printable characters", field=_KEY_HEADER)
    scope = f"{request.method} {request.url.path}"
    stored = await run_in_threadpool(_claim, db, key, scope)
    if stored is not None:
        return stored
    try:
        response = await write()
    except ShipyardError as exc:
        status = next(code for cls, code in STATUS_BY_ERROR if isinstance(exc, cls))
        if status >= 500:  # the write failed as a whole: let a retry do it
            await run_in_threadpool(_settle, db, key, None)
        else:  # refused, maybe after writing the rest: a retry gets the same refusal
            body = error_response(status, type(exc).__name__, exc.message, **exc.context).body
            await run_in_threadpool(_settle, db, key, status, bytes(body))
        raise
    except BaseException:
        await run_in_threadpool(_settle, db, key, None)
        raise
    await run_in_threadpool(_settle, db, key, response.status_code, bytes(response.body))
    return response


class ExperimentCreate(BaseModel):
    name: str = Field(min_length=1, max_length=256)
    tags: dict[str, str] | None = None
    artifact_location: str | None = Field(default=None, max_length=1024)


class ExperimentUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=256)
    lifecycle_stage: str | None = None


class TagValue(BaseModel):
    value: str


class RunCreate(BaseModel):
    experiment_id: str
    name: str | None = Field(default=None, max_length=256)
    start_time: int | None = None
    tags: dict[str, str] | None = None
    parent_run_id: str | None = None
    user: str | None = Field(default=None, max_length=256)
    environment: dict[str, Any] | None = None
    run_id: str | None = None


class RunUpdate(BaseModel):
    status: RunStatus | None = None
    end_time: int | None = None
    name: str | None = Field(default=None, max_length=256)
    lifecycle_stage: str | None = None
    environment: dict[str, Any] | None = None


class RunSearch(BaseModel):
    experiment_ids: list[str]
    filter: str | None = None
    order_by: list[str] | None = None
    max_results: int = Field(default=1000, ge=1, le=50_000)
    page_token: str | None = None
    include_deleted: bool = False


@router.get("/health", responses=answers(Health))
async def health() -> Response:  # on the loop: never queued behind pool threads waiting on the database
    return _json({"status": "ok"})


@router.get("/limits", responses=answers(Limits))
def limits(request: Request) -> Response:
    found = _store(request).limits
    return _json({"max_param_length": found.param, "max_tag_length": found.tag})


@router.post("/experiments", responses=answers(Experiment))
def create_experiment(body: ExperimentCreate, request: Request) -> Response:
    exp = _store(request).create_experiment(body.name, body.tags, body.artifact_location)
    return _json(codec.experiment_to_json(exp))


@router.get("/experiments", responses=answers(Page[Experiment]))
def list_experiments(request: Request, include_deleted: bool = False, max_results: MaxResults = 1000,
                     page_token: PageToken = None) -> Response:
    exps = _store(request).list_experiments(include_deleted)
    page = keyset_page(exps, lambda e: int(e.id), max_results, page_token)
    return _json(codec.page_to_json(page, codec.experiment_to_json))


@router.get("/experiments/by-name", responses=answers(Experiment))
def get_experiment_by_name(request: Request, name: str = Query(min_length=1)) -> Response:
    return _json(codec.experiment_to_json(_store(request).get_experiment_by_name(name)))


@router.get("/experiments/{experiment_id}", responses=answers(Experiment))
def get_experiment(experiment_id: str, request: Request) -> Response:
    return _json(codec.experiment_to_json(_store(request).get_experiment(experiment_id)))


@router.patch("/experiments/{experiment_id}", responses=answers(Experiment))
def update_experiment(experiment_id: str, body: ExperimentUpdate, request: Request) -> Response:
    exp = _store(request).update_experiment(
        experiment_id, name=body.name, lifecycle_stage=body.lifecycle_stage
    )
    return _json(codec.experiment_to_json(exp))


@router.put("/experiments/{experiment_id}/tags/{key:path}", responses=answers(Empty))
def set_experiment_tag(experiment_id: str, key: str, body: TagValue, request: Request) -> Response:
    _store(request).set_experiment_tag(experiment_id, key, body.value)
    return _json({})


@router.post("/runs", responses=answers(Run))
def create_run(body: RunCreate, request: Request) -> Response:
    run = _store(request).create_run(
        body.experiment_id, name=body.name, start_time=body.start_time, tags=body.tags,
        parent_run_id=body.parent_run_id, user=body.user, environment=body.environment,
        run_id=body.run_id,
    )
    return _json(codec.run_to_json(run))


@router.post("/runs/search", responses=answers(Page[Run]))
def search_runs(body: RunSearch, request: Request) -> Response:
    page = _store(request).search_runs(
        body.experiment_ids, body.filter, body.order_by, body.max_results, body.page_token,
        body.include_deleted,
    )
    return _json(codec.page_to_json(page, codec.run_to_json))


@router.post("/runs/log-batch", responses=answers(Empty), openapi_extra=LOG_BATCH_REQUEST)
async def log_batch(request: Request) -> Response:
    return await _idempotent(request, partial(_log_batch, request))


async def _log_batch(request: Request) -> Response:
    try:
        data = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"body is not valid JSON: {exc}", field="body") from None
    if not isinstance(data, dict):
        raise InvalidInput("body must be a JSON object", field="body")
    batch = codec.batch_from_json(data)
    for run_id in batch.run_ids():
        validate_run_id(run_id)
    for key in {m[1] for m in batch.metrics} | {p[1] for p in batch.params} | {t[1] for t in batch.tags}:
        validate_key(key)
    allow_finished = request.query_params.get("allow_finished", "false").lower() == "true"
    await run_in_threadpool(partial(_store(request).log_batch, batch, allow_finished=allow_finished))
    return _json({})


@router.post("/runs/record", responses=answers(RecordedRuns), openapi_extra=RECORD_REQUEST)
async def record_runs(request: Request) -> Response:
    return await _idempotent(request, partial(_record_runs, request))


async def _record_runs(request: Request) -> Response:
    try:
        data = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"body is not valid JSON: {exc}", field="body") from None
    records = codec.records_from_json(data)
    ids = await run_in_threadpool(_store(request).record_runs, records)
    return _json({"run_ids": ids})


@router.get("/runs/{run_id}", responses=answers(Run))
def get_run(run_id: str, request: Request) -> Response:
    return _json(codec.run_to_json(_store(request).get_run(run_id)))


@router.patch("/runs/{run_id}", responses=answers(Run))
def update_run(run_id: str, body: RunUpdate, request: Request) -> Response:
    run = _store(request).update_run(
        run_id, status=body.status, end_time=body.end_time, name=body.name,
        lifecycle_stage=body.lifecycle_stage, environment=body.environment,
    )
    return _json(codec.run_to_json(run))


@router.delete("/runs/{run_id}/tags/{key:path}", responses=answers(Empty))
def delete_tag(run_id: str, key: str, request: Request) -> Response:
    _store(request).delete_tag(run_id, key)
    return _json({})


@router.get("/runs/{run_id}/metric-history", responses=answers(Page[Metric]))
def metric_history(
    run_id: str,
    request: Request,
    key: str = Query(min_length=1),
    max_points: int | None = Query(default=None, ge=2),
    page_token: str | None = None,
    max_results: int | None = Query(default=None, ge=1),
) -> Response:
    page = _store(request).get_metric_history(run_id, key, max_points, page_token, max_results)
    return _json(codec.page_to_json(page, codec.metric_to_json))


@router.get("/runs/{run_id}/artifacts", responses=answers(Page[Artifact]))
def list_artifacts(run_id: str, request: Request, prefix: str = "", max_results: MaxResults = 1000,
                   page_token: PageToken = None) -> Response:
    infos = _store(request).list_artifacts(run_id, prefix)
    page = keyset_page(infos, lambda i: i.path, max_results, page_token)
    return _json(codec.page_to_json(page, codec.artifact_to_json))


class MetricHistories(BaseModel):
    """One metric of several runs: ``items[i]`` holds the points of ``run_ids[i]`` (empty when it has none)."""

    key: str
    run_ids: list[str]
    items: list[list[Metric]]


#: The most runs one ``/metric-histories`` request reads.
MAX_HISTORY_RUNS = 100


@router.get("/metric-histories", responses=answers(MetricHistories))
def metric_histories(request: Request,
                     run_id: Annotated[list[str], Query(min_length=1, max_length=MAX_HISTORY_RUNS)],
                     key: str = Query(min_length=1), max_points: int = Query(ge=2, le=100_000)) -> Response:
    """One metric of several runs, each downsampled to about ``max_points``: a chart of
    overlaid runs in one request. An unknown run is NotFound, like ``/runs/{id}/metric-history``."""
    store = _store(request)
    items = [[codec.metric_to_json(m) for m in store.get_metric_history(r, key, max_points).items] for r in run_id]
    return _json({"key": key, "run_ids": run_id, "items": items})


@router.get("/runs/{run_id}/table-head", responses=answers(TableHead))
def artifact_table_head(run_id: str, request: Request, path: str = Query(min_length=1),
                        rows: int = Query(default=20, ge=1, le=1000)) -> Response:
    validate_run_id(run_id)
    return _json(table_head(_store(request), run_id, path, rows))


@router.get("/runs/{run_id}/model-package", responses=answers(ModelPackage))
def artifact_model_package(run_id: str, request: Request, path: str = "model") -> Response:
    validate_run_id(run_id)
    return _json(model_package(_store(request), run_id, path))


@router.put("/runs/{run_id}/artifacts/{path:path}", responses=answers(Artifact), openapi_extra=UPLOAD_REQUEST)
async def upload_artifact(run_id: str, path: str, request: Request) -> Response:
    # Spool the body to disk so an upload of any size never sits whole in memory.
    with await spool_body(request) as tmp:
        info = await run_in_threadpool(_store(request).log_artifact, run_id, path, cast(BinaryIO, tmp))
    return _json(codec.artifact_to_json(info))


@router.get("/runs/{run_id}/artifacts/{path:path}", response_class=StreamingResponse,
            responses=BYTES_ANSWER)
def download_artifact(run_id: str, path: str, request: Request) -> Response:
    chunks = _store(request).open_artifact(run_id, path)
    return StreamingResponse(chunks, media_type="application/octet-stream")


@router.delete("/runs/{run_id}/artifacts/{path:path}", responses=answers(Empty))
def delete_artifact(run_id: str, path: str, request: Request) -> Response:
    _store(request).delete_artifact(run_id, path)
    return _json({})
