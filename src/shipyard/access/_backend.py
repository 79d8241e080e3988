"""The :class:`AccessStore` interface: users, their tokens and grants."""

from __future__ import annotations

from typing import Protocol

from shipyard.access._entities import Grant, Token, User

__all__ = ["AccessStore"]


class AccessStore(Protocol):
    """Users, API tokens and per-resource grants. Bad input raises
    :class:`~shipyard.errors.InvalidInput` naming the field and stores nothing."""

    def has_users(self) -> bool:
        """Whether any user exists (a server with none may run open on loopback)."""
        ...

    def create_user(self, name: str, role: str = "viewer", password: str | None = None) -> User: ...

    def get_user(self, name: str) -> User:
        """The user with its grants; :class:`~shipyard.errors.NotFound` if there is none."""
        ...

    def list_users(self) -> list[User]: ...

    def set_role(self, name: str, role: str) -> User: ...

    def set_disabled(self, name: str, disabled: bool = True) -> User: ...

    def check_password(self, name: str, password: str) -> User | None:
        """The enabled user ``name`` if ``password`` is theirs, else None (never says which part failed)."""
        ...

    def create_token(self, user: str, name: str = "", expires_in_ms: int | None = None) -> tuple[Token, str]:
        """A new token for ``user`` (valid ``expires_in_ms``, or until revoked): its record and
        the secret, which is never stored or shown again."""
        ...

    def list_tokens(self, user: str | None = None) -> list[Token]: ...

    def revoke_token(self, token_id: str) -> Token: ...

    def user_for_token(self, secret: str) -> User | None:
        """The enabled owner of ``secret`` if it is unrevoked and unexpired, else None."""
        ...

    def grant(self, user: str, resource_type: str, resource_id: str, permission: str) -> Grant:
        """Give ``user`` a permission on an existing experiment or registered model (replaces any other)."""
        ...

    def revoke_grant(self, user: str, resource_type: str, resource_id: str) -> None: ...
