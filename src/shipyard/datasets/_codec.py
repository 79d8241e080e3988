"""JSON form of dataset entities, shared by the server and the remote client."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from shipyard.datasets._backend import VersionSpec
from shipyard.datasets._entities import Dataset, DatasetFile, DatasetVersion
from shipyard.datasets._profile import Profile
from shipyard.errors import InvalidInput

__all__ = [
    "dataset_from_json",
    "dataset_to_json",
    "file_from_json",
    "file_to_json",
    "spec_from_json",
    "spec_to_json",
    "version_from_json",
    "version_to_json",
]


def dataset_to_json(dataset: Dataset) -> dict[str, Any]:
    return asdict(dataset)


def dataset_from_json(data: dict[str, Any]) -> Dataset:
    return Dataset(**data)


def file_to_json(file: DatasetFile) -> list[Any]:
    """A compact triple: folders of 100,000 files travel as lists, not objects."""
    return [file.path, file.digest, file.size]


def file_from_json(data: Any) -> DatasetFile:
    try:
        path, digest, size = data
        return DatasetFile(str(path), str(digest), int(size))
    except (TypeError, ValueError):
        raise InvalidInput(f"a file is [path, sha256, size], got {str(data)[:100]!r}", field="files") from None


def version_to_json(version: DatasetVersion) -> dict[str, Any]:
    out = {k: getattr(version, k) for k in version.__dataclass_fields__ if k != "profile"}
    out["profile"] = version.profile.to_json() if version.profile is not None else None
    return out


def version_from_json(data: dict[str, Any]) -> DatasetVersion:
    fields = dict(data)
    profile = fields.pop("profile", None)
    return DatasetVersion(**fields, profile=Profile.from_json(profile) if profile else None)


def spec_to_json(spec: VersionSpec) -> dict[str, Any]:
    return {"files": [file_to_json(f) for f in spec.files], "format": spec.format, "num_rows": spec.num_rows,
            "schema": spec.schema, "profile": spec.profile.to_json() if spec.profile else None,
            "source": spec.source, "description": spec.description, "tags": spec.tags, "run_id": spec.run_id}


def spec_from_json(data: dict[str, Any]) -> VersionSpec:
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise InvalidInput("a version needs 'files': a list of [path, sha256, size]", field="files")
    fmt = data.get("format")
    from shipyard.datasets._entities import FORMATS

    if fmt not in FORMATS:
        raise InvalidInput(f"format must be one of {FORMATS}, got {fmt!r}", field="format")
    profile = data.get("profile")
    return VersionSpec(
        [file_from_json(f) for f in data["files"]], fmt, data.get("num_rows"), data.get("schema"),
        Profile.from_json(profile) if profile else None, data.get("source"), data.get("description"),
        {str(k): str(v) for k, v in (data.get("tags") or {}).items()}, data.get("run_id"))
