"""The OpenAPI 3.0 document of a serving endpoint (``GET /openapi.json``), written by hand.

The hot paths are plain ASGI, so there is no framework to derive it from; the schemas
below follow the Open Inference Protocol v2 and MLflow's scoring protocol. Model
names in paths are enumerated from the configuration, so generated requests (the
fuzz suite runs schemathesis against this document) reach the real models.
"""

from __future__ import annotations

from typing import Any

from shipyard.serving._config import ServeConfig

__all__ = ["openapi_document"]

_ERROR = {"type": "object", "properties": {"error": {"type": "string"}}}
_SCALAR: dict[str, Any] = {"oneOf": [{"type": "number"}, {"type": "string"}, {"type": "boolean"}]}
_ROW = {"type": "array", "items": _SCALAR}
_TENSOR = {
    "type": "object",
    "required": ["name", "shape", "datatype", "data"],
    "properties": {
        "name": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "datatype": {"type": "string", "enum": ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16",
                                                "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES"]},
        "parameters": {"type": "object"},
        "data": {"oneOf": [_ROW, {"type": "array", "items": _ROW}]},
    },
}
_INFER_REQUEST = {
    "type": "object",
    "required": ["inputs"],
    "properties": {
        "id": {"type": "string"},
        "parameters": {"type": "object"},
        "inputs": {"type": "array", "items": _TENSOR},
        "outputs": {"type": "array", "items": {"type": "object", "required": ["name"],
                                                "properties": {"name": {"type": "string"},
                                                               "parameters": {"type": "object"}}}},
    },
}
_SCORING_REQUEST = {
    "oneOf": [
        {"type": "object", "required": ["dataframe_split"], "properties": {
            "dataframe_split": {"type": "object", "properties": {
                "columns": {"type": "array", "items": {"type": "string"}},
                "index": {"type": "array", "items": {"type": "integer"}},
                "data": {"type": "array", "items": _ROW}}},
            "params": {"type": "object"}}},
        {"type": "object", "required": ["dataframe_records"], "properties": {
            "dataframe_records": {"type": "array", "items": {"type": "object", "additionalProperties": _SCALAR}}}},
        {"type": "object", "required": ["instances"], "properties": {
            "instances": {"oneOf": [{"type": "array", "items": _ROW},
                                    {"type": "object", "additionalProperties": _ROW}]}}},
        {"type": "object", "required": ["inputs"], "properties": {
            "inputs": {"oneOf": [{"type": "array", "items": _ROW},
                                 {"type": "object", "additionalProperties": _ROW}]}}},
    ]
}
_FEEDBACK = {
    "oneOf": [
        {"type": "object", "required": ["request_id", "label"], "properties": {
            "request_id": {"type": "string"}, "label": _SCALAR, "model": {"type": "string"}}},
        {"type": "object", "required": ["labels"], "properties": {
            "model": {"type": "string"},
            "labels": {"type": "array", "items": {"type": "object", "required": ["request_id", "label"],
                                                  "properties": {"request_id": {"type": "string"},
                                                                 "label": _SCALAR}}}}},
    ]
}


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _responses(*codes: int) -> dict[str, Any]:
    out: dict[str, Any] = {"200": {"description": "OK", "content": {"application/json": {"schema": {}}}}}
    for code in codes:
        out[str(code)] = {"description": "error", "content": {"application/json": {"schema": _ERROR}}}
    return out


def openapi_document(config: ServeConfig) -> dict[str, Any]:
    """The document for the models ``config`` serves."""
    names = [m.name for m in config.models]
    model = {"name": "model", "in": "path", "required": True, "schema": {"type": "string", "enum": names}}
    version = {"name": "version", "in": "path", "required": True, "schema": {"type": "string"}}
    infer = {"requestBody": _json_body(_INFER_REQUEST), "responses": _responses(400, 404, 413, 422, 500, 503, 504)}
    get = {"responses": _responses(404, 503)}
    # MLflow's scoring protocol: an empty line, 200 when every model is loaded, else 503.
    ping = {"responses": {str(code): {"description": text, "content": {"text/plain": {"schema": {"type": "string"}}}}
                          for code, text in ((200, "ready"), (503, "not ready yet"))}}
    paths: dict[str, Any] = {
        "/v2/health/live": {"get": get},
        "/v2/health/ready": {"get": get},
        "/v2": {"get": get},
        "/v2/models/{model}": {"get": {**get, "parameters": [model]}},
        "/v2/models/{model}/ready": {"get": {**get, "parameters": [model]}},
        "/v2/models/{model}/versions/{version}": {"get": {**get, "parameters": [model, version]}},
        "/v2/models/{model}/versions/{version}/ready": {"get": {**get, "parameters": [model, version]}},
        "/v2/models/{model}/infer": {"post": {**infer, "parameters": [model]}},
        "/v2/models/{model}/versions/{version}/infer": {"post": {**infer, "parameters": [model, version]}},
        "/invocations": {"post": {"requestBody": _json_body(_SCORING_REQUEST),
                                  "responses": _responses(400, 413, 422, 500, 503, 504)}},
        "/ping": {"get": ping},
        "/health": {"get": ping},
        "/version": {"get": {"responses": {"200": {"description": "version",
                                                   "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
        "/metrics": {"get": {"responses": {"200": {"description": "Prometheus text format",
                                                   "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
        "/v1/models": {"get": get},
        "/v1/feedback": {"post": {"requestBody": _json_body(_FEEDBACK),
                                  "responses": {**_responses(400, 404, 409, 422), "202": {"description": "kept"}}}},
        "/admin/reload": {"post": {"responses": _responses(500)}},
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "Shipyard model serving", "version": "0.1.0"},
        "paths": paths,
    }
