"""Feature-store endpoints under ``/api/v1/features``: a thin skin over a FeatureStore.

Public: ``POST /apply``, ``GET /objects``, ``GET /objects/{kind}/{name}[/versions]``,
``POST /online`` (lookups: ``{"features": [...], "entity_rows": [{"user_id": 5}, ...]}``
→ ``{"columns": {...}}``) and ``POST /push`` (``{"view": ..., "rows": [{...}, ...]}``, the
timestamp column as ISO 8601 text). The rest serve remote clients: materialization
state, lineage, and the online store itself (``/online-store/{view}/…``).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from shipyard.errors import InvalidInput
from shipyard.features import FeatureRegistry, FeatureStore

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/features")

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


class ReadBody(BaseModel):
    keys: list[str] = Field(max_length=_MAX_ROWS)
    features: list[str] = Field(max_length=10_000)


@router.post("/apply")
def apply(body: ApplyBody, request: Request) -> Response:
    results = _store(request).apply_specs(body.objects, force=body.force)
    return _json({"items": [r.to_json() for r in results]})


@router.get("/objects")
def list_objects(request: Request, kind: str | None = None) -> Response:
    return _json({"items": [o.to_json() for o in _registry(request).list_objects(kind)]})


@router.get("/objects/{kind}/{name}")
def get_object(kind: str, name: str, request: Request, version: int | None = Query(default=None, ge=1)) -> Response:
    return _json(_registry(request).get(kind, name, version).to_json())


@router.get("/objects/{kind}/{name}/versions")
def list_versions(kind: str, name: str, request: Request) -> Response:
    return _json({"items": [o.to_json() for o in _registry(request).versions(kind, name)]})


@router.get("/views/{view}/materialization")
def materialization(view: str, request: Request) -> Response:
    state = _registry(request).materialization(view)
    return _json({"state": None if state is None else state.to_json()})


@router.put("/views/{view}/materialization")
def record_materialization(view: str, body: MaterializationBody, request: Request) -> Response:
    return _json(_registry(request).record_materialization(view, body.start_us, body.end_us, body.rows).to_json())


@router.post("/lineage")
def record_lineage(body: LineageBody, request: Request) -> Response:
    _registry(request).record_lineage(body.dataset_ref, body.views)
    return _json({})


@router.post("/online")
def online(body: OnlineBody, request: Request) -> Response:
    response = _store(request).get_online_features(body.features, body.entity_rows,
                                                   full_feature_names=body.full_feature_names)
    return _json({"columns": response.to_dict()})


@router.post("/push")
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


@router.post("/online-store/{view}/rows")
async def write_rows(view: str, request: Request) -> Response:
    import pyarrow as pa

    if request.headers.get("content-type", "").split(";")[0].strip() != _ARROW_STREAM:
        raise InvalidInput(f"rows must be sent as {_ARROW_STREAM}", field="body")
    body = await request.body()
    try:
        table = pa.ipc.open_stream(pa.py_buffer(body)).read_all()
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInput(f"body is not an Arrow IPC stream: {exc}", field="body") from None
    rows = await run_in_threadpool(_store(request).online.write, view, table)
    return _json({"rows": rows})


@router.post("/online-store/{view}/read")
def read_rows(view: str, body: ReadBody, request: Request) -> Response:
    found = _store(request).online.read(view, body.keys, body.features)
    return _json({"event_ts": found.event_ts, "columns": found.columns})


@router.delete("/online-store/{view}")
def delete_view(view: str, request: Request) -> Response:
    _store(request).online.delete_view(view)
    return _json({})


@router.get("/online-store/{view}/freshness")
def freshness(view: str, request: Request) -> Response:
    return _json({"newest_us": _store(request).online.freshness(view)})
