"""Deployment endpoints: ``GET /api/v1/deployments`` and ``GET /api/v1/deployments/{id}``.

A thin skin over the serving registrations (:mod:`shipyard.serving._registration`): each
``shipyard serve`` with this server's metadata store registers itself and heartbeats a
summary of its own metrics, so the figures shown here come from the store and no
reader (this server, a browser) ever connects to a serving process.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from shipyard.server._deployments_schemas import Deployment
from shipyard.server._paging import keyset_page
from shipyard.server._schemas import ERROR_ANSWERS, Page, answers
from shipyard.server._seek import MaxResults, PageToken
from shipyard.serving._registration import RegistrationStore, check_state
from shipyard.timeutil import now_ms
from shipyard.tracking._codec import page_to_json

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/deployments", responses=ERROR_ANSWERS)


def _store(request: Request) -> RegistrationStore:
    store: RegistrationStore = request.app.state.deployments
    return store


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


@router.get("", responses=answers(Page[Deployment]))
def list_deployments(request: Request, state: str | None = None, max_results: MaxResults = 100,
                     page_token: PageToken = None) -> Response:
    """Registered ``shipyard serve`` processes (``live`` or ``gone`` ones only, with ``state``),
    oldest start first."""
    check_state(state)
    now = now_ms()
    found = [r for r in _store(request).list() if state is None or r.state(now) == state]
    page = keyset_page(found, lambda r: (r.started_at, r.id), max_results, page_token)
    return _json(page_to_json(page, lambda r: r.to_json(now)))


@router.get("/{id}", responses=answers(Deployment))
def get_deployment(id: str, request: Request) -> Response:
    """One registered ``shipyard serve``."""
    return _json(_store(request).get(id).to_json(now_ms()))
