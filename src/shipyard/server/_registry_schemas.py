"""What the registry routes (``/api/v1/registry``) answer, as OpenAPI schemas.

Each model mirrors what :mod:`shipyard.registry._codec` sends (the entities' fields, or
:meth:`shipyard.lineage.LineageGraph.to_json`) field for field, and forbids other fields.
A file of a version has the shape of a run's artifact
(:class:`~shipyard.server._tracking_schemas.Artifact`). Times are integer milliseconds.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AuditEvent", "GateCheck", "GateReport", "GateReports", "Generation", "LineageEdge", "LineageGraph",
           "ModelCard", "ModelVersion", "RegisteredModel"]

_EXACT = ConfigDict(extra="forbid")


class Generation(BaseModel):
    """A number that grows with every registry change (a cache is fresh while it stays)."""

    model_config = _EXACT

    generation: int


class RegisteredModel(BaseModel):
    model_config = _EXACT

    name: str
    description: str | None
    tags: dict[str, str]
    aliases: dict[str, int] = Field(description="alias: version number")
    latest_version: int | None
    policy: dict[str, Any] | None = Field(description="The promotion policy guarded aliases must pass")
    created_at: int
    updated_at: int


class ModelVersion(BaseModel):
    model_config = _EXACT

    name: str
    version: int
    source: str = Field(description="The runs:/ URI the version was registered from")
    run_id: str | None
    status: str
    description: str | None
    flavor: str | None
    signature: dict[str, Any] | None
    # orjson writes a non-finite float as null.
    metrics: dict[str, float | None] = Field(description="The run's metrics when the version was registered")
    tags: dict[str, str]
    aliases: list[str]
    user: str | None
    created_at: int
    updated_at: int


class AuditEvent(BaseModel):
    """One entry of the append-only audit log: who did what, when, from what to what."""

    model_config = _EXACT

    id: int
    at: int
    actor: str | None
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None
    forced: bool


class LineageEdge(BaseModel):
    """``src`` —relation→ ``dst``; nodes are written ``type:id`` (``run:<id>``, ``model_version:churn/3``)."""

    model_config = _EXACT

    src: str
    relation: str
    dst: str


class LineageGraph(BaseModel):
    """What lies upstream and downstream of ``root``, as edges, up to the depth asked for."""

    model_config = _EXACT

    root: str
    upstream: list[LineageEdge]
    downstream: list[LineageEdge]


class GateCheck(BaseModel):
    """One rule of the promotion policy and how the version fares against it."""

    model_config = _EXACT

    rule: str
    passed: bool
    detail: str


class GateReport(BaseModel):
    """A version checked against the policy of one guarded alias, as a move would check it."""

    model_config = _EXACT

    alias: str
    candidate: int
    holder: int | None = Field(description="The version the alias points at now, if any")
    passed: bool
    checks: list[GateCheck]


class GateReports(BaseModel):
    """One report per alias the model's policy guards (none without a policy)."""

    model_config = _EXACT

    items: list[GateReport]


class ModelCard(BaseModel):
    """A version's model card as Markdown, built from what the registry knows."""

    model_config = _EXACT

    name: str
    version: int
    markdown: str
