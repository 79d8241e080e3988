"""MLflow's run RPCs under ``/api/2.0/mlflow/runs`` and ``/metrics``, on Shipyard's tracking store.

A run logged here is an ordinary Shipyard run. Differences the client cannot see:
MLflow's ``mlflow.runName`` tag is the run's name (setting the tag renames the run,
and filters or orderings on it use the name); ``user_id`` is the run's user. Limits
are MLflow's: a log-batch carries at most 1000 metrics, 100 params, 100 tags and 1000
entries in all (the client splits bigger batches itself); a param value at most 6000
characters and a tag value 8000, unless the server's configuration says otherwise (a
longer one is refused with 413 INVALID_PARAMETER_VALUE, not cut as MLflow's server
does). As on MLflow's server, a finished run still takes metrics, params and tags
(Shipyard's own clients refuse that). Points that MLflow re-sends to link
them to a logged model are written once: a point identical to a stored one is not
stored again.
"""

from __future__ import annotations

import re
from typing import Any

from shipyard.errors import InvalidInput
from shipyard.server.mlflow._experiments import view_type
from shipyard.server.mlflow._logged_models import CARRIER_TAG, LoggedModels
from shipyard.server.mlflow._routing import Message, Routes, Stores, number
from shipyard.server.mlflow._wire import RUN_NAME_TAG, metric_json, run_info_json, run_json, user_tag_key
from shipyard.tracking import LogBatch, Run, RunStatus, validate_key, validate_run_id

__all__ = ["rewrite_search_text", "routes"]

routes = Routes("/api/2.0/mlflow")

MAX_METRICS, MAX_PARAMS, MAX_TAGS, MAX_ENTRIES = 1000, 100, 100, 1000
_STATUS_NUMBERS = {"1": "RUNNING", "2": "SCHEDULED", "3": "FINISHED", "4": "FAILED", "5": "KILLED"}
# MLflow names a run's fields differently from Shipyard's search; quoted text is matched
# first so that a literal containing "tags.mlflow.runName" is left alone.
_SEARCH_NAMES = re.compile(
    r"""(?P<quoted>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")"""
    r"""|(?P<name>\btags?\.(?:`mlflow\.runName`|"mlflow\.runName"|mlflow\.runName\b))"""
    r"""|(?P<user>(?<![\w.`])(?:(?:attributes?|attr|run)\.)?user_id\b)"""
)


def rewrite_search_text(text: str) -> str:
    """MLflow's run-search names in Shipyard's: ``tags.mlflow.runName`` → ``attributes.run_name``,
    ``user_id`` → ``attributes.user``.

    >>> rewrite_search_text("tags.mlflow.runName = 'tags.mlflow.runName' and user_id = 'ann'")
    "attributes.run_name = 'tags.mlflow.runName' and attributes.user = 'ann'"
    """

    def swap(m: re.Match[str]) -> str:
        if m.group("name"):
            return "attributes.run_name"
        if m.group("user"):
            return "attributes.user"
        return m.group(0)

    return _SEARCH_NAMES.sub(swap, text)


def _run_id(msg: Message) -> str:
    return validate_run_id(msg.text("run_id") or msg.text("run_uuid", required=True))


def _status(value: Any) -> RunStatus:
    text = str(value).upper()
    try:
        return RunStatus(_STATUS_NUMBERS.get(text, text))
    except ValueError:
        raise InvalidInput(f"Invalid run status {value!r}; expected one of {[s.value for s in RunStatus]}",
                           field="status") from None


def _param_value(key: str, value: Any) -> str:
    # Its length is the tracking store's to check, with the server's configured limit.
    return value if isinstance(value, str) else str(value)


def _run_json(stores: Stores, run: Run) -> dict[str, Any]:
    models = LoggedModels(stores.tracking).by_source_run(run.experiment_id).get(run.id, [])
    return run_json(run, [(m, 0) for m in models])


