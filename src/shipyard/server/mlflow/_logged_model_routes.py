"""MLflow 3's LoggedModel RPCs under ``/api/2.0/mlflow/logged-models`` (see :mod:`.logged_models`)."""

from __future__ import annotations

from typing import Any

from shipyard.errors import InvalidInput
from shipyard.server.mlflow._logged_models import LoggedModels, status_name
from shipyard.server.mlflow._routing import Message, Routes, Stores
from shipyard.server.mlflow._wire import user_tag_key
from shipyard.tracking import validate_key

__all__ = ["routes"]

routes = Routes("/api/2.0/mlflow")


def _model_id(msg: Message) -> str:
    return str(msg.text("model_id", required=True))


def _tags(msg: Message) -> dict[str, str]:
    return {user_tag_key(k, "tags"): v for k, v in msg.pairs("tags").items()}


@routes.rpc("POST", "/logged-models")
def create_logged_model(msg: Message, stores: Stores) -> dict[str, Any]:
    model = LoggedModels(stores.tracking).create(
        str(msg.text("experiment_id", required=True)), msg.text("name"),
        source_run_id=msg.text("source_run_id"), model_type=msg.text("model_type") or "",
        params=msg.pairs("params"), tags=_tags(msg),
    )
    return {"model": model.to_mlflow()}


@routes.rpc("POST", "/logged-models/search")
def search_logged_models(msg: Message, stores: Stores) -> dict[str, Any]:
    experiment_ids = msg.strings("experiment_ids")
    if not experiment_ids:
        raise InvalidInput("Missing value for required parameter 'experiment_ids'", field="experiment_ids")
    order = []
    for item in msg.objects("order_by"):
        if not isinstance(item.get("field_name"), str):
            raise InvalidInput("order_by entries need a 'field_name'", field="order_by")
        order.append((item["field_name"].removeprefix("attributes."), item.get("ascending", True) is not False))
    max_results = msg.integer("max_results", default=100) or 100
    page = LoggedModels(stores.tracking).search(experiment_ids, msg.text("filter"), order, max_results,
                                                msg.text("page_token"))
    out: dict[str, Any] = {"models": [m.to_mlflow() for m in page.items]}
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return out


@routes.rpc("GET", "/logged-models/{model_id}")
def get_logged_model(msg: Message, stores: Stores) -> dict[str, Any]:
    model = LoggedModels(stores.tracking).get(_model_id(msg), allow_deleted=msg.boolean("allow_deleted"))
    return {"model": model.to_mlflow()}


@routes.rpc("PATCH", "/logged-models/{model_id}")
def finalize_logged_model(msg: Message, stores: Stores) -> dict[str, Any]:
    model = LoggedModels(stores.tracking).update(_model_id(msg), status=status_name(msg.raw("status")))
    return {"model": model.to_mlflow()}


@routes.rpc("DELETE", "/logged-models/{model_id}")
def delete_logged_model(msg: Message, stores: Stores) -> dict[str, Any]:
    LoggedModels(stores.tracking).update(_model_id(msg), deleted=True)
    return {}


@routes.rpc("PATCH", "/logged-models/{model_id}/tags")
def set_logged_model_tags(msg: Message, stores: Stores) -> dict[str, Any]:
    LoggedModels(stores.tracking).update(_model_id(msg), tags=_tags(msg))
    return {}


@routes.rpc("DELETE", "/logged-models/{model_id}/tags/{tag_key:path}")
def delete_logged_model_tag(msg: Message, stores: Stores) -> dict[str, Any]:
    LoggedModels(stores.tracking).delete_tag(_model_id(msg), str(msg.text("tag_key", required=True)))
    return {}


@routes.rpc("POST", "/logged-models/{model_id}/params")
def log_logged_model_params(msg: Message, stores: Stores) -> dict[str, Any]:
    params = msg.pairs("params")
    for key in params:
        validate_key(key, "params")
    LoggedModels(stores.tracking).update(_model_id(msg), params=params)
    return {}
