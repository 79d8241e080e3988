"""Value objects of the model registry."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from shipyard.errors import InvalidInput

__all__ = ["AuditEvent", "ModelVersion", "RegisteredModel", "validate_alias", "validate_model_name"]

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-.]{0,255}$")
_ALIAS_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,255}$")


def validate_model_name(name: Any) -> str:
    """Model names: letters, digits, ``_ - .``, starting with a letter or digit, ≤ 256 chars."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
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
