"""Model registry endpoints under ``/api/v1/registry``: a thin skin over a RegistryStore."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response, StreamingResponse

from shipyard.errors import NotFound
from shipyard.registry import CheckResult, GateReport, PromotionPolicy, RegistryStore, codec
from shipyard.registry import ModelVersion as Version
from shipyard.registry._card import render_card
from shipyard.registry._policy import GateContext, Rule
from shipyard.server._paging import keyset_page
from shipyard.server._registry_schemas import (
    AuditEvent,
    GateReports,
    Generation,
    LineageGraph,
    ModelCard,
    ModelVersion,
    RegisteredModel,
)
from shipyard.server._schemas import ERROR_ANSWERS, answers
from shipyard.server._schemas import Page as PageOf
from shipyard.server._seek import MaxResults, PageToken
from shipyard.server._tracking_schemas import BYTES_ANSWER, Artifact, Empty
from shipyard.tracking import Page
from shipyard.tracking._codec import artifact_to_json, page_to_json

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/registry", tags=["model registry"], responses=ERROR_ANSWERS)


def _store(request: Request) -> RegistryStore:
    store: RegistryStore = request.app.state.registry
    return store


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


def _page(page: Page) -> Response:
    out: dict[str, Any] = {"items": [codec.to_json(x) for x in page.items]}
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return _json(out)


_DIGEST_HEADER = {"x-shipyard-digest": {"description": "The file's sha256 digest", "schema": {"type": "string"}}}


class ModelCreate(BaseModel):
    name: str = Field(min_length=1, max_length=256)
    description: str | None = None
    tags: dict[str, str] | None = None
    actor: str | None = None


class Description(BaseModel):
    description: str | None = None
    actor: str | None = None


class TagValue(BaseModel):
    value: str


class VersionCreate(BaseModel):
    source: str = Field(min_length=1)
    description: str | None = None
    tags: dict[str, str] | None = None
    actor: str | None = None


class AliasSet(BaseModel):
    version: int = Field(ge=1)
    reason: str | None = None
    force: bool = False
    actor: str | None = None


class Reason(BaseModel):
    reason: str | None = None
    actor: str | None = None


class PolicySet(BaseModel):
    policy: dict[str, Any] | None
    reason: str | None = None
    actor: str | None = None


class TrafficSet(BaseModel):
    traffic: dict[str, Any] | None = Field(description="The split: {routes: {alias: percent}, "
                                                       "shadow: {alias, fraction}}; null clears it")
    reason: str | None = None
    actor: str | None = None


@router.get("/generation", responses=answers(Generation))
def generation(request: Request) -> Response:
    return _json({"generation": _store(request).generation()})


@router.get("/resolve", responses=answers(ModelVersion))
def resolve(request: Request, uri: str = Query(min_length=1)) -> Response:
    return _json(codec.to_json(_store(request).resolve(uri)))


@router.get("/lineage", responses=answers(LineageGraph))
def lineage(request: Request, type: str = Query(min_length=1), id: str = Query(min_length=1),
            max_depth: int = Query(default=10, ge=1, le=100)) -> Response:
    return _json(_store(request).lineage(type, id, max_depth).to_json())


@router.post("/models", responses=answers(RegisteredModel))
def create_model(body: ModelCreate, request: Request) -> Response:
    model = _store(request).create_registered_model(body.name, body.description, body.tags, body.actor)
    return _json(codec.to_json(model))


@router.get("/models", responses=answers(PageOf[RegisteredModel]))
def search_models(request: Request, name_like: str | None = None, max_results: MaxResults = 100,
                  page_token: PageToken = None) -> Response:
    return _page(_store(request).search_registered_models(name_like, max_results, page_token))


@router.get("/models/{name}", responses=answers(RegisteredModel))
def get_model(name: str, request: Request) -> Response:
    return _json(codec.to_json(_store(request).get_registered_model(name)))


@router.patch("/models/{name}", responses=answers(RegisteredModel))
def update_model(name: str, body: Description, request: Request) -> Response:
    return _json(codec.to_json(_store(request).update_registered_model(name, body.description, body.actor)))


@router.put("/models/{name}/tags/{key:path}", responses=answers(Empty))
def set_model_tag(name: str, key: str, body: TagValue, request: Request) -> Response:
    _store(request).set_registered_model_tag(name, key, body.value)
    return _json({})


@router.delete("/models/{name}", responses=answers(Empty))
def delete_model(name: str, request: Request, reason: str | None = None, actor: str | None = None) -> Response:
    _store(request).delete_registered_model(name, actor, reason)
    return _json({})


@router.post("/models/{name}/versions", responses=answers(ModelVersion))
def create_version(name: str, body: VersionCreate, request: Request) -> Response:
    version = _store(request).create_model_version(name, body.source, body.description, body.tags, body.actor)
    return _json(codec.to_json(version))


@router.get("/versions", responses=answers(PageOf[ModelVersion]))
def search_versions(request: Request, name: str | None = None, run_id: str | None = None,
                    max_results: MaxResults = 100, page_token: PageToken = None) -> Response:
    return _page(_store(request).search_model_versions(name, run_id, max_results, page_token))


@router.get("/models/{name}/versions/{version}", responses=answers(ModelVersion))
def get_version(name: str, version: int, request: Request) -> Response:
    return _json(codec.to_json(_store(request).get_model_version(name, version)))


@router.patch("/models/{name}/versions/{version}", responses=answers(ModelVersion))
def update_version(name: str, version: int, body: Description, request: Request) -> Response:
    return _json(codec.to_json(_store(request).update_model_version(name, version, body.description, body.actor)))


@router.put("/models/{name}/versions/{version}/tags/{key:path}", responses=answers(Empty))
def set_version_tag(name: str, version: int, key: str, body: TagValue, request: Request) -> Response:
    _store(request).set_model_version_tag(name, version, key, body.value)
    return _json({})


@router.delete("/models/{name}/versions/{version}", responses=answers(Empty))
def delete_version(name: str, version: int, request: Request, reason: str | None = None,
                   actor: str | None = None) -> Response:
    _store(request).delete_model_version(name, version, actor, reason)
    return _json({})


@router.get("/models/{name}/versions/{version}/files", responses=answers(PageOf[Artifact]))
def list_files(name: str, version: int, request: Request, max_results: MaxResults = 1000,
               page_token: PageToken = None) -> Response:
    files = _store(request).list_version_files(name, version)
    return _json(page_to_json(keyset_page(files, lambda f: f.path, max_results, page_token), artifact_to_json))


@router.get("/models/{name}/versions/{version}/files/{path:path}", response_class=StreamingResponse,
            responses={200: {**BYTES_ANSWER[200], "headers": _DIGEST_HEADER}})
def download_file(name: str, version: int, path: str, request: Request) -> Response:
    store = _store(request)
    files = {f.path: f for f in store.list_version_files(name, version)}
    if path not in files:
        raise NotFound(f"model version {name}/{version} has no file {path!r}", resource="file", path=path)
    chunks = request.app.state.artifacts.open(files[path].digest)
    return StreamingResponse(chunks, media_type="application/octet-stream",
                             headers={"x-shipyard-digest": files[path].digest})


@router.get("/models/{name}/aliases/{alias}", responses=answers(ModelVersion))
def get_alias(name: str, alias: str, request: Request) -> Response:
    return _json(codec.to_json(_store(request).get_version_by_alias(name, alias)))


@router.put("/models/{name}/aliases/{alias}", responses=answers(ModelVersion))
def set_alias(name: str, alias: str, body: AliasSet, request: Request) -> Response:
    version = _store(request).set_alias(name, alias, body.version, body.actor, body.reason, body.force)
    return _json(codec.to_json(version))


@router.delete("/models/{name}/aliases/{alias}", responses=answers(Empty))
def delete_alias(name: str, alias: str, request: Request, reason: str | None = None,
                 actor: str | None = None) -> Response:
    _store(request).delete_alias(name, alias, actor, reason)
    return _json({})


@router.post("/models/{name}/aliases/{alias}/rollback", responses=answers(ModelVersion))
def rollback(name: str, alias: str, body: Reason, request: Request) -> Response:
    return _json(codec.to_json(_store(request).rollback(name, alias, body.actor, body.reason)))


@router.put("/models/{name}/policy", responses=answers(RegisteredModel))
def set_policy(name: str, body: PolicySet, request: Request) -> Response:
    return _json(codec.to_json(_store(request).set_policy(name, body.policy, body.actor, body.reason)))


@router.put("/models/{name}/traffic", responses=answers(RegisteredModel))
def set_traffic(name: str, body: TrafficSet, request: Request) -> Response:
    """Set or clear the live traffic split ``shipyard serve`` follows for the model."""
    return _json(codec.to_json(_store(request).set_traffic(name, body.traffic, body.actor, body.reason)))


@router.get("/models/{name}/history", responses=answers(PageOf[AuditEvent]))
def history(name: str, request: Request, max_results: MaxResults = 1000, page_token: PageToken = None) -> Response:
    """The audit trail of the model and its versions, oldest first."""
    events = _store(request).history(name)
    return _page(keyset_page(events, lambda e: e.id, max_results, page_token))


@router.get("/models/{name}/versions/{version}/gates", responses=answers(GateReports))
def gates(name: str, version: int, request: Request, alias: str | None = None) -> Response:
    """How the version fares against the model's promotion policy, one report per guarded alias
    (only ``alias``'s when given), each check as a move of that alias would run it. Nothing moves
    and nothing is recorded; a check that cannot run (a package that fails to load for timing)
    is reported as failed with the reason, where a move would be refused."""
    store = _store(request)
    candidate = store.get_model_version(name, version)
    model = store.get_registered_model(name)
    if not model.policy:
        return _json({"items": []})
    policy = PromotionPolicy.from_json(model.policy)
    measured: dict[int, float] = {}  # the latency of a version is measured once per request

    def latency(found: Version) -> float:
        if found.version not in measured:
            measured[found.version] = _latency_p99_ms(store, found)
        return measured[found.version]

    context = GateContext(latency_p99_ms=latency)
    reports = []
    for guarded in policy.aliases:
        if alias is not None and guarded != alias:
            continue
        held = model.aliases.get(guarded)
        holder = store.get_model_version(name, held) if held else None
        checks = [_check(rule, candidate, holder, context) for rule in policy.rules]
        reports.append(GateReport(guarded, candidate.version, held, checks).to_json())
    return _json({"items": reports})


def _latency_p99_ms(store: RegistryStore, version: Version) -> float:
    """p99 of ``predict`` on the package's input example, its model.yaml pinned as registered."""
    from shipyard.registry._latency import predict_latency_p99_ms

    files = store.list_version_files(version.name, version.version)
    pinned = next((f.digest for f in files if f.path == "model.yaml"), None)
    return predict_latency_p99_ms(store.materialize(version.name, version.version), manifest_sha256=pinned)


def _check(rule: Rule, candidate: Version, holder: Version | None, context: GateContext) -> CheckResult:
    try:
        return rule.check(candidate, holder, context)
    except Exception as exc:  # noqa: BLE001 - a package that will not load or time fails its check, not the report
        return CheckResult(rule.type, False, f"could not be checked: {exc}")


@router.get("/models/{name}/versions/{version}/card", responses=answers(ModelCard))
def card(name: str, version: int, request: Request) -> Response:
    """The version's model card (Markdown): details, the prose tags, metrics, signature, run, lineage."""
    store = _store(request)
    found = store.get_model_version(name, version)
    model = store.get_registered_model(name)
    run = None
    if found.run_id:
        try:
            run = request.app.state.tracking.get_run(found.run_id)
        except NotFound:
            run = None  # the run was deleted: the card says less, it still renders
    graph = store.lineage("model_version", f"{found.name}/{found.version}")
    return _json({"name": found.name, "version": found.version, "markdown": render_card(model, found, run, graph)})
