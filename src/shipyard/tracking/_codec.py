"""JSON form of the tracking entities, shared by ``shipyard server`` and the remote client.

JSON has no NaN or infinity, so non-finite metric values travel as the strings
``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` (MLflow's convention).
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Sequence
from typing import Any

from shipyard.errors import InvalidInput
from shipyard.tracking._entities import ArtifactInfo, Experiment, LogBatch, Metric, Page, Run, RunStatus
from shipyard.tracking._records import RunRecord

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
    "records_from_json",
    "records_to_json",
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


_RECORD_FIELDS = ("id", "experiment_id", "name", "status", "start_time", "end_time", "parent_run_id", "user",
                  "params", "tags", "metrics", "artifacts", "links", "environment")


def records_to_json(records: Sequence[RunRecord]) -> dict[str, Any]:
    """The body of a ``record_runs`` request; artifact bytes travel base64-encoded."""
    return {"runs": [{
        "id": r.id, "experiment_id": str(r.experiment_id), "name": r.name, "status": RunStatus(r.status).value,
        "start_time": r.start_time, "end_time": r.end_time, "parent_run_id": r.parent_run_id, "user": r.user,
        "params": dict(r.params), "tags": dict(r.tags),
        "metrics": [[m.key, encode_float(m.value), m.timestamp, m.step] for m in r.metrics],
        "artifacts": {p: base64.b64encode(d).decode() for p, d in r.artifacts.items()},
        "links": dict(r.links),
        "environment": dict(r.environment) if r.environment is not None else None,
    } for r in records]}


def records_from_json(data: Any) -> list[RunRecord]:
    """Rebuild records from a request body, checking each field's shape (bad input → InvalidInput
    naming it, as ``runs[2].metrics[0]``); :func:`~shipyard.tracking._records.check_records` does the rest."""
    runs = data.get("runs") if isinstance(data, dict) else None
    if not isinstance(runs, list):
        raise InvalidInput("body must be a JSON object with a list 'runs'", field="runs")
    out = []
    for i, raw in enumerate(runs):
        at = f"runs[{i}]"
        if not isinstance(raw, dict):
            raise InvalidInput(f"{at} must be a JSON object", field=at)
        unknown = sorted(set(raw) - set(_RECORD_FIELDS))
        if unknown:
            raise InvalidInput(f"{at} has an unknown field {unknown[0]!r}", field=f"{at}.{unknown[0]}")
        if "experiment_id" not in raw:
            raise InvalidInput(f"{at}.experiment_id is required", field=f"{at}.experiment_id")
        metrics = raw.get("metrics") or []
        artifacts = raw.get("artifacts") or {}
        if not isinstance(metrics, list):
            raise InvalidInput(f"{at}.metrics must be a list", field=f"{at}.metrics")
        if not isinstance(artifacts, dict):
            raise InvalidInput(f"{at}.artifacts must be an object of path: base64", field=f"{at}.artifacts")
        points = []
        for j, m in enumerate(metrics):
            if not isinstance(m, list) or len(m) != 4:
                raise InvalidInput(f"{at}.metrics[{j}] must be [key, value, timestamp, step]",
                                   field=f"{at}.metrics[{j}]")
            points.append(Metric(m[0], decode_float(m[1], f"{at}.metrics[{j}].value"), m[3], m[2]))
        blobs = {}
        for path, text in artifacts.items():
            try:
                blobs[path] = base64.b64decode(text, validate=True)
            except (TypeError, ValueError, binascii.Error):
                raise InvalidInput(f"{at}.artifacts.{path} must be base64", field=f"{at}.artifacts.{path}") from None
        fields = {k: raw[k] for k in ("id", "name", "status", "start_time", "end_time", "parent_run_id", "user",
                                      "params", "tags", "links", "environment") if raw.get(k) is not None}
        if "status" in fields:
            try:
                fields["status"] = RunStatus(fields["status"])
            except ValueError:
                raise InvalidInput(f"{at}.status must be one of {[s.value for s in RunStatus]}",
                                   field=f"{at}.status") from None
        out.append(RunRecord(raw["experiment_id"], metrics=points, artifacts=blobs, **fields))
    return out
