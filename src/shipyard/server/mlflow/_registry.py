"""MLflow's model registry RPCs (registered models, versions, aliases) on Shipyard's registry.

Versions are Shipyard versions: registering shares the source's stored files (by
digest), snapshots its run's metrics and records lineage and an audit entry; guarded
aliases still pass the model's promotion policy (a refusal is INVALID_PARAMETER_VALUE
carrying the gate report). What differs from MLflow:

* a version's source must be something Shipyard stores: ``models:/<logged model id>``,
  ``runs:/<run>/<path>`` or ``mlflow-artifacts:/<experiment>/<run>/artifacts/<path>``;
  the source as MLflow gave it (and the logged model's id) is kept in internal tags
  and shown back unchanged;
* versions are READY at once and their stage is always ``None`` (stages are
  deprecated in MLflow; Shipyard has aliases only);
* a version's download URI is ``mlflow-artifacts:/registered-models/<name>/<version>``,
  which serves the version's own files, hash-checked, even if the run's artifacts
  change afterwards.
"""

from __future__ import annotations

import re
from typing import Any

from shipyard.errors import InvalidInput, NotFound
from shipyard.registry import ModelVersion, RegisteredModel
from shipyard.server.mlflow import _filters as filters
from shipyard.server.mlflow._logged_models import LoggedModels
from shipyard.server.mlflow._routing import Message, Routes, Stores
from shipyard.server.mlflow._wire import INTERNAL_PREFIX, model_version_json, registered_model_json, user_tag_key
from shipyard.tracking._search import decode_page_token, encode_page_token

__all__ = ["REGISTRY_ARTIFACT_ROOT", "routes", "shipyard_source"]

routes = Routes("/api/2.0/mlflow")

REGISTRY_ARTIFACT_ROOT = "registered-models"
_ARTIFACT_SOURCE = re.compile(r"^mlflow-artifacts:(?://[^/]*)?/+\d+/([0-9a-f]{32})/artifacts/(.+)\Z")
_MODEL_ID_SOURCE = re.compile(r"^models:/(m-[^/@]+)/?\Z")
_MODEL_FIELDS = ("name", "creation_timestamp", "last_updated_timestamp", "timestamp")
_VERSION_FIELDS = ("name", "version_number", "creation_timestamp", "last_updated_timestamp", "timestamp")


def shipyard_source(stores: Stores, source: str) -> tuple[str, str | None]:
    """The ``runs:/`` URI Shipyard registers for an MLflow source, and the logged model id if any."""
    if m := _MODEL_ID_SOURCE.match(source):
        return LoggedModels(stores.tracking).get(m.group(1)).source, m.group(1)
    if m := _ARTIFACT_SOURCE.match(source):
        return f"runs:/{m.group(1)}/{m.group(2).strip('/')}", None
    if source.startswith("runs:/"):
        return source, None
    raise InvalidInput(
        f"Unsupported model version source {source!r}: Shipyard registers models it stores, given as "
        "models:/<logged model id>, runs:/<run id>/<path> or mlflow-artifacts:/<experiment>/<run>/artifacts/<path>",
        field="source",
    )


def _name(msg: Message) -> str:
    return str(msg.text("name", required=True))


def _version(msg: Message) -> int:
    version = msg.integer("version", required=True)
    if version is None or version < 1:
        raise InvalidInput(f"Invalid value {msg.raw('version')!r} for parameter 'version'", field="version")
    return version


def _model_json(stores: Stores, model: RegisteredModel) -> dict[str, Any]:
    latest = None
    if model.latest_version is not None:
        latest = stores.registry.get_model_version(model.name, model.latest_version)
    return registered_model_json(model, latest)


def _page(items: list[Any], max_results: int, token: str | None) -> tuple[list[Any], str | None]:
    offset = decode_page_token(token)
    more = offset + max_results < len(items)
    return items[offset: offset + max_results], encode_page_token(offset + max_results) if more else None


