""":class:`~shipyard.access._backend.AccessStore` on the metadata database.

Every write (users, roles, disabling, tokens, grants, linked sign-on accounts) bumps the
access generation in the same transaction, so a token cache
(:class:`~shipyard.access._cache.TokenCache`) stays valid exactly while the generation is
unchanged. Lists are read a page at a time after a cursor (:func:`shipyard.store.decode_cursor`).
"""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from shipyard.access._entities import PERMISSIONS, RESOURCE_TYPES, ROLES, Grant, Token, User
from shipyard.access._generation import GenerationReader
from shipyard.access._passwords import hash_password, hash_token, new_token, verify_password
from shipyard.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from shipyard.store import Database, check_max_results, decode_cursor, encode_cursor
from shipyard.store import schema as t
from shipyard.timeutil import now_ms
from shipyard.tracking import Page

__all__ = ["SqlAccessStore"]

# Letters, digits and . _ @ - only: a name lands in audit lines, HTML pages and logs.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


# Checked for unknown users, so a wrong name costs the same as a wrong password. Made on
# first use, not at import: an Argon2 hash takes half a second, and every process that
# imports Shipyard (each CLI command) would pay it.
@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_hex(16))


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


def _check_identity(issuer: object, subject: object) -> tuple[str, str]:
    if not isinstance(issuer, str) or not 0 < len(issuer) <= 512:
        raise InvalidInput("The 'issuer' must be 1 to 512 characters.", field="issuer")
    if not isinstance(subject, str) or not 0 < len(subject) <= 255:
        raise InvalidInput("The 'subject' must be 1 to 255 characters.", field="subject")
    return issuer, subject


def _token(row: Row) -> Token:
    return Token(id=row.id, user=row.user, name=row.name, created_at=row.created_at, revoked_at=row.revoked_at,
                 expires_at=row.expires_at)


def _grant(row: Row) -> Grant:
    return Grant(row.user, row.resource_type, row.resource_id, row.permission)


def _after(columns: Sequence[sa.ColumnElement[Any]], key: list[Any]) -> sa.ColumnElement[bool]:
    """Rows whose sort key ``columns`` comes after ``key`` (the cursor of a page)."""
    head, *rest = columns
    if not rest:
        return head > key[0]
    return sa.or_(head > key[0], sa.and_(head == key[0], _after(rest, key[1:])))


_Cut = Callable[[list[Row]], tuple[list[Row], str | None]]


def _paged(q: sa.Select[Any], kind: str, columns: Sequence[sa.ColumnElement[Any]], types: tuple[type, ...],
           max_results: int | None, page_token: str | None) -> tuple[sa.Select[Any], _Cut]:
    """``q`` ordered by ``columns``, read from after ``page_token``, one row beyond the page;
    and the function that cuts the rows read to the page and gives the next page's token."""
    limit = check_max_results(max_results)
    after = decode_cursor(page_token, types, kind=kind)
    q = q.order_by(*columns)
    if after is not None:
        q = q.where(_after(columns, after))
    if limit is not None:
        q = q.limit(limit + 1)

    def cut(rows: list[Row]) -> tuple[list[Row], str | None]:
        if limit is None or len(rows) <= limit:
            return rows, None
        return rows[:limit], encode_cursor(tuple(getattr(rows[limit - 1], c.name) for c in columns), kind=kind)

    return q, cut


def _missing_user(name: str) -> NotFound:
    return NotFound(f"user {name!r:.80} not found", resource="user", name=name[:80])