@routes.rpc("POST", "/runs/create")
def create_run(msg: Message, stores: Stores) -> dict[str, Any]:
    tags = {user_tag_key(k): v for k, v in msg.pairs("tags").items()}
    name = msg.text("run_name")
    tag_name = tags.pop(RUN_NAME_TAG, None)
    if name and tag_name and name != tag_name:
        raise InvalidInput(f"Both 'run_name' argument and 'mlflow.runName' tag are specified, but with "
                           f"different values (run_name={name!r}, mlflow.runName={tag_name!r}).", field="run_name")
    run = stores.tracking.create_run(
        msg.text("experiment_id") or "0", name=name or tag_name or None, start_time=msg.integer("start_time"),
        tags=tags or None, user=msg.text("user_id"),
    )
    return {"run": run_json(run)}


@routes.rpc("GET", "/runs/get")
def get_run(msg: Message, stores: Stores) -> dict[str, Any]:
    return {"run": _run_json(stores, stores.tracking.get_run(_run_id(msg)))}


@routes.rpc("POST", "/runs/update")
def update_run(msg: Message, stores: Stores) -> dict[str, Any]:
    status = msg.raw("status")
    run = stores.tracking.update_run(
        _run_id(msg), status=None if status is None else _status(status), end_time=msg.integer("end_time"),
        name=msg.text("run_name"),
    )
    return {"run_info": run_info_json(run)}


@routes.rpc("POST", "/runs/delete")
def delete_run(msg: Message, stores: Stores) -> dict[str, Any]:
    stores.tracking.update_run(_run_id(msg), lifecycle_stage="deleted")
    return {}


@routes.rpc("POST", "/runs/restore")
def restore_run(msg: Message, stores: Stores) -> dict[str, Any]:
    stores.tracking.update_run(_run_id(msg), lifecycle_stage="active")
    return {}


@routes.rpc("POST", "/runs/log-metric")
def log_metric(msg: Message, stores: Stores) -> dict[str, Any]:
    run_id = _run_id(msg)
    key = validate_key(msg.text("key", required=True))
    point = (run_id, key, number(msg.raw("value"), "value"), msg.integer("timestamp", required=True) or 0,
             msg.integer("step", default=0) or 0)
    points = [point]
    if msg.text("model_id"):
        points = _without_stored(stores, run_id, points)
    if points:
        stores.tracking.log_batch(LogBatch(metrics=points), allow_finished=True)
    return {}


@routes.rpc("POST", "/runs/log-parameter")
def log_param(msg: Message, stores: Stores) -> dict[str, Any]:
    run_id = _run_id(msg)
    key = validate_key(msg.text("key", required=True), "key")
    value = _param_value(key, msg.raw("value") if msg.raw("value") is not None else "")
    stores.tracking.log_batch(LogBatch(params=[(run_id, key, value)]), allow_finished=True)
    return {}


def _set_tags(stores: Stores, run_id: str, tags: dict[str, str]) -> list[tuple[str, str, str]]:
    """Tags to store; a ``mlflow.runName`` tag renames the run instead."""
    name = tags.pop(RUN_NAME_TAG, None)
    if name is not None:
        stores.tracking.update_run(run_id, name=name)
    return [(run_id, k, v) for k, v in tags.items()]


@routes.rpc("POST", "/runs/set-tag")
def set_tag(msg: Message, stores: Stores) -> dict[str, Any]:
    run_id = _run_id(msg)
    key = user_tag_key(msg.text("key", required=True))
    tags = _set_tags(stores, run_id, {key: msg.text("value") or ""})
    if tags:
        stores.tracking.log_batch(LogBatch(tags=tags), allow_finished=True)
    return {}


@routes.rpc("POST", "/runs/delete-tag")
def delete_tag(msg: Message, stores: Stores) -> dict[str, Any]:
    stores.tracking.delete_tag(_run_id(msg), user_tag_key(msg.text("key", required=True)))
    return {}


def _without_stored(stores: Stores, run_id: str, points: list[tuple[str, str, float, int, int]]
                    ) -> list[tuple[str, str, float, int, int]]:
    """``points`` less those already stored (MLflow re-sends a run's points to link a model)."""
    stored: dict[str, set[tuple[int, int, str]]] = {}
    kept = []
    for point in points:
        _, key, value, ts, step = point
        if key not in stored:
            history = stores.tracking.get_metric_history(run_id, key).items
            stored[key] = {(m.step, m.timestamp, repr(m.value)) for m in history}
        if (step, ts, repr(value)) not in stored[key]:
            kept.append(point)
    return kept


