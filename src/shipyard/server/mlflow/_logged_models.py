"""MLflow 3's LoggedModels, kept in Shipyard's tracking tables without a schema of their own.

``mlflow.<flavor>.log_model`` creates a LoggedModel, uploads the package to the model's
``artifact_uri`` and marks it READY; registering it later names ``models:/<model_id>``.
Shipyard has no LoggedModel entity, so this face maps one onto what it has:

* **the record** (name, source run, status, tags, params, times) is one JSON experiment
  tag, ``shipyard.mlflow.model.<model_id>``. Experiment tags stay writable after the
  run ends, which registration needs (it tags the model with its versions);
* **the files** are artifacts of a run: of the source run, under the model's name
  (``model/MLmodel``…, exactly where Shipyard's own ``log_model`` puts a package, so
  ``runs:/<run>/model`` loads and registers in Shipyard too), or ``<name>-<id>`` when
  the run already holds that folder. A model logged outside any run gets a
  finished *carrier* run of its own, tagged ``shipyard.mlflow.logged_model`` and left
  out of MLflow's run searches;
* **model ids** are ``m-<experiment id>-<32 hex>``, so a model is found from its id alone.

Metrics that MLflow links to a model are kept as the run's metrics (the model's own
``metrics`` list stays empty); the record is rewritten whole on each change, so two
clients tagging one model at the same instant may lose one tag.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import orjson

from shipyard.errors import InvalidInput, NotFound
from shipyard.server.mlflow import _filters as filters
from shipyard.server.mlflow._wire import INTERNAL_PREFIX, run_artifact_uri, tag_list
from shipyard.store.artifacts import safe_relpath
from shipyard.tracking import Page, RunStatus, TrackingStore, now_ms
from shipyard.tracking._search import decode_page_token, encode_page_token

__all__ = ["CARRIER_TAG", "MODEL_TAG_PREFIX", "STATUSES", "LoggedModel", "LoggedModels"]

MODEL_TAG_PREFIX = f"{INTERNAL_PREFIX}model."
CARRIER_TAG = f"{INTERNAL_PREFIX}logged_model"
STATUSES = ("LOGGED_MODEL_STATUS_UNSPECIFIED", "LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY",
            "LOGGED_MODEL_UPLOAD_FAILED")  # fmt: skip; proto enum order: a status may arrive as its index
_FIELDS = ("model_id", "name", "model_type", "status", "source_run_id", "creation_timestamp",
           "last_updated_timestamp", "creation_time", "last_updated_time")  # fmt: skip


@dataclass(frozen=True)
class LoggedModel:
    """One LoggedModel; ``run_id``/``path`` locate its files among a run's artifacts."""

    model_id: str
    experiment_id: str
    name: str
    run_id: str
    path: str
    source_run_id: str | None = None
    status: str = "LOGGED_MODEL_PENDING"
    status_message: str = ""
    model_type: str = ""
    created: int = 0
    updated: int = 0
    deleted: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)

    @property
    def artifact_uri(self) -> str:
        return f"{run_artifact_uri(self.experiment_id, self.run_id)}/{self.path}"

    @property
    def source(self) -> str:
        """The package as a Shipyard model URI (what the registry registers)."""
        return f"runs:/{self.run_id}/{self.path}"

    def to_mlflow(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "model_id": self.model_id, "experiment_id": self.experiment_id, "name": self.name,
            "creation_timestamp_ms": self.created, "last_updated_timestamp_ms": self.updated,
            "artifact_uri": self.artifact_uri, "status": self.status, "model_type": self.model_type,
            "status_message": self.status_message, "tags": tag_list(self.tags),
        }
        if self.source_run_id:
            info["source_run_id"] = self.source_run_id
        params = [{"key": k, "value": v} for k, v in self.params.items()]
        return {"info": info, "data": {"params": params, "metrics": []}}

    def attributes(self) -> dict[str, Any]:
        """The fields MLflow's logged-model filters and orderings name."""
        return {"model_id": self.model_id, "name": self.name, "model_type": self.model_type,
                "status": self.status, "source_run_id": self.source_run_id,
                "creation_timestamp": self.created, "creation_time": self.created,
                "last_updated_timestamp": self.updated, "last_updated_time": self.updated}


def _experiment_of(model_id: str) -> str:
    parts = model_id.split("-") if isinstance(model_id, str) else []
    if len(parts) != 3 or parts[0] != "m" or not parts[1].isdigit() or len(parts[2]) != 32:
        raise NotFound(f"Logged model with ID '{model_id}' not found.", resource="logged_model",
                       model_id=str(model_id))
    return parts[1]


def status_name(value: Any) -> str:
    """A LoggedModelStatus given as its name or its proto number."""
    if isinstance(value, str) and value in STATUSES:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < len(STATUSES):
        return STATUSES[value]
    if isinstance(value, str) and value.isdigit() and 0 < int(value) < len(STATUSES):
        return STATUSES[int(value)]
    raise InvalidInput(f"Invalid logged model status {value!r}; expected one of {STATUSES[1:]}", field="status")