def _max_results(msg: Message, default: int) -> int:
    value = msg.integer("max_results", default=default) or default
    if not 1 <= value <= 10_000:
        raise InvalidInput(f"Invalid value {value} for parameter 'max_results': must be 1-10000", field="max_results")
    return value


# -- registered models ---------------------------------------------------------------------


@routes.rpc("POST", "/registered-models/create")
def create_registered_model(msg: Message, stores: Stores) -> dict[str, Any]:
    tags = {user_tag_key(k, "tags"): v for k, v in msg.pairs("tags").items()}
    model = stores.registry.create_registered_model(_name(msg), msg.text("description"), tags or None)
    return {"registered_model": _model_json(stores, model)}


@routes.rpc("GET", "/registered-models/get")
def get_registered_model(msg: Message, stores: Stores) -> dict[str, Any]:
    return {"registered_model": _model_json(stores, stores.registry.get_registered_model(_name(msg)))}


@routes.rpc("GET", "/registered-models/search")
def search_registered_models(msg: Message, stores: Stores) -> dict[str, Any]:
    clauses = filters.parse(msg.text("filter"))
    order = filters.sort_key(msg.strings("order_by") or ["name ASC"], _MODEL_FIELDS)
    models, token = [], None
    while True:  # registered models are few: filter them here
        page = stores.registry.search_registered_models(None, 10_000, token)
        models += page.items
        token = page.next_page_token
        if not token:
            break

    def attributes(m: RegisteredModel) -> dict[str, Any]:
        return {"name": m.name, "creation_timestamp": m.created_at, "last_updated_timestamp": m.updated_at,
                "timestamp": m.updated_at}

    found = [m for m in models if filters.matches(clauses, attributes(m), m.tags)]
    filters.sort_items(found, order, attributes)
    items, next_token = _page(found, _max_results(msg, 100), msg.text("page_token"))
    out: dict[str, Any] = {"registered_models": [_model_json(stores, m) for m in items]}
    if next_token:
        out["next_page_token"] = next_token
    return out


@routes.rpc("PATCH", "/registered-models/update")
def update_registered_model(msg: Message, stores: Stores) -> dict[str, Any]:
    model = stores.registry.update_registered_model(_name(msg), msg.text("description"))
    return {"registered_model": _model_json(stores, model)}


@routes.rpc("DELETE", "/registered-models/delete")
def delete_registered_model(msg: Message, stores: Stores) -> dict[str, Any]:
    stores.registry.delete_registered_model(_name(msg))
    return {}


@routes.rpc("POST", "/registered-models/set-tag")
def set_registered_model_tag(msg: Message, stores: Stores) -> dict[str, Any]:
    stores.registry.set_registered_model_tag(_name(msg), user_tag_key(msg.text("key", required=True)),
                                             msg.text("value") or "")
    return {}


def _latest_versions(msg: Message, stores: Stores) -> dict[str, Any]:
    model = stores.registry.get_registered_model(_name(msg))
    stages = [s.lower() for s in msg.strings("stages")]
    if model.latest_version is None or (stages and "none" not in stages):
        return {"model_versions": []}
    return {"model_versions": [model_version_json(stores.registry.get_model_version(model.name,
                                                                                      model.latest_version))]}


routes.rpc("POST", "/registered-models/get-latest-versions")(_latest_versions)
routes.rpc("GET", "/registered-models/get-latest-versions")(_latest_versions)


# -- versions ------------------------------------------------------------------------------


@routes.rpc("POST", "/model-versions/create")
def create_model_version(msg: Message, stores: Stores) -> dict[str, Any]:
    name, source = _name(msg), str(msg.text("source", required=True))
    registered, model_id = shipyard_source(stores, source)
    model_id = msg.text("model_id") or model_id
    tags = {user_tag_key(k, "tags"): v for k, v in msg.pairs("tags").items()}
    tags[f"{INTERNAL_PREFIX}source"] = source
    if model_id:
        tags[f"{INTERNAL_PREFIX}model_id"] = model_id
    version = stores.registry.create_model_version(name, registered, msg.text("description"), tags)
    return {"model_version": model_version_json(version)}


