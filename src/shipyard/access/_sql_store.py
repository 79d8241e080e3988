""":class:`~shipyard.access._backend.AccessStore` on the metadata database.

Every write (users, roles, disabling, tokens, grants) bumps the access generation in
the same transaction, so a token cache (:class:`~shipyard.access._cache.TokenCache`)
stays valid exactly while the generation is unchanged.
"""

from __future__ import annotations

import re
import secrets

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from shipyard.access._entities import PERMISSIONS, RESOURCE_TYPES, ROLES, Grant, Token, User
from shipyard.access._passwords import hash_password, hash_token, new_token, verify_password
from shipyard.errors import AlreadyExists, InvalidInput, NotFound
from shipyard.store import Database
from shipyard.store import schema as t
from shipyard.timeutil import now_ms

__all__ = ["SqlAccessStore"]

# Letters, digits and . _ @ - only: a name lands in audit lines, HTML pages and logs.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_DUMMY_HASH = hash_password(secrets.token_hex(16))  # checked for unknown users: equal timing


def _check_name(name: object, field: str = "name") -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        shown = repr(name) if len(repr(name)) <= 40 else repr(name)[:37] + "..."
        raise InvalidInput(f"The {field!r} must be 1-64 letters, digits or '._@-', starting with a letter "
                           f"or digit. Got {shown} instead.", field=field)
    return name


def _check_choice(value: object, choices: tuple[str, ...], field: str) -> str:
    if value not in choices:
        raise InvalidInput(f"The {field!r} must be one of {', '.join(choices)}. Got {value!r:.40} instead.",
                           field=field)
    return str(value)


def _token(row: Row) -> Token:
    return Token(id=row.id, user=row.user, name=row.name, created_at=row.created_at, revoked_at=row.revoked_at,
                 expires_at=row.expires_at)


