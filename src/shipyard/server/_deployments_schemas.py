"""What the deployments routes (``/api/v1/deployments``) answer, as OpenAPI schemas.

Each model mirrors :meth:`shipyard.serving._registration.ServeRegistration.to_json` field for
field and forbids other fields. Times are integer milliseconds since the epoch.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Deployment", "LiveFigures", "ServedModel"]

_EXACT = ConfigDict(extra="forbid")


class Route(BaseModel):
    """A route of a served model as configured: the model URI behind it and its traffic weight."""

    model_config = _EXACT

    route: str
    uri: str
    weight: float


class Shadow(BaseModel):
    """The shadow copy of a served model: which URI sees what fraction of its traffic."""

    model_config = _EXACT

    route: str
    uri: str
    fraction: float


class ServedModel(BaseModel):
    """One model a deployment serves, as configured."""

    model_config = _EXACT

    name: str
    routes: list[Route]
    shadow: Shadow | None


class RouteVersion(BaseModel):
    """The version a route serves now."""

    model_config = _EXACT

    route: str
    version: str


class LatencyPercentiles(BaseModel):
    """Request latency in milliseconds (null: nothing answered)."""

    model_config = _EXACT

    p50: float | None
    p90: float | None
    p99: float | None


class BatchBucket(BaseModel):
    """Model calls of at most ``le`` rows (and more than the bucket before)."""

    model_config = _EXACT

    le: float
    count: int


class ModelFigures(BaseModel):
    """One served model's traffic: totals since the deployment started, rates between its last
    two heartbeats, and that interval's latency and batch sizes (the totals' when ``window_s``
    is null)."""

    model_config = _EXACT

    name: str
    routes: list[RouteVersion]
    requests_total: int
    errors_total: int = Field(description="Answers with a 5xx status")
    client_errors_total: int = Field(description="Answers with a 4xx status")
    model_errors_total: int
    requests_per_s: float | None
    errors_per_s: float | None
    error_share: float | None
    window_s: float | None
    latency_ms: LatencyPercentiles
    mean_batch_size: float | None
    batch_window_s: float | None = Field(description="The interval the batch sizes cover; null: since the start")
    batch_sizes: list[BatchBucket]


class LiveFigures(BaseModel):
    """The deployment's metrics at its last heartbeat."""

    model_config = _EXACT

    at: int
    workers: int
    models: list[ModelFigures]


class Deployment(BaseModel):
    """A ``shipyard serve`` registered in this server's metadata store."""

    model_config = _EXACT

    id: str
    url: str
    host: str
    pid: int
    started_at: int
    heartbeat_at: int
    interval_ms: int
    state: str = Field(description="live, or gone once the heartbeat is several intervals late")
    models: list[ServedModel]
    live: LiveFigures | None = Field(description="Null before the first heartbeat with metrics")
