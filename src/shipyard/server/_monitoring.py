"""Monitoring endpoints: ``/api/v1/monitors`` and ``/api/v1/monitoring/{series,labels}``.

A thin skin over a :class:`~shipyard.monitoring._backend.MonitorStore`: monitors are
computed by the clients (``shipyard monitor run``, the scheduler), which commit each
window's results here in one request.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from shipyard.alerting._series import labels_key
from shipyard.errors import InvalidInput
from shipyard.monitoring import _codec as codec
from shipyard.monitoring._backend import MonitorStore
from shipyard.monitoring._sql_store import SqlMonitorStore, point_key
from shipyard.server._monitoring_distribution import compare_distributions
from shipyard.server._monitoring_schemas import (
    Distribution,
    LabelColumns,
    Monitor,
    MonitorWindow,
    SeriesPoints,
    Spans,
    Stored,
)
from shipyard.server._paging import keyset_page
from shipyard.server._schemas import ERROR_ANSWERS, Page, answers
from shipyard.server._seek import MaxResults, PageToken, seek_page
from shipyard.server._tracking_schemas import Empty
from shipyard.tracking._codec import page_to_json

__all__ = ["router"]

router = APIRouter(responses=ERROR_ANSWERS)
_MONITORS = "/api/v1/monitors"
_API = "/api/v1/monitoring"
_MAX_ITEMS = 100_000


def _store(request: Request) -> MonitorStore:
    store: MonitorStore = request.app.state.monitoring
    return store


def _sql(request: Request) -> SqlMonitorStore:
    """The store as the server holds it: the SQL one, which reads a page from a key on."""
    store: SqlMonitorStore = request.app.state.monitoring
    return store


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


async def _body(request: Request) -> Any:
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"body is not JSON: {exc}", field="body") from None


def _int_or_none(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(f"{field} must be an integer or null, got {value!r}", field=field)
    return value


def _list(data: Any, key: str) -> list[Any]:
    items = data.get(key, []) if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise InvalidInput(f"{key} must be a list", field=key)
    if len(items) > _MAX_ITEMS:
        raise InvalidInput(f"at most {_MAX_ITEMS} {key} per request", field=key)
    return items


# -- monitors ---------------------------------------------------------------------------


@router.get(_MONITORS, responses=answers(Page[Monitor]))
def list_monitors(request: Request, max_results: MaxResults = 100, page_token: PageToken = None) -> Response:
    """Monitors by name."""
    page = keyset_page(_store(request).list_monitors(), lambda m: m.name, max_results, page_token)
    return _json(page_to_json(page, codec.monitor_to_json))


@router.post(_MONITORS, status_code=201, responses=answers(Monitor, 201, "Created"))
async def create_monitor(request: Request) -> Response:
    monitor = codec.monitor_from_json(await _body(request))
    created = await run_in_threadpool(_store(request).create_monitor, monitor)
    return _json(codec.monitor_to_json(created), 201)


@router.get(_MONITORS + "/{name}", responses=answers(Monitor))
def get_monitor(name: str, request: Request) -> Response:
    return _json(codec.monitor_to_json(_store(request).get_monitor(name)))


@router.delete(_MONITORS + "/{name}", responses=answers(Empty))
def delete_monitor(name: str, request: Request) -> Response:
    _store(request).delete_monitor(name)
    return _json({})


@router.post(_MONITORS + "/{name}/commit", responses=answers(Monitor))
async def commit(name: str, request: Request) -> Response:
    data = await _body(request)
    if not isinstance(data, dict):
        raise InvalidInput("body must be an object", field="body")
    expect = data.get("expect")
    if not isinstance(expect, list) or len(expect) != 2:
        raise InvalidInput("expect must be [cursor, label_watermark]", field="expect")
    windows = [codec.window_from_json(w) for w in _list(data, "windows")]
    points = [codec.point_from_json(p) for p in _list(data, "points")]
    monitor = await run_in_threadpool(
        _store(request).commit, name,
        expect=(_int_or_none(expect[0], "expect"), _int_or_none(expect[1], "expect")), windows=windows,
        points=points, cursor=_int_or_none(data.get("cursor"), "cursor"),
        label_watermark=_int_or_none(data.get("label_watermark"), "label_watermark"))
    return _json(codec.monitor_to_json(monitor))


@router.get(_MONITORS + "/{name}/windows", responses=answers(Page[MonitorWindow]))
def list_windows(name: str, request: Request, since_ms: int | None = None, until_ms: int | None = None,
                 profiles: bool = False, max_results: MaxResults = 100, page_token: PageToken = None) -> Response:
    """Computed windows, oldest first (ending after ``since_ms``, by ``until_ms``)."""
    store = _sql(request)
    page = seek_page(lambda after, n: store.list_windows(name, since_ms=since_ms, until_ms=until_ms,
                                                         profiles=profiles, after=after, limit=n),
                     lambda w: w.window_start, max_results, page_token, int)
    return _json(page_to_json(page, codec.window_to_json))


@router.get(_MONITORS + "/{name}/distribution", responses=answers(Distribution))
def distribution(name: str, request: Request, feature: str = Query(min_length=1, max_length=256),
                 since_ms: int | None = None, until_ms: int | None = None) -> Response:
    """``feature`` in the monitor's reference and in the windows ending in ``(since_ms, until_ms]``
    (without either bound: the newest window), on the reference's bins."""
    monitor = _store(request).get_monitor(name)
    if since_ms is None and until_ms is None and monitor.cursor is not None:
        since_ms, until_ms = monitor.cursor - monitor.window_s * 1000, monitor.cursor
    return _json(compare_distributions(monitor, feature, _sql(request), request.app.state.datasets,
                                       since_ms=since_ms, until_ms=until_ms))