class SqlAccessStore:
    """:class:`~shipyard.access._backend.AccessStore` on the metadata database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def close(self) -> None:
        """Nothing of its own to release: the database belongs to the client."""

    @staticmethod
    def _bump(conn: Connection) -> None:
        conn.execute(t.access_state.update().where(t.access_state.c.id == 1)
                     .values(generation=t.access_state.c.generation + 1))

    def generation(self) -> int:
        """A counter that changes with every write to users, tokens or grants (one primary-key read)."""
        return int(self.db.fast_scalar("SELECT generation FROM access_state WHERE id = 1"))

    def _user(self, conn: Connection, name: str) -> User:
        row = conn.execute(sa.select(t.users).where(t.users.c.name == name)).first()
        if row is None:
            raise NotFound(f"user {name!r} not found", resource="user", name=name)
        g = t.access_grants
        grants = conn.execute(sa.select(g).where(g.c.user == name).order_by(g.c.resource_type, g.c.resource_id))
        return User(name=row.name, role=row.role, disabled=bool(row.disabled), created_at=row.created_at,
                    grants=tuple(Grant(r.user, r.resource_type, r.resource_id, r.permission) for r in grants))

    # -- users ---------------------------------------------------------------------------
    def has_users(self) -> bool:
        with self.db.read() as conn:
            return conn.execute(sa.select(t.users.c.name).limit(1)).first() is not None

    def create_user(self, name: str, role: str = "viewer", password: str | None = None) -> User:
        _check_name(name)
        _check_choice(role, ROLES, "role")
        if password is not None and (not isinstance(password, str) or len(password) < 8 or len(password) > 1024):
            raise InvalidInput("The 'password' must be 8 to 1024 characters.", field="password")
        hashed = hash_password(password) if password is not None else None
        with self.db.write() as conn:
            if conn.execute(sa.select(t.users.c.name).where(t.users.c.name == name)).first() is not None:
                raise AlreadyExists(f"user {name!r} exists", resource="user", name=name)
            conn.execute(t.users.insert().values(name=name, role=role, password_hash=hashed, disabled=0,
                                                 created_at=now_ms()))
            self._bump(conn)
            return self._user(conn, name)

    def get_user(self, name: str) -> User:
        with self.db.read() as conn:
            return self._user(conn, name)

    def list_users(self) -> list[User]:
        with self.db.read() as conn:
            names = conn.execute(sa.select(t.users.c.name).order_by(t.users.c.name)).scalars().all()
            return [self._user(conn, n) for n in names]

    def _update(self, name: str, **values: object) -> User:
        with self.db.write() as conn:
            if conn.execute(t.users.update().where(t.users.c.name == name).values(**values)).rowcount == 0:
                raise NotFound(f"user {name!r} not found", resource="user", name=name)
            self._bump(conn)
            return self._user(conn, name)

    def set_role(self, name: str, role: str) -> User:
        return self._update(name, role=_check_choice(role, ROLES, "role"))

    def set_disabled(self, name: str, disabled: bool = True) -> User:
        return self._update(name, disabled=int(bool(disabled)))

    def check_password(self, name: str, password: str) -> User | None:
        with self.db.read() as conn:
            row = conn.execute(sa.select(t.users.c.password_hash, t.users.c.disabled)
                               .where(t.users.c.name == name)).first()
        if row is None or row.password_hash is None:
            verify_password(_DUMMY_HASH, password)  # the same work as for a real user
            return None
        if not verify_password(row.password_hash, password) or row.disabled:
            return None
        return self.get_user(name)

    # -- tokens --------------------------------------------------------------------------
    def create_token(self, user: str, name: str = "", expires_in_ms: int | None = None) -> tuple[Token, str]:
        if not isinstance(name, str) or len(name) > 128 or any(c in name for c in "<>\"'&\n\r"):
            raise InvalidInput("The token 'name' must be at most 128 characters, without markup.", field="name")
        if expires_in_ms is not None and (not isinstance(expires_in_ms, int) or expires_in_ms <= 0):
            raise InvalidInput(f"The 'expires_in_ms' must be a positive integer. Got {expires_in_ms!r:.40} instead.",
                               field="expires_in_ms")
        secret = new_token()
        created = now_ms()
        record = Token(id=secrets.token_hex(16), user=user, name=name, created_at=created,
                       expires_at=None if expires_in_ms is None else created + expires_in_ms)
        with self.db.write() as conn:
            self._user(conn, user)  # NotFound for a missing user
            conn.execute(t.access_tokens.insert().values(id=record.id, user=user, name=name,
                                                         token_hash=hash_token(secret),
                                                         created_at=record.created_at,
                                                         expires_at=record.expires_at))
            self._bump(conn)
        return record, secret

    def list_tokens(self, user: str | None = None) -> list[Token]:
        q = sa.select(t.access_tokens).order_by(t.access_tokens.c.created_at, t.access_tokens.c.id)
        if user is not None:
            q = q.where(t.access_tokens.c.user == user)
        with self.db.read() as conn:
            return [_token(r) for r in conn.execute(q)]

    def revoke_token(self, token_id: str) -> Token:
        tk = t.access_tokens
        with self.db.write() as conn:
            conn.execute(tk.update().where(tk.c.id == token_id, tk.c.revoked_at.is_(None)).values(revoked_at=now_ms()))
            row = conn.execute(sa.select(tk).where(tk.c.id == token_id)).first()
            self._bump(conn)
        if row is None:
            raise NotFound(f"token {token_id!r:.40} not found", resource="token", id=token_id)
        return _token(row)

    def user_for_token(self, secret: str) -> User | None:
        found = self.token_owner(secret)
        return None if found is None else found[0]

    def token_owner(self, secret: str) -> tuple[User, int | None] | None:
        """The enabled user whose live token ``secret`` is, with the token's expiry
        (milliseconds, None: never); None for an unknown, revoked or expired token."""
        tk = t.access_tokens
        with self.db.read() as conn:
            row = conn.execute(sa.select(tk.c.user, tk.c.expires_at).join(t.users, t.users.c.name == tk.c.user)
                               .where(tk.c.token_hash == hash_token(secret), tk.c.revoked_at.is_(None),
                                      sa.or_(tk.c.expires_at.is_(None), tk.c.expires_at > now_ms()),
                                      t.users.c.disabled == 0)).first()
            return None if row is None else (self._user(conn, row.user), row.expires_at)

    # -- grants --------------------------------------------------------------------------
    def grant(self, user: str, resource_type: str, resource_id: str, permission: str) -> Grant:
        _check_choice(resource_type, RESOURCE_TYPES, "resource_type")
        _check_choice(permission, PERMISSIONS, "permission")
        g = t.access_grants
        with self.db.write() as conn:
            self._user(conn, user)
            if resource_type == "experiment":
                exists = resource_id.isdigit() and conn.execute(
                    sa.select(t.experiments.c.id)
                    .where(t.experiments.c.id == int(resource_id))).first()
            else:
                exists = conn.execute(sa.select(t.registered_models.c.name)
                                      .where(t.registered_models.c.name == resource_id)).first()
            if not exists:
                raise InvalidInput(f"The 'resource_id' names no {resource_type.replace('_', ' ')}: "
                                   f"{resource_id!r:.60}.", field="resource_id")
            conn.execute(sa.delete(g).where(g.c.user == user, g.c.resource_type == resource_type,
                                            g.c.resource_id == resource_id))
            conn.execute(g.insert().values(user=user, resource_type=resource_type, resource_id=resource_id,
                                           permission=permission))
            self._bump(conn)
        return Grant(user, resource_type, resource_id, permission)

    def revoke_grant(self, user: str, resource_type: str, resource_id: str) -> None:
        g = t.access_grants
        with self.db.write() as conn:
            conn.execute(sa.delete(g).where(g.c.user == user, g.c.resource_type == resource_type,
                                            g.c.resource_id == resource_id))
            self._bump(conn)
