"""Alert endpoints under ``/api/v1/alerts``: rules, alerts, history, and evaluation.

A thin skin over an :class:`~shipyard.alerting._backend.AlertStore`;
``POST /evaluate`` runs the server's :class:`~shipyard.alerting._engine.AlertEngine`
(its notifiers come from the server's configuration), and a rule naming a notifier
that configuration lacks is refused (422) when it is created.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from shipyard.alerting import AlertRule, SqlAlertStore
from shipyard.alerting._backend import AlertStore
from shipyard.alerting._notifiers import check_notifiers
from shipyard.alerting._sql_store import alert_key
from shipyard.errors import InvalidInput
from shipyard.server._alerts_schemas import Alert, AlertEvents, HistoryEntry
from shipyard.server._alerts_schemas import AlertRule as AlertRuleSchema
from shipyard.server._paging import keyset_page
from shipyard.server._schemas import ERROR_ANSWERS, Page, answers
from shipyard.server._seek import MaxResults, PageToken, seek_page
from shipyard.server._tracking_schemas import Empty
from shipyard.tracking._codec import page_to_json

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/alerts", responses=ERROR_ANSWERS)


def _store(request: Request) -> AlertStore:
    store: AlertStore = request.app.state.alerts
    return store


def _sql(request: Request) -> SqlAlertStore:
    """The store as the server holds it: the SQL one, which reads a page from a key on."""
    store: SqlAlertStore = request.app.state.alerts
    return store


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.body() or b"{}")
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"body is not JSON: {exc}", field="body") from None
    if not isinstance(body, dict):
        raise InvalidInput("body must be a JSON object", field="body")
    return body


@router.post("/rules", status_code=201, responses=answers(AlertRuleSchema, 201, "Created"))
async def create_rule(request: Request) -> Response:
    body = await _body(request)
    replace = body.pop("replace", False)
    if not isinstance(replace, bool):
        raise InvalidInput(f"replace must be true or false, got {replace!r}", field="replace")
    for key in ("created_at", "updated_at"):
        body.pop(key, None)
    rule = AlertRule.from_json(body)
    check_notifiers(rule.notify, request.app.state.alert_engine.notifiers)  # this server's configuration
    stored = await run_in_threadpool(_store(request).create_rule, rule, replace=replace)
    return _json(stored.to_json(), 201)


@router.get("/rules", responses=answers(Page[AlertRuleSchema]))
def list_rules(request: Request, max_results: MaxResults = 100, page_token: PageToken = None) -> Response:
    """Rules by name."""
    page = keyset_page(_store(request).list_rules(), lambda r: r.name, max_results, page_token)
    return _json(page_to_json(page, lambda r: r.to_json()))


@router.get("/rules/{name}", responses=answers(AlertRuleSchema))
def get_rule(name: str, request: Request) -> Response:
    return _json(_store(request).get_rule(name).to_json())


@router.delete("/rules/{name}", responses=answers(Empty))
def delete_rule(name: str, request: Request) -> Response:
    _store(request).delete_rule(name)
    return _json({})


@router.get("", responses=answers(Page[Alert]))
def list_alerts(request: Request, state: str | None = None, rule: str | None = None,
                max_results: MaxResults = 100, page_token: PageToken = None) -> Response:
    """Alerts (in ``state``, of ``rule``): firing ones first, then by newest start."""
    store = _sql(request)
    page = seek_page(lambda after, n: store.list_alerts(state, rule, after=after, limit=n), alert_key,
                     max_results, page_token, (int, int, str))
    return _json(page_to_json(page, lambda a: a.to_json()))


@router.get("/history", responses=answers(Page[HistoryEntry]))
def history(request: Request, rule: str | None = None, fingerprint: str | None = None,
            max_results: MaxResults = 100, page_token: PageToken = None) -> Response:
    """The alert history, newest first."""
    store = _sql(request)  # a page (at most MAX_RESULTS) is within the store's MAX_HISTORY: both 10,000
    page = seek_page(lambda after, n: store.history(rule, fingerprint, n, after=after), lambda e: e.id,
                     max_results, page_token, int)
    return _json(page_to_json(page, lambda e: e.to_json()))


@router.post("/evaluate", responses=answers(AlertEvents))
async def evaluate(request: Request) -> Response:
    now_ms = (await _body(request)).get("now_ms")
    if now_ms is not None and (not isinstance(now_ms, int) or isinstance(now_ms, bool) or now_ms < 0):
        raise InvalidInput(f"now_ms must be milliseconds since the epoch, got {now_ms!r}", field="now_ms")
    engine = request.app.state.alert_engine
    events = await run_in_threadpool(engine.evaluate, now_ms)
    return _json({"items": [e.to_json() for e in events]})