class LoggedModels:
    """LoggedModels over a :class:`TrackingStore`, as the module docstring lays out."""

    def __init__(self, tracking: TrackingStore) -> None:
        self.tracking = tracking

    def _save(self, model: LoggedModel) -> LoggedModel:
        value = orjson.dumps(asdict(model)).decode()
        self.tracking.set_experiment_tag(model.experiment_id, MODEL_TAG_PREFIX + model.model_id, value)
        return model

    def _records(self, experiment_id: str) -> list[LoggedModel]:
        tags = self.tracking.get_experiment(experiment_id).tags
        return [LoggedModel(**orjson.loads(v)) for k, v in tags.items() if k.startswith(MODEL_TAG_PREFIX)]

    def create(self, experiment_id: str, name: str | None, *, source_run_id: str | None = None,
               model_type: str = "", params: dict[str, str] | None = None,
               tags: dict[str, str] | None = None) -> LoggedModel:
        """A PENDING model whose files go to ``source_run_id``'s artifacts (or a carrier run's)."""
        exp = self.tracking.get_experiment(experiment_id)
        model_id = f"m-{exp.id}-{uuid.uuid4().hex}"
        name = name or f"model-{model_id[-8:]}"
        if "/" in name or safe_relpath(name) != name:  # the name is a folder among the run's artifacts
            raise InvalidInput(f"Invalid model name {name!r}: it must be a plain folder name", field="name")
        if source_run_id:
            run = self.tracking.get_run(source_run_id)
            if run.experiment_id != exp.id:
                raise InvalidInput(f"run {source_run_id!r} belongs to experiment {run.experiment_id}, "
                                   f"not {exp.id}", field="source_run_id")
            taken = {m.path for m in self._records(exp.id) if m.run_id == run.id}
            taken |= {a.path.split("/", 1)[0] for a in self.tracking.list_artifacts(run.id)}
            path = name if name not in taken else f"{name}-{model_id[-8:]}"
            holder = run.id
        else:
            carrier = self.tracking.create_run(exp.id, name=name, tags={CARRIER_TAG: model_id})
            self.tracking.update_run(carrier.id, status=RunStatus.FINISHED)
            path, holder = name, carrier.id
        now = now_ms()
        model = LoggedModel(model_id, exp.id, name, holder, path, source_run_id or None,
                            model_type=model_type or "", created=now, updated=now,
                            tags=dict(tags or {}), params=dict(params or {}))
        return self._save(model)

    def get(self, model_id: str, allow_deleted: bool = False) -> LoggedModel:
        value = self.tracking.get_experiment(_experiment_of(model_id)).tags.get(MODEL_TAG_PREFIX + model_id)
        if value is None:
            raise NotFound(f"Logged model with ID '{model_id}' not found.", resource="logged_model",
                           model_id=model_id)
        model = LoggedModel(**orjson.loads(value))
        if model.deleted and not allow_deleted:
            raise NotFound(f"Logged model with ID '{model_id}' not found.", resource="logged_model",
                           model_id=model_id)
        return model

    def update(self, model_id: str, **changes: Any) -> LoggedModel:
        """Apply ``changes`` (dataclass fields; ``tags``/``params`` are merged in)."""
        model = self.get(model_id)
        for name in ("tags", "params"):
            if name in changes:
                changes[name] = {**getattr(model, name), **changes[name]}
        return self._save(replace(model, updated=now_ms(), **changes))

    def delete_tag(self, model_id: str, key: str) -> None:
        model = self.get(model_id)
        if key not in model.tags:
            raise NotFound(f"No tag with key {key!r} on logged model {model_id!r}", resource="tag", key=key)
        self._save(replace(model, tags={k: v for k, v in model.tags.items() if k != key}, updated=now_ms()))

    def by_source_run(self, experiment_id: str) -> dict[str, list[str]]:
        """The ids of the experiment's models by source run (what MLflow shows as run outputs)."""
        out: dict[str, list[str]] = {}
        for m in self._records(experiment_id):
            if m.source_run_id and not m.deleted:
                out.setdefault(m.source_run_id, []).append(m.model_id)
        return out

    def search(self, experiment_ids: list[str], filter: str | None, order_by: list[tuple[str, bool]],
               max_results: int, page_token: str | None) -> Page:
        clauses = filters.parse(filter)
        found = [m for e in dict.fromkeys(experiment_ids) for m in self._records(e)
                 if not m.deleted and filters.matches(clauses, m.attributes(), m.tags, m.params)]
        keys = order_by or [("creation_timestamp", False)]
        unknown = [f for f, _ in keys if f not in _FIELDS]
        if unknown:
            raise InvalidInput(f"cannot order logged models by {unknown[0]!r}; use one of {_FIELDS}",
                               field="order_by")
        found.sort(key=lambda m: m.model_id)
        filters.sort_items(found, keys, LoggedModel.attributes)
        offset = decode_page_token(page_token)
        page = found[offset: offset + max_results]
        more = offset + max_results < len(found)
        return Page(page, encode_page_token(offset + max_results) if more else None)
