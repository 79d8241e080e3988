"""Shipyard entities in MLflow's JSON (the protobuf JSON the MLflow client parses).

Conventions the client relies on: ids and versions are strings, times are integer
milliseconds, a non-finite metric value is the string ``"NaN"``, ``"Infinity"`` or
``"-Infinity"``, and an absent field is simply left out (an empty ``next_page_token``
must not appear). Experiments' artifact locations are ``mlflow-artifacts:/<id>`` and
runs' ``mlflow-artifacts:/<experiment>/<run>/artifacts``, so the client sends every
artifact through the server's proxy (see :mod:`shipyard.server.mlflow._artifacts`).

Tags whose key starts with :data:`INTERNAL_PREFIX` hold this face's own bookkeeping
(logged models, a version's original MLflow source) and are never shown to MLflow.
MLflow's ``mlflow.runName`` tag is Shipyard's run name, not a stored tag.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shipyard.errors import InvalidInput
from shipyard.registry import ModelVersion, RegisteredModel
from shipyard.tracking import Experiment, Metric, Run, validate_key
from shipyard.tracking._codec import encode_float

__all__ = [
    "INTERNAL_PREFIX",
    "RUN_NAME_TAG",
    "experiment_json",
    "experiment_uri",
    "metric_json",
    "model_version_json",
    "registered_model_json",
    "run_artifact_uri",
    "run_info_json",
    "run_json",
    "tag_list",
    "user_tag_key",
]

INTERNAL_PREFIX = "shipyard.mlflow."
RUN_NAME_TAG = "mlflow.runName"
ARTIFACTS_SCHEME = "mlflow-artifacts:/"


def user_tag_key(key: Any, field: str = "key") -> str:
    """A legal tag key that is not reserved for this face's bookkeeping (InvalidInput otherwise)."""
    key = validate_key(key, field)
    if key.startswith(INTERNAL_PREFIX):
        raise InvalidInput(f"tag keys starting with {INTERNAL_PREFIX!r} are reserved by Shipyard", field=field)
    return key


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """``[{key, value}]`` of the tags MLflow may see."""
    return [{"key": k, "value": v} for k, v in tags.items() if not k.startswith(INTERNAL_PREFIX)]


def experiment_uri(experiment_id: str) -> str:
    return f"{ARTIFACTS_SCHEME}{experiment_id}"


def run_artifact_uri(experiment_id: str, run_id: str) -> str:
    return f"{ARTIFACTS_SCHEME}{experiment_id}/{run_id}/artifacts"


def experiment_json(exp: Experiment) -> dict[str, Any]:
    return {
        "experiment_id": exp.id,
        "name": exp.name,
        "artifact_location": experiment_uri(exp.id),
        "lifecycle_stage": exp.lifecycle_stage,
        "last_update_time": exp.updated_at,
        "creation_time": exp.created_at,
        "tags": tag_list(exp.tags),
    }


def metric_json(m: Metric, run_id: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"key": m.key, "value": encode_float(m.value), "timestamp": m.timestamp, "step": m.step}
    if run_id is not None:
        out["run_id"] = run_id
    return out


def run_info_json(run: Run) -> dict[str, Any]:
    info: dict[str, Any] = {
        "run_id": run.id,
        "run_uuid": run.id,
        "run_name": run.name,
        "experiment_id": run.experiment_id,
        "user_id": run.user or "",
        "status": run.status.value,
        "start_time": run.start_time,
        "artifact_uri": run_artifact_uri(run.experiment_id, run.id),
        "lifecycle_stage": run.lifecycle_stage,
    }
    if run.end_time is not None:
        info["end_time"] = run.end_time
    return info


def run_json(run: Run, model_outputs: Iterable[tuple[str, int]] = ()) -> dict[str, Any]:
    """A run with its data; ``model_outputs`` are the (model id, step) it logged."""
    tags = tag_list(run.tags)
    tags.append({"key": RUN_NAME_TAG, "value": run.name})
    out: dict[str, Any] = {
        "info": run_info_json(run),
        "data": {
            "metrics": [metric_json(m) for m in run.metrics.values()],
            "params": [{"key": k, "value": v} for k, v in run.params.items()],
            "tags": tags,
        },
        "inputs": {},
    }
    outputs = [{"model_id": model_id, "step": step} for model_id, step in model_outputs]
    out["outputs"] = {"model_outputs": outputs} if outputs else {}
    return out


def model_version_json(v: ModelVersion) -> dict[str, Any]:
    """A version as MLflow shows it: always READY, stage "None", the MLflow source it was
    registered from when it came through this face."""
    out: dict[str, Any] = {
        "name": v.name,
        "version": str(v.version),
        "creation_timestamp": v.created_at,
        "last_updated_timestamp": v.updated_at,
        "user_id": v.user or "",
        "current_stage": "None",
        "description": v.description or "",
        "source": v.tags.get(f"{INTERNAL_PREFIX}source", v.source),
        "run_id": v.run_id or "",
        "status": "READY",
        "tags": tag_list(v.tags),
        "aliases": list(v.aliases),
    }
    model_id = v.tags.get(f"{INTERNAL_PREFIX}model_id")
    if model_id:
        out["model_id"] = model_id
    return out


def registered_model_json(model: RegisteredModel, latest: ModelVersion | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": model.name,
        "creation_timestamp": model.created_at,
        "last_updated_timestamp": model.updated_at,
        "description": model.description or "",
        "tags": tag_list(model.tags),
        "aliases": [{"alias": a, "version": str(v)} for a, v in sorted(model.aliases.items())],
    }
    if latest is not None:
        out["latest_versions"] = [model_version_json(latest)]
    return out
