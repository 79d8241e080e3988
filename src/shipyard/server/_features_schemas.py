"""What the feature-store routes (``/api/v1/features``) answer, as OpenAPI schemas.

Each model mirrors the ``to_json`` of :mod:`shipyard.features._backend`'s entities (or the
handler's own dict) field for field, and forbids other fields. Event times are integer
microseconds since the epoch (``_us``); record times integer milliseconds.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AppliedObject",
    "AppliedObjects",
    "Difference",
    "FeatureColumns",
    "FeatureObject",
    "Freshness",
    "Materialization",
    "MaterializationState",
    "OnlineRows",
    "RowCount",
    "SkewReport",
    "ViewSkew",
]

_EXACT = ConfigDict(extra="forbid")


class FeatureObject(BaseModel):
    """One version of an entity, feature view or on-demand view, as applied."""

    model_config = _EXACT

    kind: str = Field(description="entity, feature_view or on_demand_view")
    name: str
    version: int
    spec: dict[str, Any]
    fingerprint: str
    created_at: int
    forced: bool = Field(description="Stored over an incompatible change with force")


class AppliedObject(BaseModel):
    """What applying one definition did: created, updated, forced or unchanged."""

    model_config = _EXACT

    kind: str
    name: str
    version: int
    status: str
    changes: list[str]


class AppliedObjects(BaseModel):
    model_config = _EXACT

    items: list[AppliedObject]


class MaterializationState(BaseModel):
    """The last materialization of a view: the interval [start_us, end_us) it covered."""

    model_config = _EXACT

    view: str
    start_us: int | None
    end_us: int
    rows: int
    materialized_at: int


class Materialization(BaseModel):
    model_config = _EXACT

    state: MaterializationState | None = Field(description="null: never materialized")


class FeatureColumns(BaseModel):
    """Online lookups, column by column: ``{"user_id": [5, 7], "avg_spend_7d": [1.5, null]}``."""

    model_config = _EXACT

    columns: dict[str, list[Any]]


class RowCount(BaseModel):
    """How many rows a write stored."""

    model_config = _EXACT

    rows: int


class OnlineRows(BaseModel):
    """Per key asked for, in order: its event time (null: not stored) and each feature's value."""

    model_config = _EXACT

    event_ts: list[int | None]
    columns: dict[str, list[Any]]


class Freshness(BaseModel):
    model_config = _EXACT

    newest_us: int | None = Field(description="The newest event time the view holds; null when empty")


class Difference(BaseModel):
    """One entity whose feature differs: its key, both values, and ``|offline - online|`` for numbers."""

    model_config = _EXACT

    entity: dict[str, Any]
    offline: Any
    online: Any
    difference: float | None


class ViewSkew(BaseModel):
    """One feature compared over the entities present on both sides; the largest differences first."""

    model_config = _EXACT

    name: str
    dtype: str
    compared: int
    mismatches: int
    mismatch_rate: float
    largest: list[Difference]


class SkewReport(BaseModel):
    """Online values against the offline point-in-time path as of ``checked_at`` (ISO 8601, UTC).

    ``missing_online`` / ``missing_offline`` count the sampled entities present on one side
    only, with up to ten example keys each."""

    model_config = _EXACT

    view: str
    checked_at: str
    tolerance: float
    ok: bool = Field(description="No value differs and no sampled entity is missing on either side")
    sampled_online: int
    sampled_offline: int
    compared: int
    missing_online: int
    missing_offline: int
    missing_online_examples: list[dict[str, Any]]
    missing_offline_examples: list[dict[str, Any]]
    features: dict[str, ViewSkew]
