"""JSON form of the tracking entities, shared by ``shipyard server`` and the remote client.

JSON has no NaN or infinity, so non-finite metric values travel as the strings
``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` (MLflow's convention).
"""

from __future__ import annotations

import math
from typing import Any

from shipyard.errors import InvalidInput
from shipyard.tracking.entities import ArtifactInfo, Experiment, LogBatch, Metric, Page, Run, RunStatus

__all__ = [
    "batch_from_json",
    "batch_to_json",
    "decode_float",
    "encode_float",
    "experiment_from_json",
    "experiment_to_json",
    "metric_from_json",
    "metric_to_json",
    "page_to_json",
    "run_from_json",
    "run_to_json",
]


def encode_float(value: float) -> float | str:
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def decode_float(value: Any, field: str = "value") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidInput(f"{field} must be a number, got {value!r}", field=field)
    try:
        return float(value)
    except ValueError:
        raise InvalidInput(f"{field} must be a number, got {value!r}", field=field) from None


def experiment_to_json(exp: Experiment) -> dict[str, Any]:
    return {
        "id": exp.id, "name": exp.name, "artifact_location": exp.artifact_location,
        "lifecycle_stage": exp.lifecycle_stage, "created_at": exp.created_at,
        "updated_at": exp.updated_at, "tags": exp.tags,
    }


def experiment_from_json(data: dict[str, Any]) -> Experiment:
    return Experiment(**data)


def metric_to_json(m: Metric) -> dict[str, Any]:
    return {"key": m.key, "value": encode_float(m.value), "step": m.step, "timestamp": m.timestamp}


def metric_from_json(data: dict[str, Any]) -> Metric:
    return Metric(data["key"], decode_float(data["value"]), data["step"], data["timestamp"])


def run_to_json(run: Run) -> dict[str, Any]:
    return {
        "id": run.id, "experiment_id": run.experiment_id, "name": run.name,
        "status": run.status.value, "start_time": run.start_time, "end_time": run.end_time,
        "parent_run_id": run.parent_run_id, "lifecycle_stage": run.lifecycle_stage,
        "user": run.user, "params": run.params, "tags": run.tags,
        "metrics": {k: metric_to_json(m) for k, m in run.metrics.items()},
        "environment": run.environment,
    }


def run_from_json(data: dict[str, Any]) -> Run:
    data = dict(data)
    data["status"] = RunStatus(data["status"])
    data["metrics"] = {k: metric_from_json(m) for k, m in data["metrics"].items()}
    return Run(**data)


def artifact_to_json(info: ArtifactInfo) -> dict[str, Any]:
    return {"path": info.path, "digest": info.digest, "size": info.size}


def artifact_from_json(data: dict[str, Any]) -> ArtifactInfo:
    return ArtifactInfo(data["path"], data["digest"], data["size"])


def page_to_json(page: Page, encode: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"items": [encode(item) for item in page.items]}
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return out


def batch_to_json(batch: LogBatch) -> dict[str, Any]:
    return {
        "metrics": [[r, k, encode_float(v), ts, s] for r, k, v, ts, s in batch.metrics],
        "params": [list(p) for p in batch.params],
        "tags": [list(t) for t in batch.tags],
    }


def batch_from_json(data: dict[str, Any]) -> LogBatch:
    """Rebuild a batch from JSON, checking every entry's shape (bad input → InvalidInput)."""
    try:
        metrics = [
            (str(r), str(k), decode_float(v, f"metrics[{i}].value"), int(ts), int(s))
            for i, (r, k, v, ts, s) in enumerate(data.get("metrics", []))
        ]
        params = [(str(r), str(k), str(v)) for r, k, v in data.get("params", [])]
        tags = [(str(r), str(k), str(v)) for r, k, v in data.get("tags", [])]
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"log batch entries must be [run_id, key, value, timestamp, step] (metrics) or "
            f"[run_id, key, value] (params, tags): {exc}",
            field="batch",
        ) from None
    return LogBatch(metrics, params, tags)