class SqlAccessStore:
    """:class:`~shipyard.access._backend.AccessStore` on the metadata database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._generation = GenerationReader(db)

    def close(self) -> None:
        """Close the connection the generation is read on (the database belongs to the client)."""
        self._generation.close()

    @staticmethod
    def _bump(conn: Connection) -> None:
        conn.execute(t.access_state.update().where(t.access_state.c.id == 1)
                     .values(generation=t.access_state.c.generation + 1))

    def generation(self) -> int:
        """A counter that changes with every write to users, tokens or grants (one primary-key read)."""
        return self._generation.read()

    def generation_if_unchanged(self) -> int | None:
        """The generation :meth:`generation` last answered, if nothing was committed to the
        database since (told without I/O, so an event loop may ask: SQLite only); None when
        only :meth:`generation` can tell."""
        return self._generation.known()

    def _user(self, conn: Connection, name: str) -> User:
        row = conn.execute(sa.select(t.users).where(t.users.c.name == name)).first()
        if row is None:
            raise _missing_user(name)
        return self._users(conn, [row])[0]

    @staticmethod
    def _users(conn: Connection, rows: Sequence[Row]) -> list[User]:
        """The users of ``rows`` with their grants, read in one query per 500 users (SQLite
        limits the parameters of one statement)."""
        g = t.access_grants
        grants: dict[str, list[Grant]] = {row.name: [] for row in rows}
        names = list(grants)
        for start in range(0, len(names), 500):
            for r in conn.execute(sa.select(g).where(g.c.user.in_(names[start:start + 500]))
                                  .order_by(g.c.user, g.c.resource_type, g.c.resource_id)):
                grants[r.user].append(_grant(r))
        return [User(name=row.name, role=row.role, disabled=bool(row.disabled), created_at=row.created_at,
                     grants=tuple(grants[row.name])) for row in rows]

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

    def list_users(self, max_results: int | None = None, page_token: str | None = None) -> Page:
        q, cut = _paged(sa.select(t.users), "users", [t.users.c.name], (str,), max_results, page_token)
        with self.db.read() as conn:
            rows, token = cut(list(conn.execute(q)))
            return Page(self._users(conn, rows), token)

    def _update(self, name: str, **values: object) -> User:
        with self.db.write() as conn:
            if conn.execute(t.users.update().where(t.users.c.name == name).values(**values)).rowcount == 0:
                raise _missing_user(name)
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
            verify_password(_dummy_hash(), password)  # the same work as for a real user
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

    def list_tokens(self, user: str | None = None, max_results: int | None = None,
                    page_token: str | None = None) -> Page:
        tk = t.access_tokens
        q = sa.select(tk) if user is None else sa.select(tk).where(tk.c.user == user)
        q, cut = _paged(q, "tokens", [tk.c.created_at, tk.c.id], (int, str), max_results, page_token)
        with self.db.read() as conn:
            rows, token = cut(list(conn.execute(q)))
        return Page([_token(r) for r in rows], token)

    def get_token(self, token_id: str) -> Token:
        with self.db.read() as conn:
            row = conn.execute(sa.select(t.access_tokens).where(t.access_tokens.c.id == token_id)).first()
        if row is None:
            raise NotFound(f"token {token_id!r:.40} not found", resource="token", id=token_id[:40])
        return _token(row)

    def revoke_token(self, token_id: str) -> Token:
        tk = t.access_tokens
        with self.db.write() as conn:
            conn.execute(tk.update().where(tk.c.id == token_id, tk.c.revoked_at.is_(None)).values(revoked_at=now_ms()))
            row = conn.execute(sa.select(tk).where(tk.c.id == token_id)).first()
            self._bump(conn)
        if row is None:
            raise NotFound(f"token {token_id!r:.40} not found", resource="token", id=token_id[:40])
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
    @staticmethod
    def _resource_exists(conn: Connection, resource_type: str, resource_id: str) -> bool:
        if resource_type == "experiment":
            # Ids are 32-bit integers: anything else names no experiment (and must not reach the query).
            return resource_id.isascii() and resource_id.isdigit() and int(resource_id) < 2**31 and conn.execute(
                sa.select(t.experiments.c.id).where(t.experiments.c.id == int(resource_id))).first() is not None
        return conn.execute(sa.select(t.registered_models.c.name)
                            .where(t.registered_models.c.name == resource_id)).first() is not None

    def grant(self, user: str, resource_type: str, resource_id: str, permission: str) -> Grant:
        _check_choice(resource_type, RESOURCE_TYPES, "resource_type")
        _check_choice(permission, PERMISSIONS, "permission")
        if not isinstance(resource_id, str) or not 0 < len(resource_id) <= 256:
            raise InvalidInput("The 'resource_id' must be 1 to 256 characters.", field="resource_id")
        g = t.access_grants
        with self.db.write() as conn:
            self._user(conn, user)
            if not self._resource_exists(conn, resource_type, resource_id):
                kind = resource_type.replace("_", " ")
                raise NotFound(f"The 'resource_id' names no {kind}: {resource_id!r:.60}.", resource=resource_type,
                               field="resource_id")
            conn.execute(sa.delete(g).where(g.c.user == user, g.c.resource_type == resource_type,
                                            g.c.resource_id == resource_id))
            conn.execute(g.insert().values(user=user, resource_type=resource_type, resource_id=resource_id,
                                           permission=permission))
            self._bump(conn)
        return Grant(user, resource_type, resource_id, permission)

    def revoke_grant(self, user: str, resource_type: str, resource_id: str) -> Grant:
        _check_choice(resource_type, RESOURCE_TYPES, "resource_type")
        g = t.access_grants
        where = (g.c.user == user, g.c.resource_type == resource_type, g.c.resource_id == resource_id)
        with self.db.write() as conn:
            self._user(conn, user)
            row = conn.execute(sa.select(g).where(*where)).first()
            if row is None:
                raise NotFound(f"user {user!r:.80} has no grant on {resource_type.replace('_', ' ')} "
                               f"{resource_id!r:.60}", resource="grant", field="resource_id")
            conn.execute(sa.delete(g).where(*where))
            self._bump(conn)
        return _grant(row)

    def list_grants(self, user: str, max_results: int | None = None, page_token: str | None = None) -> Page:
        g = t.access_grants
        q, cut = _paged(sa.select(g).where(g.c.user == user), "grants", [g.c.resource_type, g.c.resource_id],
                        (str, str), max_results, page_token)
        with self.db.read() as conn:
            self._user(conn, user)
            rows, token = cut(list(conn.execute(q)))
        return Page([_grant(r) for r in rows], token)

    # -- single sign-on accounts -----------------------------------------------------------
    def user_for_identity(self, issuer: str, subject: str) -> User | None:
        u = t.users
        with self.db.read() as conn:
            row = conn.execute(sa.select(u).where(u.c.oidc_issuer == issuer, u.c.oidc_subject == subject)).first()
            return None if row is None else self._users(conn, [row])[0]

    def link_identity(self, name: str, issuer: str, subject: str, role: str | None = None) -> User:
        _check_identity(issuer, subject)
        if role is not None:
            _check_name(name)
            _check_choice(role, ROLES, "role")
        u = t.users
        with self.db.write() as conn:
            row = conn.execute(sa.select(u).where(u.c.name == name)).first()
            if row is None:
                if role is None:
                    raise _missing_user(name)
                conn.execute(u.insert().values(name=name, role=role, password_hash=None, disabled=0,
                                               created_at=now_ms(), oidc_issuer=issuer, oidc_subject=subject))
            elif (row.oidc_issuer, row.oidc_subject) == (issuer, subject):
                return self._users(conn, [row])[0]
            elif row.oidc_subject is not None:
                # Never re-link: another account claiming the same name must not take the user over.
                raise Conflict(f"user {name!r:.80} is linked to another single sign-on account",
                               resource="user", field="name")
            elif conn.execute(u.update().where(u.c.name == name, u.c.oidc_subject.is_(None))
                              .values(oidc_issuer=issuer, oidc_subject=subject)).rowcount == 0:
                raise Conflict(f"user {name!r:.80} was just linked to another single sign-on account",
                               resource="user", field="name")
            self._bump(conn)
            return self._user(conn, name)