@routes.rpc("POST", "/runs/log-batch")
def log_batch(msg: Message, stores: Stores) -> dict[str, Any]:
    run_id = _run_id(msg)
    metrics, params, tags = msg.objects("metrics"), msg.objects("params"), msg.objects("tags")
    if len(metrics) > MAX_METRICS or len(params) > MAX_PARAMS or len(tags) > MAX_TAGS \
            or len(metrics) + len(params) + len(tags) > MAX_ENTRIES:
        raise InvalidInput(
            f"A batch logging request can contain at most {MAX_METRICS} metrics, {MAX_PARAMS} params, "
            f"{MAX_TAGS} tags and {MAX_ENTRIES} entries in all; got {len(metrics)} metrics, {len(params)} "
            f"params and {len(tags)} tags", field="log_batch")
    points: list[tuple[str, str, float, int, int]] = []
    linked: list[tuple[str, str, float, int, int]] = []
    for i, m in enumerate(metrics):
        key = validate_key(m.get("key"), f"metrics[{i}].key")
        try:
            point = (run_id, key, number(m.get("value"), f"metrics[{i}].value"), int(m["timestamp"]),
                     int(m.get("step") or 0))
        except (KeyError, TypeError, ValueError):
            raise InvalidInput(f"metrics[{i}] needs an integer timestamp and step", field="metrics") from None
        (linked if m.get("model_id") else points).append(point)
    if linked:
        points += _without_stored(stores, run_id, linked)
    param_rows = [(run_id, validate_key(k, "param"), _param_value(k, v)) for k, v in msg.pairs("params").items()]
    tag_rows = _set_tags(stores, run_id, {user_tag_key(k): v for k, v in msg.pairs("tags").items()})
    stores.tracking.log_batch(LogBatch(points, param_rows, tag_rows), allow_finished=True)
    return {}


@routes.rpc("POST", "/runs/search")
def search_runs(msg: Message, stores: Stores) -> dict[str, Any]:
    view = view_type(msg, "run_view_type")
    text = rewrite_search_text(msg.text("filter") or "")
    if view == "deleted":
        text = f"{text} and attributes.lifecycle_stage = 'deleted'" if text.strip() else \
            "attributes.lifecycle_stage = 'deleted'"
    order = [rewrite_search_text(o) for o in msg.strings("order_by")]
    page = stores.tracking.search_runs(
        msg.strings("experiment_ids"), text or None, order or None, msg.integer("max_results", default=1000) or 1000,
        msg.text("page_token"), include_deleted=view != "active",
    )
    models = LoggedModels(stores.tracking)
    outputs: dict[str, dict[str, list[str]]] = {}  # experiment -> run -> model ids
    runs = []
    for run in page.items:
        if CARRIER_TAG in run.tags:  # holds a run-less logged model's files; not a run to MLflow
            continue
        if run.experiment_id not in outputs:
            outputs[run.experiment_id] = models.by_source_run(run.experiment_id)
        runs.append(run_json(run, [(m, 0) for m in outputs[run.experiment_id].get(run.id, [])]))
    out: dict[str, Any] = {"runs": runs}
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return out


@routes.rpc("GET", "/metrics/get-history")
def get_metric_history(msg: Message, stores: Stores) -> dict[str, Any]:
    run_id = _run_id(msg)
    key = str(msg.text("metric_key", required=True))
    max_results = msg.integer("max_results")
    if max_results is not None and max_results <= 0:
        raise InvalidInput(f"Invalid value {max_results} for parameter 'max_results' supplied. "
                           "It must be a positive integer.", field="max_results")
    page = stores.tracking.get_metric_history(run_id, key, page_token=msg.text("page_token"),
                                              max_results=max_results)
    out: dict[str, Any] = {"metrics": [metric_json(m, run_id) for m in page.items]}
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return out


@routes.rpc("POST", "/runs/outputs")
def log_outputs(msg: Message, stores: Stores) -> dict[str, Any]:
    run_id = _run_id(msg)
    stores.tracking.get_run(run_id)
    models = LoggedModels(stores.tracking)
    for item in msg.objects("models"):
        models.get(str(item.get("model_id", "")))
    return {}
