"""The value types of access control: users, tokens, global roles and per-resource grants."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["PERMISSIONS", "RESOURCE_TYPES", "ROLES", "Grant", "Token", "User"]

# Global roles, weakest first: each may do what the ones before it may.
ROLES = ("viewer", "editor", "approver", "admin")
# Per-resource permissions, weakest first, as MLflow's permission model has them.
PERMISSIONS = ("read", "edit", "manage")
RESOURCE_TYPES = ("experiment", "registered_model")


@dataclass(frozen=True)
class Grant:
    """``permission`` (read, edit or manage) on one experiment (by id) or registered model (by name)."""

    user: str
    resource_type: str
    resource_id: str
    permission: str


@dataclass(frozen=True)
class User:
    """A person or service account. ``grants`` widen the global ``role`` on single resources."""

    name: str
    role: str
    disabled: bool = False
    created_at: int = 0
    grants: tuple[Grant, ...] = field(default=())


@dataclass(frozen=True)
class Token:
    """An API token's record. The secret itself is shown once, at creation, and stored as a hash."""

    id: str
    user: str
    name: str
    created_at: int
    revoked_at: int | None = None
    expires_at: int | None = None  # None: never

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None
