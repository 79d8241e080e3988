"""Browser sessions of ``shipyard server``: a signed cookie naming the user, with an expiry and a CSRF token.

Single sign-on (:mod:`shipyard.server._oidc`) ends by issuing a :class:`Session`. Its
cookie is HttpOnly, ``SameSite=Lax`` and ``Secure`` when the server's public URL is
https; it is signed (``itsdangerous``), so a client can neither forge nor extend it,
and it carries its own expiry. A session authenticates only the browser: every
state-changing request it authenticates must repeat the session's CSRF token in the
``X-CSRF-Token`` header (the token is also readable in the ``shipyard_csrf`` cookie,
so a page's script can send it: a synchronizer token checked against the signed
session). Logging out ends a session on the server too (a copied cookie is refused
until it would have expired). API clients send bearer tokens and need none of this.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import itsdangerous
from starlette.requests import cookie_parser
from starlette.responses import Response
from starlette.types import Scope

from shipyard.access import AccessStore, User
from shipyard.errors import MissingExtra, NotFound

__all__ = ["COOKIE", "CSRF_COOKIE", "CSRF_HEADER", "SAFE_METHODS", "Session", "Sessions", "require_sso"]

COOKIE = "shipyard_session"
CSRF_COOKIE = "shipyard_csrf"
CSRF_HEADER = b"x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def require_sso(module: str) -> Any:
    """Import ``module`` of the ``sso`` extra, or raise :class:`MissingExtra` naming the install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(module.partition(".")[0], "sso") from None


@dataclass(frozen=True)
class Session:
    """A signed-in browser: the user's name, its CSRF token, and when it ends (epoch seconds)."""

    user: str
    csrf: str
    expires_at: float


class Sessions:
    """Issue, read and end browser sessions signed with ``secret``, valid ``max_age`` seconds."""

    def __init__(self, secret: str, max_age: float, secure: bool,
                 clock: Callable[[], float] = time.time) -> None:
        self._serializer = itsdangerous.URLSafeSerializer(secret, salt="shipyard.session")
        self._login = itsdangerous.URLSafeSerializer(secret, salt="shipyard.oidc-login")
        self._bad_signature = itsdangerous.BadData
        self.max_age, self.secure, self.clock = max_age, secure, clock
        self._ended: dict[str, float] = {}  # CSRF token (unique per session) -> its expiry: logged out

    def end(self, session: Session) -> None:
        """Log ``session`` out: its cookie is refused from now on, even a copy kept elsewhere."""
        now = self.clock()
        self._ended = {k: t for k, t in self._ended.items() if t > now}  # forget what has expired anyway
        self._ended[session.csrf] = session.expires_at

    def sign_login(self, value: list[Any]) -> str:
        """Sign the secrets of a sign-in in progress (a cookie of their own, apart from sessions)."""
        return str(self._login.dumps(value))

    def unsign_login(self, value: str) -> Any:
        """What :meth:`sign_login` signed, or None for a forged or tampered value."""
        try:
            return self._login.loads(value)
        except self._bad_signature:
            return None

    def issue(self, user: str) -> Session:
        return Session(user, secrets.token_urlsafe(24), self.clock() + self.max_age)

    def encode(self, session: Session) -> str:
        return str(self._serializer.dumps([session.user, session.csrf, session.expires_at]))

    def decode(self, value: str) -> Session | None:
        """The session ``value`` holds; None if it is forged, tampered, malformed or expired."""
        try:
            user, csrf, expires_at = self._serializer.loads(value)
        except (self._bad_signature, ValueError, TypeError):
            return None
        if not isinstance(user, str) or not isinstance(csrf, str) or not isinstance(expires_at, int | float):
            return None
        if expires_at <= self.clock() or csrf in self._ended:
            return None
        return Session(user, csrf, float(expires_at))

    def read(self, scope: Scope) -> Session | None:
        """The request's valid session, if its cookie holds one."""
        for key, value in scope["headers"]:
            if key == b"cookie":
                raw = cookie_parser(value.decode("latin-1")).get(COOKIE)
                if raw:
                    return self.decode(raw)
        return None

    @staticmethod
    def csrf_ok(session: Session, sent: str | None) -> bool:
        return bool(sent) and secrets.compare_digest(str(sent).encode(), session.csrf.encode())

    @staticmethod
    def user(session: Session, store: AccessStore) -> User | None:
        """The session's user, asked of the store each time: a disabled or deleted user is refused."""
        try:
            user = store.get_user(session.user)
        except NotFound:
            return None
        return None if user.disabled else user

    def set_cookies(self, response: Response, session: Session) -> None:
        max_age = max(1, int(session.expires_at - self.clock()))
        response.set_cookie(COOKIE, self.encode(session), max_age=max_age, httponly=True, samesite="lax",
                            secure=self.secure, path="/")
        # Readable by the page's scripts on purpose: they echo it in X-CSRF-Token.
        response.set_cookie(CSRF_COOKIE, session.csrf, max_age=max_age, httponly=False, samesite="lax",
                            secure=self.secure, path="/")

    def clear_cookies(self, response: Response) -> None:
        for name in (COOKIE, CSRF_COOKIE):
            response.delete_cookie(name, path="/", secure=self.secure, httponly=name == COOKIE, samesite="lax")
