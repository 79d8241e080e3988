"""Access control: users, API tokens, global roles and per-resource grants.

The HTTP faces authenticate a request to a :class:`User` (a token through
:meth:`AccessStore.user_for_token`, a password through :meth:`AccessStore.check_password`,
throttled by :class:`LoginLimiter`) and ask :func:`may` whether it may take an action on
a resource. Tokens are shown once and stored as a sha256; passwords as Argon2id.

>>> may(User("ana", "editor"), "approve", Resource("registered_model", "churn"))
False
"""

from shipyard.access._backend import AccessStore
from shipyard.access._cache import TokenCache
from shipyard.access._entities import PERMISSIONS, RESOURCE_TYPES, ROLES, Grant, Token, User
from shipyard.access._passwords import hash_token
from shipyard.access._permissions import ACTIONS, Resource, may
from shipyard.access._ratelimit import LoginLimiter
from shipyard.access._sql_store import SqlAccessStore
from shipyard.access._token_check import TokenCheck

__all__ = [
    "ACTIONS",
    "AccessStore",
    "Grant",
    "LoginLimiter",
    "PERMISSIONS",
    "RESOURCE_TYPES",
    "ROLES",
    "Resource",
    "SqlAccessStore",
    "Token",
    "TokenCache",
    "TokenCheck",
    "User",
    "hash_token",
    "may",
]
