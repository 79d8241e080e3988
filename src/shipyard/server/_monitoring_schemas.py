"""What the monitoring routes (``/api/v1/monitors``, ``/api/v1/monitoring``) answer, as OpenAPI schemas.

Each model mirrors what :mod:`shipyard.monitoring._codec` sends, field for field, and
forbids other fields. Times are integer milliseconds since the epoch. Fixed-length lists
are arrays of their element types, as in :mod:`shipyard.server._datasets_schemas`.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, RootModel

from shipyard.server._schemas import Page

__all__ = ["Distribution", "LabelColumns", "Monitor", "MonitorWindow", "Point", "SeriesPoints", "Spans", "Stored"]

_EXACT = ConfigDict(extra="forbid")


class Monitor(BaseModel):
    """Which model's log is compared, in windows of ``window_s`` seconds, with which reference."""

    model_config = _EXACT

    name: str
    model: str
    window_s: int
    reference: str | None
    task: str | None
    label_column: str | None
    options: dict[str, Any]
    cursor: int | None = Field(description="The end of the last computed window")
    label_watermark: int | None = Field(description="The arrival time up to which labels were applied")
    created_at: int
    updated_at: int


class MonitorWindow(BaseModel):
    """One computed window; its profiles are null unless asked for."""

    model_config = _EXACT

    monitor: str
    window_start: int
    window_end: int
    rows: int
    status: str
    version: str | None
    detail: str | None
    profile: dict[str, Any] | None
    prediction_profile: dict[str, Any] | None
    computed_at: int


Point = Annotated[
    list[str | int | float | dict[str, str] | None],
    Field(min_length=6, max_length=6, description="[monitor, series, window_start, window_end, value (null: none), "
                                                  "labels (an object of strings)]"),
]


class SeriesPoints(Page[Point]):
    """One page of series points."""


class Stored(BaseModel):
    """How many items a write stored."""

    model_config = _EXACT

    stored: int


class LabelColumns(RootModel[dict[str, list[Any]]]):
    """Labels column by column: ``{"request_id": [...], "row": [...], "label": [...], ...}``."""


class Spans(BaseModel):
    """Per segment digest: ``[first_ms, last_ms, rows]``."""

    model_config = _EXACT

    spans: dict[str, Annotated[list[int], Field(min_length=3, max_length=3)]]


class ColumnDistribution(BaseModel):
    """One column's distribution: a numeric histogram (``edges``, ``counts``, ``below``,
    ``above``) or categorical value counts (``categories``: ``[value, count]``, ``other``)."""

    model_config = _EXACT

    kind: str = Field(description="numeric or categorical")
    count: int = Field(description="Values counted (nulls apart)")
    nulls: int
    mean: float | None = None
    edges: list[float] | None = None
    counts: list[int] | None = None
    below: int | None = None
    above: int | None = None
    categories: list[Annotated[list[str | int], Field(min_length=2, max_length=2)]] | None = None
    other: int | None = None


class Distribution(BaseModel):
    """A feature's reference distribution beside the current one: the merged profiles of the
    windows ending in ``(since_ms, until_ms]`` (by default the newest window)."""

    model_config = _EXACT

    monitor: str
    feature: str
    features: list[str] = Field(description="Every column the reference or the windows profile")
    since_ms: int | None
    until_ms: int | None
    windows: int = Field(description="Windows merged into the current distribution")
    reference: ColumnDistribution | None
    reference_error: str | None = Field(description="Why the reference could not be read, when it could not")
    current: ColumnDistribution | None
