"""MLflow's experiment RPCs under ``/api/2.0/mlflow/experiments``, on Shipyard's tracking store.

Experiments are Shipyard experiments (ids are strings of digits, ``"0"`` is the
default). Shipyard keeps every artifact in its own store, so an experiment's artifact
location is always ``mlflow-artifacts:/<id>``; asking for another location is refused
rather than silently ignored.
"""

from __future__ import annotations

from typing import Any

from shipyard.errors import InvalidInput
from shipyard.server.mlflow import _filters as filters
from shipyard.server.mlflow._routing import Message, Routes, Stores
from shipyard.server.mlflow._wire import INTERNAL_PREFIX, experiment_json, user_tag_key
from shipyard.tracking import Experiment
from shipyard.tracking._search import decode_page_token, encode_page_token

__all__ = ["routes", "view_type"]

routes = Routes("/api/2.0/mlflow")

_VIEW_TYPES = {"ACTIVE_ONLY": "active", "DELETED_ONLY": "deleted", "ALL": "all",
               "1": "active", "2": "deleted", "3": "all"}  # fmt: skip
_ORDER_FIELDS = ("name", "experiment_id", "creation_time", "last_update_time")


def view_type(msg: Message, field: str) -> str:
    """``active``, ``deleted`` or ``all`` from MLflow's ViewType (name or number)."""
    value = msg.raw(field)
    raw = "ACTIVE_ONLY" if value is None else str(value)
    try:
        return _VIEW_TYPES[raw.upper()]
    except KeyError:
        raise InvalidInput(f"Invalid value {raw!r} for parameter '{field}'", field=field) from None


def _experiment_id(msg: Message) -> str:
    return str(msg.text("experiment_id", required=True))


@routes.rpc("GET", "/experiments/get-by-name")
def get_experiment_by_name(msg: Message, stores: Stores) -> dict[str, Any]:
    name = str(msg.text("experiment_name", required=True))
    return {"experiment": experiment_json(stores.tracking.get_experiment_by_name(name))}


@routes.rpc("POST", "/experiments/create")
def create_experiment(msg: Message, stores: Stores) -> dict[str, Any]:
    name = str(msg.text("name", required=True))
    location = msg.text("artifact_location")
    if location and not location.startswith("mlflow-artifacts:"):
        raise InvalidInput(
            f"artifact_location {location!r} is not supported: Shipyard keeps every artifact in its own "
            "store and serves them at mlflow-artifacts:/<experiment id>; leave artifact_location unset",
            field="artifact_location",
        )
    tags = {user_tag_key(k, "tags"): v for k, v in msg.pairs("tags").items()}
    exp = stores.tracking.create_experiment(name, tags or None)
    return {"experiment_id": exp.id}


@routes.rpc("GET", "/experiments/get")
def get_experiment(msg: Message, stores: Stores) -> dict[str, Any]:
    return {"experiment": experiment_json(stores.tracking.get_experiment(_experiment_id(msg)))}


def _search(msg: Message, stores: Stores) -> dict[str, Any]:
    view = view_type(msg, "view_type")
    max_results = msg.integer("max_results", default=1000) or 1000
    if not 1 <= max_results <= 50_000:
        raise InvalidInput(f"Invalid value {max_results} for parameter 'max_results': must be 1-50000",
                           field="max_results")
    clauses = filters.parse(msg.text("filter"))
    order = filters.sort_key(msg.strings("order_by") or ["creation_time DESC", "experiment_id ASC"],
                             _ORDER_FIELDS)

    def attributes(e: Experiment) -> dict[str, Any]:
        return {"name": e.name, "experiment_id": int(e.id), "creation_time": e.created_at,
                "last_update_time": e.updated_at}

    found = [e for e in stores.tracking.list_experiments(include_deleted=view != "active")
             if (view != "deleted" or e.lifecycle_stage == "deleted")
             and filters.matches(clauses, attributes(e),
                                 {k: v for k, v in e.tags.items() if not k.startswith(INTERNAL_PREFIX)})]
    filters.sort_items(found, order, attributes)
    offset = decode_page_token(msg.text("page_token"))
    out: dict[str, Any] = {"experiments": [experiment_json(e) for e in found[offset: offset + max_results]]}
    if offset + max_results < len(found):
        out["next_page_token"] = encode_page_token(offset + max_results)
    return out


routes.rpc("POST", "/experiments/search")(_search)
routes.rpc("GET", "/experiments/search")(_search)


@routes.rpc("POST", "/experiments/delete")
def delete_experiment(msg: Message, stores: Stores) -> dict[str, Any]:
    stores.tracking.update_experiment(_experiment_id(msg), lifecycle_stage="deleted")
    return {}


@routes.rpc("POST", "/experiments/restore")
def restore_experiment(msg: Message, stores: Stores) -> dict[str, Any]:
    stores.tracking.update_experiment(_experiment_id(msg), lifecycle_stage="active")
    return {}


@routes.rpc("POST", "/experiments/update")
def update_experiment(msg: Message, stores: Stores) -> dict[str, Any]:
    stores.tracking.update_experiment(_experiment_id(msg), name=msg.text("new_name", required=True))
    return {}


@routes.rpc("POST", "/experiments/set-experiment-tag")
def set_experiment_tag(msg: Message, stores: Stores) -> dict[str, Any]:
    key = user_tag_key(msg.text("key", required=True))
    stores.tracking.set_experiment_tag(_experiment_id(msg), key, msg.text("value") or "")
    return {}
