"""The registry's audit log under ``/api/v1/audit``: who changed which model, version or alias, when.

Every registry change appends an entry in the transaction that makes it
(:mod:`shipyard.registry._sql_store`); a model's own trail is also at
``/api/v1/registry/models/{name}/history``. Entries are listed newest first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from shipyard.registry import codec
from shipyard.server._registry_schemas import AuditEvent
from shipyard.server._schemas import ERROR_ANSWERS, Page, answers
from shipyard.server._seek import MaxResults, PageToken, seek_page
from shipyard.tracking._codec import page_to_json

if TYPE_CHECKING:
    from shipyard.registry._sql_store import SqlRegistryStore

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", responses=ERROR_ANSWERS)


@router.get("/audit", responses=answers(Page[AuditEvent]))
def audit_log(request: Request, model: str | None = Query(None, description="A model's entries and its versions'"),
              actor: str | None = None, action: str | None = Query(None, description="e.g. register, set_alias"),
              since_ms: int | None = Query(None, ge=0, description="Entries at or after this time"),
              max_results: MaxResults = 100, page_token: PageToken = None) -> Response:
    """The registry's audit log, newest first, filtered by model, actor, action and time."""
    store: SqlRegistryStore = request.app.state.registry  # the server holds the SQL store
    page = seek_page(lambda after, n: store.audit_log(model=model, actor=actor, action=action, since_ms=since_ms,
                                                      after=after, limit=n),
                     lambda e: e.id, max_results, page_token, int)
    return Response(orjson.dumps(page_to_json(page, codec.to_json)), media_type="application/json")
