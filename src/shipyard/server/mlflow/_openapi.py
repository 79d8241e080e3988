"""The OpenAPI paths of the MLflow-compatible API, written by hand.

The routes are a dispatch table, not FastAPI routes (see :mod:`._routing`), so nothing
derives their document; :func:`openapi_paths` is it, and ``shipyard server`` merges it
into its own. Requests and answers are those of the handlers here, in MLflow's protobuf
JSON (:mod:`._wire`): a GET carries its message as query parameters, every other method
as a JSON body; an int64 field may also be sent as a string of digits; every error is
``{"error_code", "message"}``. Component names start with ``Mlflow`` so they never meet
the ``/api/v1`` ones.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from shipyard.server.mlflow._logged_models import STATUSES
from shipyard.tracking import RunStatus

__all__ = ["openapi_components", "openapi_paths"]

_ML, _ARTIFACTS = "/api/2.0/mlflow", "/api/2.0/mlflow-artifacts/artifacts"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/Mlflow{name}"}


def _object(properties: dict[str, Any], required: tuple[str, ...] = (), *, exact: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = list(required)
    if exact:
        out["additionalProperties"] = False
    return out


def _list(items: dict[str, Any], max_items: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "array", "items": items}
    if max_items is not None:
        out["maxItems"] = max_items
    return out


_STR: dict[str, Any] = {"type": "string"}
_BOOL: dict[str, Any] = {"type": "boolean"}
_INT: dict[str, Any] = {"type": "integer", "format": "int64"}
_TIME: dict[str, Any] = {"type": "integer", "format": "int64", "minimum": 0}
_DOUBLE: dict[str, Any] = {"anyOf": [{"type": "number"}, {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]}]}
_KEY_VALUES = _list(_ref("KeyValue"))
_VIEW_TYPE = {"type": "string", "enum": ["ACTIVE_ONLY", "DELETED_ONLY", "ALL"], "default": "ACTIVE_ONLY"}
_PAGE_TOKEN = {**_STR, "description": "next_page_token of the previous page"}
_BYTES = {"type": "string", "format": "binary"}

_COMPONENTS: dict[str, dict[str, Any]] = {
    "Error": _object({"error_code": {**_STR, "description": "MLflow's code, e.g. RESOURCE_DOES_NOT_EXIST, "
                                                            "INVALID_PARAMETER_VALUE, UNAUTHENTICATED"},
                      "message": _STR}, ("error_code", "message")),
    "Empty": _object({}),
    "KeyValue": _object({"key": _STR, "value": _STR}, ("key", "value")),
    "Experiment": _object({
        "experiment_id": _STR, "name": _STR, "artifact_location": _STR, "lifecycle_stage": _STR,
        "last_update_time": _TIME, "creation_time": _TIME, "tags": _KEY_VALUES,
    }, ("experiment_id", "name", "artifact_location", "lifecycle_stage", "last_update_time", "creation_time",
        "tags")),
    "Metric": _object({"key": _STR, "value": _DOUBLE, "timestamp": _INT, "step": _INT, "run_id": _STR},
                      ("key", "value", "timestamp", "step")),
    "RunInfo": _object({
        "run_id": _STR, "run_uuid": _STR, "run_name": _STR, "experiment_id": _STR, "user_id": _STR,
        "status": {"type": "string", "enum": [s.value for s in RunStatus]}, "start_time": _TIME, "end_time": _TIME,
        "artifact_uri": _STR, "lifecycle_stage": _STR,
    }, ("run_id", "run_uuid", "run_name", "experiment_id", "user_id", "status", "start_time", "artifact_uri",
        "lifecycle_stage")),
    "Run": _object({
        "info": _ref("RunInfo"),
        "data": _object({"metrics": _list(_ref("Metric")), "params": _KEY_VALUES, "tags": _KEY_VALUES},
                        ("metrics", "params", "tags")),
        "inputs": _object({}),
        "outputs": _object({"model_outputs": _list(_object({"model_id": _STR, "step": _INT}, ("model_id", "step")))}),
    }, ("info", "data", "inputs", "outputs")),
    "LoggedModel": _object({
        "info": _object({
            "model_id": _STR, "experiment_id": _STR, "name": _STR, "creation_timestamp_ms": _TIME,
            "last_updated_timestamp_ms": _TIME, "artifact_uri": _STR, "status": {"type": "string", "enum": STATUSES},
            "model_type": _STR, "status_message": _STR, "tags": _KEY_VALUES, "source_run_id": _STR,
        }, ("model_id", "experiment_id", "name", "creation_timestamp_ms", "last_updated_timestamp_ms", "artifact_uri",
            "status", "model_type", "status_message", "tags")),
        "data": _object({"params": _KEY_VALUES, "metrics": _list(_ref("Metric"))}, ("params", "metrics")),
    }, ("info", "data")),
    "ModelVersion": _object({
        "name": _STR, "version": _STR, "creation_timestamp": _TIME, "last_updated_timestamp": _TIME,
        "user_id": _STR, "current_stage": _STR, "description": _STR, "source": _STR, "run_id": _STR,
        "status": _STR, "tags": _KEY_VALUES, "aliases": _list(_STR), "model_id": _STR,
    }, ("name", "version", "creation_timestamp", "last_updated_timestamp", "user_id", "current_stage",
        "description", "source", "run_id", "status", "tags", "aliases")),
    "RegisteredModel": _object({
        "name": _STR, "creation_timestamp": _TIME, "last_updated_timestamp": _TIME, "description": _STR,
        "tags": _KEY_VALUES, "aliases": _list(_object({"alias": _STR, "version": _STR}, ("alias", "version"))),
        "latest_versions": _list(_ref("ModelVersion")),
    }, ("name", "creation_timestamp", "last_updated_timestamp", "description", "tags", "aliases")),
}

# The error answers of every route: the request's faults (400, with MLflow's
# INVALID_PARAMETER_VALUE), authentication and authorization, a missing resource,
# a body too large, login throttling, and a store that is busy (with Retry-After).
_ERRORS = {str(code): {"description": text, "content": {"application/json": {"schema": _ref("Error")}}}
           for code, text in ((400, "Invalid request"), (401, "No valid credential"),
                              (403, "The credential's user may not do this"), (404, "Not found"),
                              (413, "Request too large"), (429, "Too many requests"),
                              (503, "Temporarily unavailable"))}


def _answer(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return _object(properties, required)


_EMPTY = _ref("Empty")
_PAGED = {"next_page_token": _STR}


def _op(method: str, path: str, summary: str, answer: dict[str, Any], fields: dict[str, Any] | None = None,
        required: tuple[str, ...] = (), *, media: str = "application/json",
        body: dict[str, Any] | None = None) -> tuple[str, str, dict[str, Any]]:
    """One operation: its message ``fields`` as query parameters (GET) or a JSON body (or ``body``)."""
    slug = re.sub(r"[^a-z0-9]+", "_", f"{method} {path.removeprefix('/api/')}".lower()).strip("_")
    op: dict[str, Any] = {"tags": ["MLflow"], "summary": summary, "operationId": f"mlflow_{slug}",
                          "responses": {"200": {"description": "OK", "content": {media: {"schema": answer}}},
                                        **_ERRORS}}
    params = [{"name": name, "in": "path", "required": True, "schema": _STR} for name in re.findall(r"\{(\w+)}", path)]
    fields = {k: v for k, v in (fields or {}).items() if k not in {p["name"] for p in params}}
    if method == "get":
        params += [{"name": name, "in": "query", "required": name in required, "schema": schema,
                    **({"style": "form", "explode": True} if schema.get("type") == "array" else {})}
                   for name, schema in fields.items()]
    elif body is not None:
        op["requestBody"] = body
    elif fields:
        op["requestBody"] = {"required": bool(required), "content": {"application/json": {
            "schema": _object(fields, required, exact=False)}}}
    if params:
        op["parameters"] = params
    return method, path, op


_NAME = {"name": _STR}
_VERSION = {"name": _STR, "version": _INT}
_RUN = {"run_id": _STR, "run_uuid": {**_STR, "description": "The run's id, when run_id is not given"}}
_SEARCH = {"max_results": _INT, "page_token": _PAGE_TOKEN, "filter": _STR, "order_by": _list(_STR)}
_EXPERIMENT_SEARCH = {"view_type": _VIEW_TYPE, **_SEARCH}

_OPERATIONS = [
    # experiments
    _op("get", f"{_ML}/experiments/get-by-name", "An experiment by name",
        _answer({"experiment": _ref("Experiment")}, ("experiment",)), {"experiment_name": _STR}, ("experiment_name",)),
    _op("post", f"{_ML}/experiments/create", "Create an experiment",
        _answer({"experiment_id": _STR}, ("experiment_id",)),
        {"name": _STR, "artifact_location": _STR, "tags": _KEY_VALUES}, ("name",)),
    _op("get", f"{_ML}/experiments/get", "An experiment by id",
        _answer({"experiment": _ref("Experiment")}, ("experiment",)), {"experiment_id": _STR}, ("experiment_id",)),
    *(_op(m, f"{_ML}/experiments/search", "Search experiments",
          _answer({"experiments": _list(_ref("Experiment")), **_PAGED}, ("experiments",)), _EXPERIMENT_SEARCH)
      for m in ("get", "post")),
    _op("post", f"{_ML}/experiments/delete", "Delete an experiment", _EMPTY, {"experiment_id": _STR},
        ("experiment_id",)),
    _op("post", f"{_ML}/experiments/restore", "Restore a deleted experiment", _EMPTY, {"experiment_id": _STR},
        ("experiment_id",)),
    _op("post", f"{_ML}/experiments/update", "Rename an experiment", _EMPTY,
        {"experiment_id": _STR, "new_name": _STR}, ("experiment_id", "new_name")),
    _op("post", f"{_ML}/experiments/set-experiment-tag", "Tag an experiment", _EMPTY,
        {"experiment_id": _STR, "key": _STR, "value": _STR}, ("experiment_id", "key")),
    # runs
    _op("post", f"{_ML}/runs/create", "Start a run", _answer({"run": _ref("Run")}, ("run",)),
        {"experiment_id": _STR, "run_name": _STR, "start_time": _TIME, "tags": _KEY_VALUES, "user_id": _STR}),
    _op("get", f"{_ML}/runs/get", "A run with its data", _answer({"run": _ref("Run")}, ("run",)), _RUN),
    _op("post", f"{_ML}/runs/update", "Change a run's status, end time or name",
        _answer({"run_info": _ref("RunInfo")}, ("run_info",)),
        {**_RUN, "status": {"type": "string", "enum": [s.value for s in RunStatus]}, "end_time": _TIME,
         "run_name": _STR}),
    _op("post", f"{_ML}/runs/delete", "Delete a run", _EMPTY, _RUN),
    _op("post", f"{_ML}/runs/restore", "Restore a deleted run", _EMPTY, _RUN),
    _op("post", f"{_ML}/runs/log-metric", "Log one metric point", _EMPTY,
        {**_RUN, "key": _STR, "value": _DOUBLE, "timestamp": _TIME, "step": _INT, "model_id": _STR},
        ("key", "value", "timestamp")),
    _op("post", f"{_ML}/runs/log-parameter", "Log one param", _EMPTY, {**_RUN, "key": _STR, "value": _STR},
        ("key",)),
    _op("post", f"{_ML}/runs/set-tag", "Tag a run (mlflow.runName renames it)", _EMPTY,
        {**_RUN, "key": _STR, "value": _STR}, ("key",)),
    _op("post", f"{_ML}/runs/delete-tag", "Remove a run's tag", _EMPTY, {**_RUN, "key": _STR}, ("key",)),
    _op("post", f"{_ML}/runs/log-batch", "Log metrics, params and tags of a run", _EMPTY, {
        **_RUN,
        "metrics": _list(_object({"key": _STR, "value": _DOUBLE, "timestamp": _TIME, "step": _INT, "model_id": _STR},
                                 ("key", "value", "timestamp"), exact=False), 1000),
        "params": _list(_ref("KeyValue"), 100), "tags": _list(_ref("KeyValue"), 100)}),
    _op("post", f"{_ML}/runs/search", "Search runs",
        _answer({"runs": _list(_ref("Run")), **_PAGED}, ("runs",)),
        {"experiment_ids": _list(_STR), "run_view_type": _VIEW_TYPE, **_SEARCH}),
    _op("get", f"{_ML}/metrics/get-history", "Every point of one metric of a run",
        _answer({"metrics": _list(_ref("Metric")), **_PAGED}, ("metrics",)),
        {**_RUN, "metric_key": _STR, "max_results": _INT, "page_token": _PAGE_TOKEN}, ("metric_key",)),
    _op("post", f"{_ML}/runs/outputs", "Link logged models to a run", _EMPTY,
        {**_RUN, "models": _list(_object({"model_id": _STR, "step": _INT}, ("model_id",), exact=False))}),
    # logged models
    _op("post", f"{_ML}/logged-models", "Create a logged model", _answer({"model": _ref("LoggedModel")}, ("model",)),
        {"experiment_id": _STR, "name": _STR, "source_run_id": _STR, "model_type": _STR, "params": _KEY_VALUES,
         "tags": _KEY_VALUES}, ("experiment_id",)),
    _op("post", f"{_ML}/logged-models/search", "Search logged models",
        _answer({"models": _list(_ref("LoggedModel")), **_PAGED}, ("models",)),
        {"experiment_ids": _list(_STR), "filter": _STR, "max_results": _INT, "page_token": _PAGE_TOKEN,
         "order_by": _list(_object({"field_name": _STR, "ascending": _BOOL}, ("field_name",), exact=False))},
        ("experiment_ids",)),
    _op("get", f"{_ML}/logged-models/{{model_id}}", "A logged model",
        _answer({"model": _ref("LoggedModel")}, ("model",)), {"allow_deleted": _BOOL}),
    _op("patch", f"{_ML}/logged-models/{{model_id}}", "Set a logged model's status (finalize it)",
        _answer({"model": _ref("LoggedModel")}, ("model",)),
        {"status": {"anyOf": [{"type": "string", "enum": STATUSES}, {"type": "integer", "minimum": 1,
                                                                     "maximum": len(STATUSES) - 1}]}}, ("status",)),
    _op("delete", f"{_ML}/logged-models/{{model_id}}", "Delete a logged model", _EMPTY),
    _op("patch", f"{_ML}/logged-models/{{model_id}}/tags", "Tag a logged model", _EMPTY, {"tags": _KEY_VALUES}),
    _op("delete", f"{_ML}/logged-models/{{model_id}}/tags/{{tag_key}}", "Remove a logged model's tag", _EMPTY),
    _op("post", f"{_ML}/logged-models/{{model_id}}/params", "Log a logged model's params", _EMPTY,
        {"params": _KEY_VALUES}),
    # registered models
    _op("post", f"{_ML}/registered-models/create", "Create a registered model",
        _answer({"registered_model": _ref("RegisteredModel")}, ("registered_model",)),
        {**_NAME, "description": _STR, "tags": _KEY_VALUES}, ("name",)),
    _op("get", f"{_ML}/registered-models/get", "A registered model",
        _answer({"registered_model": _ref("RegisteredModel")}, ("registered_model",)), _NAME, ("name",)),
    _op("get", f"{_ML}/registered-models/search", "Search registered models",
        _answer({"registered_models": _list(_ref("RegisteredModel")), **_PAGED}, ("registered_models",)), _SEARCH),
    _op("patch", f"{_ML}/registered-models/update", "Change a registered model's description",
        _answer({"registered_model": _ref("RegisteredModel")}, ("registered_model",)),
        {**_NAME, "description": _STR}, ("name",)),
    _op("delete", f"{_ML}/registered-models/delete", "Delete a registered model", _EMPTY, _NAME, ("name",)),
    _op("post", f"{_ML}/registered-models/set-tag", "Tag a registered model", _EMPTY,
        {**_NAME, "key": _STR, "value": _STR}, ("name", "key")),
    *(_op(m, f"{_ML}/registered-models/get-latest-versions", "The latest version (stage None)",
          _answer({"model_versions": _list(_ref("ModelVersion"))}, ("model_versions",)),
          {**_NAME, "stages": _list(_STR)}, ("name",)) for m in ("get", "post")),
    _op("post", f"{_ML}/registered-models/alias", "Point an alias at a version", _EMPTY,
        {**_VERSION, "alias": _STR}, ("name", "alias", "version")),
    _op("get", f"{_ML}/registered-models/alias", "The version an alias points at",
        _answer({"model_version": _ref("ModelVersion")}, ("model_version",)), {**_NAME, "alias": _STR},
        ("name", "alias")),
    _op("delete", f"{_ML}/registered-models/alias", "Remove an alias", _EMPTY, {**_NAME, "alias": _STR},
        ("name", "alias")),
    # model versions
    _op("post", f"{_ML}/model-versions/create", "Register a version",
        _answer({"model_version": _ref("ModelVersion")}, ("model_version",)),
        {**_NAME, "source": {**_STR, "description": "models:/<logged model id>, runs:/<run id>/<path> or "
                                                    "mlflow-artifacts:/<experiment>/<run id>/artifacts/<path>"},
         "run_id": _STR, "description": _STR, "tags": _KEY_VALUES, "model_id": _STR}, ("name", "source")),
    _op("get", f"{_ML}/model-versions/get", "A version",
        _answer({"model_version": _ref("ModelVersion")}, ("model_version",)), _VERSION, ("name", "version")),
    _op("get", f"{_ML}/model-versions/search", "Search versions",
        _answer({"model_versions": _list(_ref("ModelVersion")), **_PAGED}, ("model_versions",)), _SEARCH),
    _op("get", f"{_ML}/model-versions/get-download-uri", "Where a version's files download from",
        _answer({"artifact_uri": _STR}, ("artifact_uri",)), _VERSION, ("name", "version")),
    _op("patch", f"{_ML}/model-versions/update", "Change a version's description",
        _answer({"model_version": _ref("ModelVersion")}, ("model_version",)), {**_VERSION, "description": _STR},
        ("name", "version")),
    _op("delete", f"{_ML}/model-versions/delete", "Delete a version", _EMPTY, _VERSION, ("name", "version")),
    _op("post", f"{_ML}/model-versions/set-tag", "Tag a version", _EMPTY,
        {**_VERSION, "key": _STR, "value": _STR}, ("name", "version", "key")),
    # the artifact proxy and the server's capabilities
    _op("get", _ARTIFACTS, "The immediate children of a folder (files is absent when there are none)",
        _answer({"files": _list(_object({"path": _STR, "is_dir": _BOOL, "file_size": _INT}, ("path", "is_dir")))}),
        {"path": {**_STR, "description": "<experiment>/<run id>/artifacts/<folder>, or "
                                         "registered-models/<name>/<version>/<folder>"}}),
    _op("get", f"{_ARTIFACTS}/{{path}}", "Download a file", _BYTES, media="application/octet-stream"),
    _op("put", f"{_ARTIFACTS}/{{path}}", "Upload a file of a run", _EMPTY,
        body={"required": True, "content": {"application/octet-stream": {"schema": _BYTES}}}),
    _op("delete", f"{_ARTIFACTS}/{{path}}", "Delete a run's file or folder", _EMPTY),
    _op("get", "/api/3.0/mlflow/server-info", "What this server supports: no multipart transfers",
        _answer({"store_type": _STR, "workspaces_enabled": _BOOL, "trace_archival_enabled": _BOOL,
                 "multipart_uploads_enabled": _BOOL, "multipart_downloads_enabled": _BOOL},
                ("store_type", "workspaces_enabled", "trace_archival_enabled", "multipart_uploads_enabled",
                 "multipart_downloads_enabled"))),
]


def openapi_paths() -> dict[str, dict[str, Any]]:
    """``paths`` of an OpenAPI 3.1 document: every route of :data:`shipyard.server.mlflow.ROUTES`."""
    paths: dict[str, dict[str, Any]] = {}
    for method, path, operation in _OPERATIONS:
        paths.setdefault(path, {})[method] = copy.deepcopy(operation)
    return paths


def openapi_components() -> dict[str, dict[str, Any]]:
    """The ``components.schemas`` the paths refer to, all named ``Mlflow…``."""
    return {f"Mlflow{name}": copy.deepcopy(schema) for name, schema in _COMPONENTS.items()}
