"""Alert endpoints under ``/api/v1/alerts``: rules, alerts, history, and evaluation.

A thin skin over an :class:`~shipyard.alerting._backend.AlertStore`;
``POST /evaluate`` runs the server's :class:`~shipyard.alerting._engine.AlertEngine`
(its notifiers come from the server's configuration), and a rule naming a notifier
that configuration lacks is refused (422) when it is created.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from shipyard.alerting import AlertRule
from shipyard.alerting._backend import MAX_HISTORY, AlertStore
from shipyard.alerting._notifiers import check_notifiers
from shipyard.errors import InvalidInput

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/alerts")


def _store(request: Request) -> AlertStore:
    store: AlertStore = request.app.state.alerts
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


@router.post("/rules")
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


@router.get("/rules")
def list_rules(request: Request) -> Response:
    return _json({"items": [r.to_json() for r in _store(request).list_rules()]})


@router.get("/rules/{name}")
def get_rule(name: str, request: Request) -> Response:
    return _json(_store(request).get_rule(name).to_json())


@router.delete("/rules/{name}")
def delete_rule(name: str, request: Request) -> Response:
    _store(request).delete_rule(name)
    return _json({})


@router.get("")
def list_alerts(request: Request, state: str | None = None, rule: str | None = None) -> Response:
    return _json({"items": [a.to_json() for a in _store(request).list_alerts(state, rule)]})


@router.get("/history")
def history(request: Request, rule: str | None = None, fingerprint: str | None = None,
            limit: int = Query(default=100, ge=1, le=MAX_HISTORY)) -> Response:
    return _json({"items": [e.to_json() for e in _store(request).history(rule, fingerprint, limit)]})


@router.post("/evaluate")
async def evaluate(request: Request) -> Response:
    now_ms = (await _body(request)).get("now_ms")
    if now_ms is not None and (not isinstance(now_ms, int) or isinstance(now_ms, bool) or now_ms < 0):
        raise InvalidInput(f"now_ms must be milliseconds since the epoch, got {now_ms!r}", field="now_ms")
    engine = request.app.state.alert_engine
    events = await run_in_threadpool(engine.evaluate, now_ms)
    return _json({"items": [e.to_json() for e in events]})
