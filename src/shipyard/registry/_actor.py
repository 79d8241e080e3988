"""Who the audit log names: the authenticated user, when a face has set one.

An HTTP face that authenticates its callers runs each request :func:`acting_as` the
user, and every audit entry written meanwhile names that user, whatever ``actor`` the
caller passed; without one, the ``actor`` argument is recorded as given.

>>> with acting_as("ana"):
...     audit_actor("mallory")
'ana'
>>> audit_actor("bob")
'bob'
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["acting_as", "audit_actor"]

_AUTHENTICATED: ContextVar[str | None] = ContextVar("shipyard_authenticated_actor", default=None)


@contextmanager
def acting_as(user: str) -> Iterator[None]:
    """Record ``user`` as the actor of every audit entry written in this context."""
    token = _AUTHENTICATED.set(user)
    try:
        yield
    finally:
        _AUTHENTICATED.reset(token)


def audit_actor(given: str | None) -> str | None:
    """The actor to record: the authenticated user if there is one, else ``given``."""
    return _AUTHENTICATED.get() or given
