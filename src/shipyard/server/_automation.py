"""Automation endpoints under ``/api/v1/automation``: policies, runs, approvals, export lineage.

A thin skin over the server's :class:`~shipyard.automation.SqlAutomationStore` (and
:func:`~shipyard.automation.plan`, which reads the other stores too). Applying a
policy needs ``edit`` (on its model, for a grant), approving or rejecting a run
``approve``; the audit log names the authenticated user, never a claimed actor. Lists
come in pages (``max_results``, ``page_token``): policies by name, versions and audit
entries newest first, runs by newest start.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Query, Request
from starlette.responses import Response

from shipyard.automation import AutomationPolicy, SqlAutomationStore
from shipyard.automation._sql_store import run_key
from shipyard.registry import codec
from shipyard.server._automation_schemas import (
    Applied,
    AutomationRun,
    Decision,
    ExportLineage,
    Plan,
    PolicyVersion,
)
from shipyard.server._registry_schemas import AuditEvent
from shipyard.server._schemas import ERROR_ANSWERS, Page, answers
from shipyard.server._seek import MaxResults, PageToken, seek_page
from shipyard.server._tracking_schemas import Empty
from shipyard.tracking._codec import page_to_json

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/automation", tags=["automation"], responses=ERROR_ANSWERS)


_PolicyBody = Annotated[dict[str, Any], Body(
    description="The policy (the JSON form of its YAML file); see shipyard.automation.AutomationPolicy")]


def _store(request: Request) -> SqlAutomationStore:
    store: SqlAutomationStore = request.app.state.automation  # the server holds the SQL store
    return store


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


@router.post("/policies", responses=answers(Applied))
def apply_policy(request: Request, policy: _PolicyBody) -> Response:
    """Apply a policy: a new version unless the same policy is current. What it names must exist."""
    return _json(_store(request).apply(AutomationPolicy.from_json(policy)).to_json())


@router.get("/policies", responses=answers(Page[PolicyVersion]))
def list_policies(request: Request, max_results: MaxResults = 100, page_token: PageToken = None) -> Response:
    """The current version of every policy, by name."""
    store = _store(request)
    page = seek_page(lambda after, n: store.list_policies(after=after, limit=n), lambda p: p.name, max_results,
                     page_token, str)
    return _json(page_to_json(page, lambda p: p.to_json()))


@router.get("/policies/{name}", responses=answers(PolicyVersion))
def get_policy(name: str, request: Request,
               version: int | None = Query(None, ge=1, description="A version (default: the current one)")
               ) -> Response:
    return _json(_store(request).get_policy(name, version).to_json())


@router.get("/policies/{name}/versions", responses=answers(Page[PolicyVersion]))
def policy_versions(name: str, request: Request, max_results: MaxResults = 100,
                    page_token: PageToken = None) -> Response:
    """Every version of the policy, newest first."""
    store = _store(request)
    page = seek_page(lambda after, n: store.policy_versions(name, after=after, limit=n), lambda p: p.version,
                     max_results, page_token, int)
    return _json(page_to_json(page, lambda p: p.to_json()))


@router.get("/policies/{name}/audit", responses=answers(Page[AuditEvent]))
def policy_audit(name: str, request: Request, max_results: MaxResults = 100,
                 page_token: PageToken = None) -> Response:
    """Who applied each version, and moved, approved or rejected each run; newest first."""
    store = _store(request)
    page = seek_page(lambda after, n: store.audit(name, after=after, limit=n), lambda e: e.id, max_results,
                     page_token, int)
    return _json(page_to_json(page, codec.to_json))


@router.get("/runs", responses=answers(Page[AutomationRun]))
def list_runs(request: Request, policy: str | None = None,
              state: str | None = Query(None, description="Only runs in this state"),
              max_results: MaxResults = 100, page_token: PageToken = None) -> Response:
    """Runs (of a policy, in a state), newest first."""
    store = _store(request)
    page = seek_page(lambda after, n: store.list_runs(policy, state, after=after, limit=n), run_key, max_results,
                     page_token, (int, str))
    return _json(page_to_json(page, lambda r: r.to_json()))


@router.get("/runs/{run_id}", responses=answers(AutomationRun))
def get_run(run_id: str, request: Request) -> Response:
    return _json(_store(request).get_run(run_id).to_json())


@router.post("/runs/{run_id}/approve", responses=answers(AutomationRun))
def approve_run(run_id: str, body: Decision, request: Request) -> Response:
    """Let a run awaiting approval go on (409 naming its state if it awaits none)."""
    return _json(_store(request).approve(run_id, body.reason).to_json())


@router.post("/runs/{run_id}/reject", responses=answers(AutomationRun))
def reject_run(run_id: str, body: Decision, request: Request) -> Response:
    """End a run awaiting approval as rejected (409 naming its state if it awaits none)."""
    return _json(_store(request).reject(run_id, body.reason).to_json())


@router.get("/plan/{model}", responses=answers(Plan))
def get_plan(model: str, request: Request) -> Response:
    """What the controller would do now for registered model ``model``'s policies: the active
    run and its next step, or the triggers that fire and what the guards say. Acts on nothing;
    a model that is not registered is 404 naming the field ``model``."""
    from shipyard.automation import TriggerSources, plan

    state = request.app.state
    found = plan(model, automation=_store(request), registry=state.registry, sources=TriggerSources(
        alerts=state.alerts, monitoring=state.monitoring, datasets=state.datasets))
    return _json(found.to_json())


@router.post("/exports", responses=answers(Empty))
def record_export(body: ExportLineage, request: Request) -> Response:
    """Record where a dataset version of exported labelled rows came from (lineage edges)."""
    _store(request).record_export(body.dataset, body.version, [(m.name, m.version) for m in body.model_versions],
                                  body.monitors)
    return _json({})
