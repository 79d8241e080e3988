"""Access-control tables (revisions 0009, 0010): users, API tokens, per-resource grants, access state."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table

from shipyard.store.schema._meta import metadata

__all__ = ["access_grants", "access_state", "access_tokens", "users"]

# ``password_hash`` is Argon2id (NULL: the user signs in with tokens only). ``oidc_issuer``
# and ``oidc_subject`` name the single sign-on account linked to the user (NULL: none);
# one account is linked to one user at most.
users = Table(
    "users",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(256), nullable=True),
    Column("disabled", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("oidc_issuer", String(512), nullable=True),
    Column("oidc_subject", String(255), nullable=True),
    Index("ux_users_oidc_identity", "oidc_issuer", "oidc_subject", unique=True),
)

# Only the sha256 of a token is kept; the token itself is shown once, at creation.
access_tokens = Table(
    "access_tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user", String(64), ForeignKey("users.name"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
    Column("expires_at", BigInteger, nullable=True),  # NULL: never
    Index("ix_access_tokens_user", "user"),
)

# ``resource_id`` is an experiment id or a registered model's name.
access_grants = Table(
    "access_grants",
    metadata,
    Column("user", String(64), ForeignKey("users.name"), primary_key=True),
    Column("resource_type", String(32), primary_key=True),
    Column("resource_id", String(256), primary_key=True),
    Column("permission", String(16), nullable=False),
)

# One row (id 1), bumped in the same transaction as any write to the tables above, so a
# token cache can be validated with one primary-key read.
access_state = Table(
    "access_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("generation", BigInteger, nullable=False),
)
