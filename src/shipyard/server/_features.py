"""Feature-store endpoints under ``/api/v1/features``: a thin skin over a FeatureStore.

Public: ``POST /apply``, ``GET /objects``, ``GET /objects/{kind}/{name}[/versions]``,
``POST /views/{view}/skew-check`` (online against offline values as of now, see
:func:`~shipyard.features.check_skew`), ``POST /online`` (lookups:
``{"features": [...], "entity_rows": [{"user_id": 5}, ...]}`` → ``{"columns": {...}}``) and
``POST /push`` (``{"view": ..., "rows": [{...}, ...]}``, the timestamp column as ISO 8601
text). The rest serve remote clients: materialization state, lineage, and the online
store itself (``/online-store/{view}/…``).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from shipyard.errors import InvalidInput
from shipyard.features import FeatureRegistry, FeatureStore, check_skew
from shipyard.features._backend import KINDS
from shipyard.server._features_schemas import (
    AppliedObjects,
    FeatureColumns,
    FeatureObject,
    Freshness,
    Materialization,
    MaterializationState,
    OnlineRows,
    RowCount,
    SkewReport,
)
from shipyard.server._paging import keyset_page
from shipyard.server._schemas import ERROR_ANSWERS, Page, answers
from shipyard.server._seek import MaxResults, PageToken
from shipyard.server._tracking_schemas import Empty
from shipyard.tracking._codec import page_to_json

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/features", responses=ERROR_ANSWERS)

_ARROW_STREAM = "application/vnd.apache.arrow.stream"
_MAX_ROWS = 100_000


def _store(request: Request) -> FeatureStore:
    store: FeatureStore = request.app.state.features
    return store


def _registry(request: Request) -> FeatureRegistry:
    return _store(request).registry


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS), media_type="application/json")


class ApplyBody(BaseModel):
    objects: list[dict[str, Any]] = Field(max_length=10_000)
    force: bool = False


class MaterializationBody(BaseModel):
    start_us: int | None = None
    end_us: int
    rows: int = Field(ge=0)


class LineageBody(BaseModel):
    dataset_ref: str = Field(min_length=3, max_length=600)
    views: list[tuple[str, int]] = Field(max_length=1_000)


class OnlineBody(BaseModel):
    features: list[str] = Field(min_length=1, max_length=10_000)
    entity_rows: list[dict[str, Any]] = Field(max_length=_MAX_ROWS)
    full_feature_names: bool = False


class PushBody(BaseModel):
    view: str = Field(min_length=1, max_length=256)
    rows: list[dict[str, Any]] = Field(min_length=1, max_length=_MAX_ROWS)


class SkewBody(BaseModel):
    sample: int = Field(1000, ge=1, le=_MAX_ROWS, description="Keys drawn online, and as many offline")
    tolerance: float = Field(1e-9, ge=0, description="Numbers match within tolerance * max(1, |offline|)")


class ReadBody(BaseModel):
    keys: list[str] = Field(max_length=_MAX_ROWS)
    features: list[str] = Field(max_length=10_000)


@router.post("/apply", responses=answers(AppliedObjects))
def apply(body: ApplyBody, request: Request) -> Response:
    results = _store(request).apply_specs(body.objects, force=body.force)
    return _json({"items": [r.to_json() for r in results]})


@router.get("/objects", responses=answers(Page[FeatureObject]))
def list_objects(request: Request, kind: str | None = None, max_results: MaxResults = 100,
                 page_token: PageToken = None) -> Response:
    """The latest version of every object (of ``kind``): entities, then feature views, then
    on-demand views, each by name."""
    objects = _registry(request).list_objects(kind)
    # One text key in the registry's order: the kind's place (one digit), then the name.
    page = keyset_page(objects, lambda o: f"{KINDS.index(o.kind)}/{o.name}", max_results, page_token)
    return _json(page_to_json(page, lambda o: o.to_json()))


@router.get("/objects/{kind}/{name}", responses=answers(FeatureObject))
def get_object(kind: str, name: str, request: Request, version: int | None = Query(default=None, ge=1)) -> Response:
    return _json(_registry(request).get(kind, name, version).to_json())


@router.get("/objects/{kind}/{name}/versions", responses=answers(Page[FeatureObject]))
def list_versions(kind: str, name: str, request: Request, max_results: MaxResults = 100,
                  page_token: PageToken = None) -> Response:
    """Every version of one object, newest first."""
    versions = _registry(request).versions(kind, name)
    page = keyset_page(versions, lambda o: -o.version, max_results, page_token)
    return _json(page_to_json(page, lambda o: o.to_json()))


@router.get("/views/{view}/materialization", responses=answers(Materialization))
def materialization(view: str, request: Request) -> Response:
    state = _registry(request).materialization(view)
    return _json({"state": None if state is None else state.to_json()})


@router.put("/views/{view}/materialization", responses=answers(MaterializationState))
def record_materialization(view: str, body: MaterializationBody, request: Request) -> Response:
    return _json(_registry(request).record_materialization(view, body.start_us, body.end_us, body.rows).to_json())


@router.post("/views/{view}/skew-check", responses=answers(SkewReport))
def skew_check(view: str, body: SkewBody, request: Request) -> Response:
    """Compare the view's online values with the offline path as of now, on a sample of its
    entities (:func:`shipyard.features.check_skew`); the report is answered, nothing is stored."""
    return _json(check_skew(_store(request), view, sample=body.sample, tolerance=body.tolerance).to_dict())


@router.post("/lineage", responses=answers(Empty))
def record_lineage(body: LineageBody, request: Request) -> Response:
    _registry(request).record_lineage(body.dataset_ref, body.views)
    return _json({})


@router.post("/online", responses=answers(FeatureColumns))
def online(body: OnlineBody, request: Request) -> Response:
    response = _store(request).get_online_features(body.features, body.entity_rows,
                                                   full_feature_names=body.full_feature_names)
    return _json({"columns": response.to_dict()})


@router.post("/push", responses=answers(RowCount))
def push(body: PushBody, request: Request) -> Response:
    import pandas as pd

    store = _store(request)
    view = store.get_view(body.view)
    frame = pd.DataFrame.from_records(body.rows)
    column = getattr(getattr(view, "source", None), "timestamp", None)
    if column is not None and column in frame.columns:
        try:
            frame[column] = pd.to_datetime(frame[column], format="ISO8601")
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"timestamp column {column!r} must be ISO 8601 text: {exc}", field=column) from None
    return _json({"rows": store.push(body.view, frame)})


# -- the online store, for remote clients ----------------------------------------------


@router.post("/online-store/{view}/rows", responses=answers(RowCount))
async def write_rows(view: str, request: Request) -> Response:
    if request.headers.get("content-type", "").split(";")[0].strip() != _ARROW_STREAM:
        raise InvalidInput(f"rows must be sent as {_ARROW_STREAM}", field="body")
    body = await request.body()
    # Importing pyarrow, reading the stream and the write all run in the pool, off the loop.
    rows = await run_in_threadpool(_write_rows, _store(request), view, body)
    return _json({"rows": rows})


def _write_rows(store: FeatureStore, view: str, body: bytes) -> int:
    import pyarrow as pa

    try:
        table = pa.ipc.open_stream(pa.py_buffer(body)).read_all()
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInput(f"body is not an Arrow IPC stream: {exc}", field="body") from None
    return store.online.write(view, table)


@router.post("/online-store/{view}/read", responses=answers(OnlineRows))
def read_rows(view: str, body: ReadBody, request: Request) -> Response:
    found = _store(request).online.read(view, body.keys, body.features)
    return _json({"event_ts": found.event_ts, "columns": found.columns})


@router.delete("/online-store/{view}", responses=answers(Empty))
def delete_view(view: str, request: Request) -> Response:
    _store(request).online.delete_view(view)
    return _json({})


@router.get("/online-store/{view}/freshness", responses=answers(Freshness))
def freshness(view: str, request: Request) -> Response:
    return _json({"newest_us": _store(request).online.freshness(view)})
