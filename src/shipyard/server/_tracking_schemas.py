"""What the tracking routes of ``/api/v1`` answer, as OpenAPI schemas.

Each model mirrors one encoder of :mod:`shipyard.tracking._codec` field for field (the
handlers send the codec's dicts, not these models), and forbids other fields, so the
schemathesis suite fails when the two drift apart. Times are integer milliseconds.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shipyard.tracking import RunStatus

__all__ = [
    "BYTES_ANSWER",
    "LOG_BATCH_REQUEST",
    "RECORD_REQUEST",
    "UPLOAD_REQUEST",
    "Artifact",
    "Empty",
    "Experiment",
    "Health",
    "Metric",
    "RecordedRuns",
    "Run",
]

_EXACT = ConfigDict(extra="forbid")


class Empty(BaseModel):
    """The answer of a write that has nothing to return: ``{}``."""

    model_config = _EXACT


class Health(BaseModel):
    model_config = _EXACT

    status: Literal["ok"]


class Limits(BaseModel):
    """The longest param and tag values, in characters, this server stores (its
    ``max_param_length`` and ``max_tag_length``): a remote client checks and cuts values to them."""

    model_config = _EXACT

    max_param_length: int = Field(ge=1)
    max_tag_length: int = Field(ge=1)


class Experiment(BaseModel):
    """A named group of runs; ``id`` is a string of digits (``"0"`` is the default experiment)."""

    model_config = _EXACT

    id: str
    name: str
    artifact_location: str | None
    lifecycle_stage: str = Field(description="active or deleted")
    created_at: int
    updated_at: int
    tags: dict[str, str]


class Metric(BaseModel):
    """One logged point; a non-finite value travels as the string NaN, Infinity or -Infinity."""

    model_config = _EXACT

    key: str
    value: float | Literal["NaN", "Infinity", "-Infinity"]
    step: int
    timestamp: int


class Run(BaseModel):
    """A run with its params, tags and the latest point of each metric."""

    model_config = _EXACT

    id: str = Field(description="32 lowercase hex characters")
    experiment_id: str
    name: str
    status: RunStatus
    start_time: int
    end_time: int | None
    parent_run_id: str | None
    lifecycle_stage: str = Field(description="active or deleted")
    user: str | None
    params: dict[str, str]
    tags: dict[str, str]
    metrics: dict[str, Metric]
    environment: dict[str, Any] | None = Field(description="Where the run ran, when it was captured")


class RecordedRuns(BaseModel):
    """The ids of the runs a ``record`` request wrote, in the order it gave them."""

    model_config = _EXACT

    run_ids: list[str]


class Artifact(BaseModel):
    """A file of a run (or of a model version): its path, sha256 digest and size in bytes."""

    model_config = _EXACT

    path: str
    digest: str
    size: int


#: The answer of a download: the file's bytes, streamed.
BYTES_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"description": "The file's bytes",
          "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
}

# The bodies the handlers read themselves (to skip validating thousands of points through
# pydantic), declared for the document. A number that is not finite is sent as a string.
_STRING: dict[str, Any] = {"type": "string"}
_NUMBER: dict[str, Any] = {"anyOf": [{"type": "number"}, {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]}]}
_INT: dict[str, Any] = {"type": "integer"}
_STRINGS: dict[str, Any] = {"type": "object", "additionalProperties": _STRING}


def _tuple(description: str, *items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "description": description, "items": {
        "type": "array", "prefixItems": list(items), "items": False, "minItems": len(items)}}


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


_IDEMPOTENCY_KEY = {"name": "Idempotency-Key", "in": "header", "required": False,
                    "description": "Makes the write happen at most once: a retry with the same key gets the "
                                   "first try's answer", "schema": {"type": "string", "minLength": 1, "maxLength": 128}}

#: ``POST /runs/log-batch``: points, params and tags of one or more runs.
LOG_BATCH_REQUEST: dict[str, Any] = {
    **_json_body({"type": "object", "properties": {
        "metrics": _tuple("[run_id, key, value, timestamp, step]", _STRING, _STRING, _NUMBER, _INT, _INT),
        "params": _tuple("[run_id, key, value]", _STRING, _STRING, _STRING),
        "tags": _tuple("[run_id, key, value]", _STRING, _STRING, _STRING),
    }}),
    "parameters": [
        {"name": "allow_finished", "in": "query", "required": False, "schema": {"type": "boolean", "default": False},
         "description": "Also write to runs that have finished"},
        _IDEMPOTENCY_KEY,
    ],
}

#: ``POST /runs/record``: whole runs with their data and artifact bytes (base64).
RECORD_REQUEST: dict[str, Any] = {
    **_json_body({"type": "object", "required": ["runs"], "properties": {"runs": {"type": "array", "items": {
        "type": "object", "required": ["experiment_id"], "additionalProperties": False, "properties": {
            "id": _STRING, "experiment_id": _STRING, "name": _STRING,
            "status": {"type": "string", "enum": [s.value for s in RunStatus]},
            "start_time": _INT, "end_time": _INT, "parent_run_id": _STRING, "user": _STRING,
            "params": _STRINGS, "tags": _STRINGS,
            "metrics": _tuple("[key, value, timestamp, step]", _STRING, _NUMBER, _INT, _INT),
            "artifacts": {"type": "object", "description": "path: the file's bytes, base64",
                          "additionalProperties": {"type": "string", "contentEncoding": "base64"}},
            "links": {"type": "object", "description": "path: the sha256 digest of an object the store holds",
                      "additionalProperties": _STRING},
            "environment": {"type": ["object", "null"]},
        }}}}}),
    "parameters": [_IDEMPOTENCY_KEY],
}

#: ``PUT /runs/{run_id}/artifacts/{path}``: the file's bytes as the body.
UPLOAD_REQUEST: dict[str, Any] = {
    "requestBody": {"required": True,
                    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
}