@routes.rpc("GET", "/model-versions/get")
def get_model_version(msg: Message, stores: Stores) -> dict[str, Any]:
    return {"model_version": model_version_json(stores.registry.get_model_version(_name(msg), _version(msg)))}


@routes.rpc("GET", "/model-versions/search")
def search_model_versions(msg: Message, stores: Stores) -> dict[str, Any]:
    clauses = filters.parse(msg.text("filter"))
    order = filters.sort_key(msg.strings("order_by") or ["name ASC", "version_number DESC"], _VERSION_FIELDS)
    equal = {c.key: c.value for c in clauses if c.kind == "attribute" and c.op == "=" and isinstance(c.value, str)}
    versions, token = [], None
    while True:
        page = stores.registry.search_model_versions(equal.get("name"), equal.get("run_id"), 10_000, token)
        versions += page.items
        token = page.next_page_token
        if not token:
            break

    def attributes(v: ModelVersion) -> dict[str, Any]:
        return {"name": v.name, "version_number": v.version, "run_id": v.run_id, "creation_timestamp": v.created_at,
                "last_updated_timestamp": v.updated_at, "timestamp": v.updated_at,
                "source_path": v.tags.get(f"{INTERNAL_PREFIX}source", v.source), "current_stage": "None"}

    found = [v for v in versions if filters.matches(clauses, attributes(v), v.tags)]
    filters.sort_items(found, order, attributes)
    items, next_token = _page(found, _max_results(msg, 10_000), msg.text("page_token"))
    out: dict[str, Any] = {"model_versions": [model_version_json(v) for v in items]}
    if next_token:
        out["next_page_token"] = next_token
    return out


@routes.rpc("GET", "/model-versions/get-download-uri")
def get_download_uri(msg: Message, stores: Stores) -> dict[str, Any]:
    version = stores.registry.get_model_version(_name(msg), _version(msg))
    return {"artifact_uri": f"mlflow-artifacts:/{REGISTRY_ARTIFACT_ROOT}/{version.name}/{version.version}"}


@routes.rpc("PATCH", "/model-versions/update")
def update_model_version(msg: Message, stores: Stores) -> dict[str, Any]:
    version = stores.registry.update_model_version(_name(msg), _version(msg), msg.text("description"))
    return {"model_version": model_version_json(version)}


@routes.rpc("DELETE", "/model-versions/delete")
def delete_model_version(msg: Message, stores: Stores) -> dict[str, Any]:
    stores.registry.delete_model_version(_name(msg), _version(msg))
    return {}


@routes.rpc("POST", "/model-versions/set-tag")
def set_model_version_tag(msg: Message, stores: Stores) -> dict[str, Any]:
    key = user_tag_key(msg.text("key", required=True))
    stores.registry.set_model_version_tag(_name(msg), _version(msg), key, msg.text("value") or "")
    return {}


# -- aliases -------------------------------------------------------------------------------


@routes.rpc("POST", "/registered-models/alias")
def set_alias(msg: Message, stores: Stores) -> dict[str, Any]:
    stores.registry.set_alias(_name(msg), str(msg.text("alias", required=True)), _version(msg))
    return {}


@routes.rpc("GET", "/registered-models/alias")
def get_version_by_alias(msg: Message, stores: Stores) -> dict[str, Any]:
    name, alias = _name(msg), str(msg.text("alias", required=True))
    return {"model_version": model_version_json(stores.registry.get_version_by_alias(name, alias))}


@routes.rpc("DELETE", "/registered-models/alias")
def delete_alias(msg: Message, stores: Stores) -> dict[str, Any]:
    stores.registry.delete_alias(_name(msg), str(msg.text("alias", required=True)))
    return {}


def version_files(stores: Stores, name: str, version: str) -> list[Any]:
    """The files of ``name``/``version`` (NotFound for a malformed version)."""
    if not version.isdigit():
        raise NotFound(f"model version {name}/{version} not found", resource="model_version")
    return stores.registry.list_version_files(name, int(version))
