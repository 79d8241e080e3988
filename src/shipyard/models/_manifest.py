"""The manifest of a model package: ``model.yaml``, what the folder holds and needs.

``files`` maps every file of the package except ``model.yaml`` itself to its sha256,
so a loader can check the bytes before unpickling anything. The manifest is the root
of that trust: whoever records a package (the registry, a run) should keep
:meth:`ModelManifest.digest` alongside, and pass it to ``load_model`` to pin it.

A model trained on a feature store's training set records the feature references it
reads (``features``: ``"view:feature"``) and the entity keys a request carries
(``entity_keys``); serving then looks the features up itself. Both are written only
when set, so packages without them read and hash as before.

>>> m = ModelManifest(flavor="sklearn", framework="scikit-learn", framework_version="1.5.0")
>>> ModelManifest.from_dict(m.to_dict()) == m
True
"""

from __future__ import annotations

import copy
import hashlib
import platform
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from shipyard.errors import IntegrityError, InvalidInput
from shipyard.models._signature import Signature

__all__ = ["MANIFEST_FILE", "MANIFEST_VERSION", "ModelManifest", "check_entity_keys", "check_feature_refs"]

MANIFEST_FILE = "model.yaml"
MANIFEST_VERSION = 1
_SHA256 = re.compile(r"[0-9a-f]{64}")
_FEATURE_REF = re.compile(r"[^:\s]+:[^:\s]+")
_OMITTED_WHEN_EMPTY = ("features", "entity_keys")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _shipyard_version() -> str:
    try:
        return metadata.version("shipyard")
    except metadata.PackageNotFoundError:  # running from a source tree
        return "unknown"


@dataclass(frozen=True)
class ModelManifest:
    """Everything ``model.yaml`` records about a model package.

    ``requirements`` are pinned (``name==version``) for the libraries the flavor
    used; ``input_example`` is a file name inside the package (Parquet, ``.npy`` or
    ``.npz``, never a pickle); ``files`` maps relative POSIX paths to sha256 digests.
    ``features`` are feature references (``"user_stats:avg_spend_7d"``) looked up at
    serving time for the entity ``entity_keys`` of each request.
    """

    flavor: str
    framework: str
    framework_version: str
    flavor_options: dict[str, Any] = field(default_factory=dict)
    python_version: str = field(default_factory=platform.python_version)
    requirements: list[str] = field(default_factory=list)
    signature: Signature | None = None
    input_example: str | None = None
    features: list[str] = field(default_factory=list)
    entity_keys: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    created_at: str = field(default_factory=_now)
    source_run_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    shipyard_version: str = field(default_factory=_shipyard_version)
    manifest_version: int = MANIFEST_VERSION

    def to_dict(self) -> dict[str, Any]:
        """A YAML-safe dict, keys in the order of the fields."""
        # Not dataclasses.asdict: it would deep-copy the signature's compiled validator.
        out = {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self) if f.name != "signature"}
        out["signature"] = None if self.signature is None else self.signature.to_dict()
        return {f.name: out[f.name] for f in fields(self)
                if f.name not in _OMITTED_WHEN_EMPTY or out[f.name]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelManifest:
        """Rebuild a manifest, rejecting one that is malformed (``InvalidInput``)."""
        known = {f.name for f in fields(cls)}
        for key in ("flavor", "framework", "framework_version"):
            if not isinstance(data.get(key), str):
                raise InvalidInput(f"model.yaml needs a string {key!r}", field=key)
        files = data.get("files") or {}
        if not isinstance(files, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) and _SHA256.fullmatch(v) for k, v in files.items()
        ):
            raise InvalidInput("model.yaml 'files' must map paths to sha256 hex digests", field="files")
        version = data.get("manifest_version", MANIFEST_VERSION)
        if not isinstance(version, int) or version > MANIFEST_VERSION:
            raise InvalidInput(
                f"model.yaml has manifest_version {version!r}; this Shipyard reads up to "
                f"{MANIFEST_VERSION} (upgrade shipyard)",
                field="manifest_version",
            )
        values = {k: v for k, v in data.items() if k in known}
        signature = values.get("signature")
        try:
            values["signature"] = None if signature is None else Signature.from_dict(signature)
        except (KeyError, TypeError, AttributeError) as exc:
            raise InvalidInput(f"model.yaml has a malformed signature: {exc!r}", field="signature") from None
        values["files"] = dict(files)
        values["features"] = check_feature_refs(data.get("features") or [])
        values["entity_keys"] = check_entity_keys(data.get("entity_keys") or [])
        return cls(**values)

    def dumps(self) -> str:
        """The ``model.yaml`` text."""
        try:
            return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)
        except yaml.YAMLError as exc:  # e.g. a numpy scalar in metadata
            raise InvalidInput(
                f"model.yaml can hold only plain values (str, int, float, bool, None, lists, dicts): {exc}",
                field="metadata",
            ) from None

    def digest(self) -> str:
        """sha256 of the ``model.yaml`` bytes this manifest writes: pin it to trust a package."""
        return hashlib.sha256(self.dumps().encode()).hexdigest()

    def write(self, directory: Path) -> Path:
        """Write ``model.yaml`` into ``directory``."""
        path = Path(directory) / MANIFEST_FILE
        path.write_text(self.dumps(), encoding="utf-8")
        return path

    @classmethod
    def read(cls, directory: str | Path, *, sha256: str | None = None) -> ModelManifest:
        """Read ``model.yaml`` from a package folder.

        Raises ``InvalidInput`` "no model at …" when the folder or file is absent or
        unreadable, and ``IntegrityError`` when ``sha256`` is given and differs.
        """
        path = Path(directory) / MANIFEST_FILE
        try:
            raw = path.read_bytes()
        except OSError:
            raise InvalidInput(f"no model at {directory}: {MANIFEST_FILE} not found", field="path") from None
        if sha256 is not None:
            actual = hashlib.sha256(raw).hexdigest()
            if actual != sha256:
                raise IntegrityError(
                    f"{path} has sha256 {actual}, expected {sha256}", file=MANIFEST_FILE, path=str(path)
                )
        try:
            data = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise InvalidInput(
                f"no model at {directory}: {MANIFEST_FILE} is not YAML ({exc})", field="path"
            ) from None
        if not isinstance(data, Mapping):
            raise InvalidInput(f"no model at {directory}: {MANIFEST_FILE} is not a mapping", field="path")
        return cls.from_dict(data)


def _strings(value: Any, name: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, list | tuple) or not all(
            isinstance(v, str) and v for v in value):
        raise InvalidInput(f"{name} must be a list of non-empty strings, got {value!r}", field=name)
    if len(set(value)) != len(value):
        raise InvalidInput(f"{name} repeat: {list(value)}", field=name)
    return list(value)


def check_entity_keys(keys: Any) -> list[str]:
    """``keys`` as a list if they are distinct non-empty strings; ``InvalidInput`` otherwise."""
    return _strings(keys, "entity_keys")


def check_feature_refs(refs: Any) -> list[str]:
    """``refs`` as a list if every one reads ``"view:feature"``; ``InvalidInput`` otherwise.

    >>> check_feature_refs(["user_stats:avg_spend_7d"])
    ['user_stats:avg_spend_7d']
    """
    checked = _strings(refs, "features")
    for ref in checked:
        if not _FEATURE_REF.fullmatch(ref):
            raise InvalidInput(f"feature reference {ref!r} must read 'view:feature'", field="features")
    return checked