# -- series -----------------------------------------------------------------------------


@router.get(_API + "/series", responses=answers(SeriesPoints))
def query_points(request: Request, monitor: str | None = None, series: str | None = None,
                 since_ms: int | None = None, until_ms: int | None = None,
                 labels: str | None = Query(default=None, max_length=4096), max_results: MaxResults = 1000,
                 page_token: PageToken = None) -> Response:
    """Points by window end, then series, labels, monitor and window start."""
    wanted = None
    if labels:
        try:
            wanted = orjson.loads(labels)
        except orjson.JSONDecodeError:
            wanted = None
        if not isinstance(wanted, dict) or not all(isinstance(v, str) for v in wanted.values()):
            raise InvalidInput('labels must be a JSON object of strings, e.g. {"feature":"age"}', field="labels")
    store = _sql(request)
    page = seek_page(lambda after, n: store.query_points(monitor, series, since_ms=since_ms, until_ms=until_ms,
                                                         labels=wanted, after=after, limit=n),
                     point_key, max_results, page_token, (int, str, str, str, int))
    return _json(page_to_json(page, codec.point_to_json))


@router.get(_API + "/series/latest", responses=answers(SeriesPoints))
def latest_points(request: Request, monitor: str | None = None, max_results: MaxResults = 1000,
                  page_token: PageToken = None) -> Response:
    """The point of the latest window of each (monitor, series, labels), in that order."""
    points = _store(request).latest_points(monitor)
    # One text key in that order: NUL sorts before any character a name or label set holds.
    page = keyset_page(points, lambda p: f"{p.monitor}\0{p.series}\0{labels_key(p.labels)}", max_results,
                       page_token)
    return _json(page_to_json(page, codec.point_to_json))


@router.post(_API + "/series", responses=answers(Stored))
async def write_points(request: Request) -> Response:
    points = [codec.point_from_json(p) for p in _list(await _body(request), "points")]
    await run_in_threadpool(_store(request).write_points, points)
    return _json({"stored": len(points)})


# -- labels -----------------------------------------------------------------------------


@router.post(_API + "/labels", responses=answers(Stored))
async def put_labels(request: Request) -> Response:
    data = await _body(request)
    if isinstance(data, dict) and any(isinstance(v, list) and len(v) > _MAX_ITEMS for v in data.values()):
        raise InvalidInput(f"at most {_MAX_ITEMS} labels per request", field="labels")
    frame = codec.labels_from_json(data)
    stored = await run_in_threadpool(_store(request).put_labels, frame)
    return _json({"stored": stored})


@router.post(_API + "/labels/query", responses=answers(LabelColumns))
async def query_labels(request: Request) -> Response:
    data = await _body(request)
    if not isinstance(data, dict) or not isinstance(data.get("model"), str):
        raise InvalidInput("give the model whose labels to read", field="model")
    ids = data.get("request_ids")
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)):
        raise InvalidInput("request_ids must be a list of strings", field="request_ids")
    frame = await run_in_threadpool(_store(request).get_labels, data["model"],
                                    arrived_after=_int_or_none(data.get("arrived_after"), "arrived_after"),
                                    request_ids=ids)
    return _json(codec.labels_to_json(frame))


# -- segment index ----------------------------------------------------------------------


@router.post(_API + "/segments/query", responses=answers(Spans))
async def segment_spans(request: Request) -> Response:
    digests = _list(await _body(request), "digests")
    if not all(isinstance(d, str) for d in digests):
        raise InvalidInput("digests must be strings", field="digests")
    spans = await run_in_threadpool(_store(request).segment_spans, digests)
    return _json({"spans": {d: list(v) for d, v in spans.items()}})


@router.post(_API + "/segments", responses=answers(Stored))
async def record_segment_spans(request: Request) -> Response:
    data = await _body(request)
    spans = data.get("spans") if isinstance(data, dict) else None
    if not isinstance(spans, dict) or len(spans) > _MAX_ITEMS:
        raise InvalidInput(f"spans must map at most {_MAX_ITEMS} digests to [first_ms, last_ms, rows]", field="spans")
    checked: dict[str, tuple[int, int, int]] = {}
    for digest, span in spans.items():
        if not (isinstance(digest, str) and len(digest) == 64 and isinstance(span, list) and len(span) == 3
                and all(isinstance(v, int) and not isinstance(v, bool) for v in span)):
            raise InvalidInput(f"malformed span for {digest!r}: give a sha256 and [first_ms, last_ms, rows]",
                               field="spans")
        checked[digest] = (span[0], span[1], span[2])
    await run_in_threadpool(_store(request).record_segment_spans, checked)
    return _json({"stored": len(checked)})
