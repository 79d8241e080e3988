"""The :class:`AccessStore` interface: users, their tokens and grants."""

from __future__ import annotations

from typing import Protocol

from shipyard.access._entities import Grant, Token, User
from shipyard.tracking import Page

__all__ = ["AccessStore"]


class AccessStore(Protocol):
    """Users, API tokens and per-resource grants. Bad input raises
    :class:`~shipyard.errors.InvalidInput` naming the field and stores nothing.

    Lists answer a :class:`~shipyard.tracking.Page`: ``max_results`` items (None: all of
    them) after ``page_token``, with the token of the next page (None on the last).
    """

    def has_users(self) -> bool:
        """Whether any user exists (a server with none may run open on loopback)."""
        ...

    def create_user(self, name: str, role: str = "viewer", password: str | None = None) -> User: ...

    def get_user(self, name: str) -> User:
        """The user with its grants; :class:`~shipyard.errors.NotFound` if there is none."""
        ...

    def list_users(self, max_results: int | None = None, page_token: str | None = None) -> Page:
        """Users (with their grants) by name."""
        ...

    def set_role(self, name: str, role: str) -> User: ...

    def set_disabled(self, name: str, disabled: bool = True) -> User: ...

    def check_password(self, name: str, password: str) -> User | None:
        """The enabled user ``name`` if ``password`` is theirs, else None (never says which part failed)."""
        ...

    def create_token(self, user: str, name: str = "", expires_in_ms: int | None = None) -> tuple[Token, str]:
        """A new token for ``user`` (valid ``expires_in_ms``, or until revoked): its record and
        the secret, which is never stored or shown again."""
        ...

    def list_tokens(self, user: str | None = None, max_results: int | None = None,
                    page_token: str | None = None) -> Page:
        """Token records (every user's, or ``user``'s), oldest first."""
        ...

    def get_token(self, token_id: str) -> Token:
        """A token's record; :class:`~shipyard.errors.NotFound` if there is none."""
        ...

    def revoke_token(self, token_id: str) -> Token: ...

    def user_for_token(self, secret: str) -> User | None:
        """The enabled owner of ``secret`` if it is unrevoked and unexpired, else None."""
        ...

    def grant(self, user: str, resource_type: str, resource_id: str, permission: str) -> Grant:
        """Give ``user`` a permission on an existing experiment or registered model (replaces any other).
        A missing resource is :class:`~shipyard.errors.NotFound` with ``field="resource_id"``."""
        ...

    def revoke_grant(self, user: str, resource_type: str, resource_id: str) -> Grant:
        """Take back ``user``'s grant on the resource, and answer it; :class:`~shipyard.errors.NotFound`
        (``field="resource_id"``) if they hold none there."""
        ...

    def list_grants(self, user: str, max_results: int | None = None, page_token: str | None = None) -> Page:
        """``user``'s grants by resource type and id."""
        ...

    def user_for_identity(self, issuer: str, subject: str) -> User | None:
        """The user linked to the single sign-on account ``subject`` of ``issuer``, if any."""
        ...

    def link_identity(self, name: str, issuer: str, subject: str, role: str | None = None) -> User:
        """Link the account ``subject`` of ``issuer`` to user ``name``, creating the user with
        ``role`` when there is none (``role`` None: :class:`~shipyard.errors.NotFound`). A user
        already linked to another account is never re-linked: :class:`~shipyard.errors.Conflict`."""
        ...
