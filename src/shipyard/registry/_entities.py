"""Value objects of the model registry."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from shipyard.errors import InvalidInput
from shipyard.store import check_name

__all__ = ["ENTITY_KEYS_TAG", "FEATURES_TAG", "AuditEvent", "ModelVersion", "RegisteredModel", "feature_tags",
           "validate_alias", "validate_model_name"]

FEATURES_TAG = "shipyard.features"
"""Version tag listing the feature references the package declares (comma-separated)."""
ENTITY_KEYS_TAG = "shipyard.entity_keys"
"""Version tag listing the entity keys a request to the model carries (comma-separated)."""

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-.]{0,255}\Z")
_ALIAS_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,255}\Z")


def validate_model_name(name: Any) -> str:
    """Model names: letters, digits, ``_ - .``, starting with a letter or digit, ≤ 256 chars."""
    if not isinstance(name, str) or not _NAME_RE.fullmatch(check_name(name, "name")):
        raise InvalidInput(
            f"model name must be 1-256 letters, digits or _-. starting with a letter or digit, got {name!r}",
            field="name",
        )
    return name


def validate_alias(alias: Any) -> str:
    """Aliases: an identifier (``production``, ``champion``); not a number, so it never
    reads as a version."""
    if not isinstance(alias, str) or not _ALIAS_RE.match(alias) or alias.lower() == "latest":
        raise InvalidInput(
            f"alias must be an identifier such as 'production' (and not 'latest'), got {alias!r}",
            field="alias",
        )
    return alias


@dataclass(frozen=True)
class RegisteredModel:
    """A named model: its versions come from runs; aliases point at versions."""

    name: str
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    latest_version: int | None = None
    policy: dict[str, Any] | None = None
    created_at: int = 0
    updated_at: int = 0


@dataclass(frozen=True)
class ModelVersion:
    """One immutable version of a registered model."""

    name: str
    version: int
    source: str
    run_id: str | None
    status: str = "READY"
    description: str | None = None
    flavor: str | None = None
    signature: dict[str, Any] | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    user: str | None = None
    created_at: int = 0
    updated_at: int = 0

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    @property
    def features(self) -> list[str]:
        """The feature references the package declares (``model.yaml``), recorded at registration."""
        return _split(self.tags.get(FEATURES_TAG))

    @property
    def entity_keys(self) -> list[str]:
        """The entity keys a request to this version carries when it declares features."""
        return _split(self.tags.get(ENTITY_KEYS_TAG))


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()] if value else []


def feature_tags(manifest: dict[str, Any]) -> dict[str, str]:
    """The version tags that make a package's declared features visible on the registry.

    The package's ``model.yaml`` stays the truth serving reads; the tags are written
    once, when the version is registered, so listings show them without opening it.
    """
    features = manifest.get("features") or []
    if not features:
        return {}
    tags = {FEATURES_TAG: ",".join(map(str, features))}
    keys = manifest.get("entity_keys") or []
    if keys:
        tags[ENTITY_KEYS_TAG] = ",".join(map(str, keys))
    return tags


@dataclass(frozen=True)
class AuditEvent:
    """One entry of the append-only audit log: who did what, when, from what to what."""

    id: int
    at: int
    actor: str | None
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None = None
    forced: bool = False
