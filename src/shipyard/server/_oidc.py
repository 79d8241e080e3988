"""Single sign-on for ``shipyard server``: OpenID Connect, authorization code flow with PKCE.

Configured by the ``[auth.oidc]`` table of ``shipyard.toml``
(:class:`~shipyard.config.OidcConfig`). Three routes, all public in the permission table:

- ``GET /login`` redirects to the provider with a fresh ``state``, ``nonce`` and PKCE
  challenge (S256); the three secrets wait in a short-lived signed, HttpOnly cookie;
- ``GET /auth/callback`` checks ``state``, exchanges the code (with the verifier and the
  client secret), validates the ID token (signature against the provider's JWKS,
  issuer, audience, expiry, nonce), finds the user linked to the token's subject (or
  links one, see below), gives it the role the configured claim maps to, and starts a
  browser session (:mod:`shipyard.server._session`);
- ``POST /logout`` ends the session (one started by a password too,
  :mod:`shipyard.server._password_login`); it needs the session's CSRF token (the
  ``X-CSRF-Token`` header or a ``csrf_token`` form field).

A provider account is known by its issuer and subject (``sub``: stable, never reassigned),
not by the user name it claims. At its first sign-in it is linked to the user named by the
username claim: a new user, or an existing one that no provider account is linked to yet
(a user made before single sign-on was set up). A user already linked to one account is
never re-linked to another, so a second account claiming the same name is refused rather
than taking the user over; and once linked, renaming the account at the provider changes
nothing here.

Authlib provides the PKCE and token primitives; ID tokens are verified with ``joserfc``
(Authlib's JOSE library). Both come with the ``sso`` extra. Every failure answers 401
or 403 with a reason and never echoes a token, code or secret.
"""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from shipyard.access import ROLES, AccessStore, User
from shipyard.config import OidcConfig
from shipyard.errors import Conflict, InvalidInput, NotFound
from shipyard.server._errors import error_response
from shipyard.server._schemas import ERROR_ANSWERS, ErrorBody
from shipyard.server._session import Session, Sessions, require_sso

__all__ = ["OidcLogin", "from_config", "router"]

LOGIN_COOKIE = "shipyard_oidc_login"
_LOGIN_MAX_AGE = 600  # seconds a user has to finish signing in at the provider
_CALLBACK = "/auth/callback"

# A provider that cannot be reached or answers badly is the gateway's failure: 502.
_ANSWERS: dict[int | str, dict[str, Any]] = {
    **ERROR_ANSWERS, 502: {"model": ErrorBody, "description": "The identity provider failed"}}

router = APIRouter(tags=["single sign-on"], responses=_ANSWERS)


class _LoginFailed(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class OidcLogin:
    """The relying party: discovery, the authorization request, the code exchange and ID-token checks."""

    def __init__(self, config: OidcConfig, sessions: Sessions, *, timeout: float = 10.0) -> None:
        require_sso("authlib")
        self._jose = require_sso("joserfc.jwt")
        self._jwk = require_sso("joserfc.jwk")
        self._errors = require_sso("joserfc.errors")
        self.config, self.sessions, self._timeout = config, sessions, timeout
        self._metadata: dict[str, Any] | None = None
        self._keys: Any = None

    @property
    def redirect_uri(self) -> str:
        return self.config.redirect_base.rstrip("/") + _CALLBACK

    async def _get(self, url: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as http:
                response = await http.get(url)
                response.raise_for_status()
                data = response.json()
        except (httpx.HTTPError, ValueError):
            raise _LoginFailed(502, "the identity provider could not be reached or answered badly") from None
        if not isinstance(data, dict):
            raise _LoginFailed(502, "the identity provider answered badly")
        return data

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (read once), checked to be the configured issuer's."""
        if self._metadata is None:
            data = await self._get(self.config.issuer.rstrip("/") + "/.well-known/openid-configuration")
            if str(data.get("issuer", "")).rstrip("/") != self.config.issuer.rstrip("/"):
                raise _LoginFailed(502, "the identity provider's discovery document names another issuer")
            for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(data.get(key), str):
                    raise _LoginFailed(502, f"the identity provider's discovery document lacks {key!r}")
            self._metadata = data
        return self._metadata

    async def _key_set(self, refresh: bool = False) -> Any:
        if self._keys is None or refresh:
            self._keys = self._jwk.KeySet.import_key_set(await self._get((await self.metadata())["jwks_uri"]))
        return self._keys

    async def start(self, next_path: str) -> tuple[str, str]:
        """The provider URL to send the browser to, and the signed login cookie holding its secrets."""
        from authlib.oauth2.rfc7636 import create_s256_code_challenge

        state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
        query = urlencode({"response_type": "code", "client_id": self.config.client_id,
                           "redirect_uri": self.redirect_uri, "scope": self.config.scopes, "state": state,
                           "nonce": nonce, "code_challenge": create_s256_code_challenge(verifier),
                           "code_challenge_method": "S256"})
        endpoint = (await self.metadata())["authorization_endpoint"]
        cookie = self.sessions.sign_login([state, nonce, verifier, next_path, time.time() + _LOGIN_MAX_AGE])
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}", cookie

    async def finish(self, params: dict[str, str], cookie: str | None) -> tuple[dict[str, Any], str]:
        """The validated ID-token claims of the callback ``params``, and where to send the browser next."""
        login = self.sessions.unsign_login(cookie) if cookie else None
        if not isinstance(login, list) or len(login) != 5 or not isinstance(login[4], int | float) \
                or login[4] < time.time():
            raise _LoginFailed(401, "no sign-in in progress, or it took too long: start again at /login")
        state, nonce, verifier, next_path, _ = login
        if "error" in params:
            raise _LoginFailed(401, f"the identity provider refused the sign-in: {params['error'][:64]!r}")
        if not secrets.compare_digest(str(params.get("state", "")).encode(), str(state).encode()):
            raise _LoginFailed(401, "the sign-in's state does not match: start again at /login")
        if not params.get("code"):
            raise _LoginFailed(401, "the identity provider sent no authorization code")
        id_token = await self._exchange(params["code"], str(verifier))
        return await self.validate(id_token, str(nonce)), str(next_path)

    async def _exchange(self, code: str, verifier: str) -> str:
        endpoint = (await self.metadata())["token_endpoint"]
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as http:
                response = await http.post(endpoint, auth=(self.config.client_id, self.config.client_secret),
                                           data={"grant_type": "authorization_code", "code": code,
                                                 "redirect_uri": self.redirect_uri, "code_verifier": verifier})
        except httpx.HTTPError:
            raise _LoginFailed(502, "the identity provider could not be reached") from None
        try:
            id_token = response.json().get("id_token") if response.is_success else None
        except ValueError:
            id_token = None
        if not isinstance(id_token, str):
            raise _LoginFailed(401, f"the identity provider refused the code exchange ({response.status_code})")
        return id_token

    async def validate(self, id_token: str, nonce: str) -> dict[str, Any]:
        """The claims of ``id_token`` once its signature (JWKS), issuer, audience, expiry and nonce check out."""
        registry = self._jose.JWTClaimsRegistry(
            leeway=30, iss={"essential": True, "value": self.config.issuer.rstrip("/")},
            aud={"essential": True, "value": self.config.client_id}, exp={"essential": True},
            sub={"essential": True}, nonce={"essential": True, "value": nonce})
        for refresh in (False, True):  # an unknown key may be a rotated one: fetch the JWKS once more
            try:
                token = self._jose.decode(id_token, await self._key_set(refresh), algorithms=["RS256", "ES256"])
                registry.validate(token.claims)
                return dict(token.claims)
            except self._errors.JoseError as exc:
                failure = exc
            except ValueError:
                raise _LoginFailed(401, "the ID token is malformed") from None
        raise _LoginFailed(401, f"the ID token is not valid: {type(failure).__name__}")

    def role_for(self, claims: dict[str, Any]) -> str | None:
        """The strongest role the configured claim maps to, else ``default_role``."""
        values = claims.get(self.config.role_claim)
        values = [values] if isinstance(values, str) else values if isinstance(values, list) else []
        mapped = {self.config.roles[v] for v in values if isinstance(v, str) and v in self.config.roles}
        return max(mapped, key=ROLES.index) if mapped else self.config.default_role

    def sign_in(self, claims: dict[str, Any], store: AccessStore) -> User:
        """The user linked to the claims' subject (linked now at its first sign-in), with the
        mapped role (the provider is its source)."""
        role = self.role_for(claims)
        if role is None:
            raise _LoginFailed(403, "no Shipyard role is mapped to this account")
        issuer, subject = self.config.issuer.rstrip("/"), str(claims["sub"])
        user = store.user_for_identity(issuer, subject)
        if user is None:
            user = self._link(claims, store, issuer, subject, role)
        if user.disabled:
            raise _LoginFailed(403, "this user is disabled")
        return user if user.role == role else store.set_role(user.name, role)

    def _link(self, claims: dict[str, Any], store: AccessStore, issuer: str, subject: str, role: str) -> User:
        """Link the account to the user its username claim names, creating the user if there is none."""
        name = str(claims.get(self.config.username_claim) or claims.get("email") or subject)
        try:
            return store.link_identity(name, issuer, subject, role)
        except InvalidInput as exc:
            raise _LoginFailed(403, f"this account cannot be a Shipyard user: {exc.message}") from None
        except Conflict:
            # The same account signing in twice at once: the other sign-in linked it first.
            linked = store.user_for_identity(issuer, subject)
            if linked is None:
                raise _LoginFailed(403, f"the user {name[:64]!r} belongs to another account of the identity "
                                        "provider") from None
            return linked


def from_config(config: OidcConfig | None) -> tuple[Sessions | None, OidcLogin | None]:
    """The server's browser sessions and relying party, or ``(None, None)`` without ``[auth.oidc]``.

    Without a configured ``session_secret`` sessions are signed with a random key, so they
    end when the server restarts (and are not shared between replicas).
    """
    if config is None:
        return None, None
    sessions = Sessions(config.session_secret or secrets.token_urlsafe(32), config.session_max_age,
                        secure=config.redirect_base.startswith("https://"))
    return sessions, OidcLogin(config, sessions)


def _oidc(request: Request) -> OidcLogin:
    oidc: OidcLogin | None = getattr(request.app.state, "oidc", None)
    if oidc is None:
        raise NotFound("single sign-on is not configured on this server ([auth.oidc] in shipyard.toml)",
                       resource="oidc")
    return oidc


def _local(path: str | None) -> str:
    """``path`` if it stays on this server (no open redirect), else ``/``."""
    if path and path.startswith("/") and not path.startswith(("//", "/\\")):
        return path
    return "/"


@router.get("/login", status_code=302, response_class=RedirectResponse,
            responses={302: {"description": "To the identity provider's sign-in page"}})
async def login(request: Request, next: str | None = None) -> Response:
    """Start signing in: a redirect to the identity provider, which sends the browser back to
    ``/auth/callback`` and from there to ``next`` (a path on this server)."""
    oidc = _oidc(request)
    try:
        url, cookie = await oidc.start(_local(next))
    except _LoginFailed as failed:
        return error_response(failed.status, "LoginFailed", failed.message)
    response = RedirectResponse(url, status_code=302)
    response.set_cookie(LOGIN_COOKIE, cookie, max_age=_LOGIN_MAX_AGE, httponly=True, samesite="lax",
                        secure=oidc.sessions.secure, path=_CALLBACK)
    return response


@router.get(_CALLBACK, status_code=303, response_class=RedirectResponse,
            responses={303: {"description": "Signed in: the session cookies are set; on to the page asked for"}})
async def callback(request: Request) -> Response:
    """Where the identity provider sends the browser back (``code`` and ``state``, or ``error``)."""
    oidc = _oidc(request)
    try:
        claims, next_path = await oidc.finish(dict(request.query_params), request.cookies.get(LOGIN_COOKIE))
        user = await run_in_threadpool(oidc.sign_in, claims, request.app.state.access)
    except _LoginFailed as failed:
        response: Response = error_response(failed.status, "LoginFailed", failed.message)
    else:
        response = RedirectResponse(_local(next_path), status_code=303)
        oidc.sessions.set_cookies(response, oidc.sessions.issue(user.name))
    response.delete_cookie(LOGIN_COOKIE, path=_CALLBACK, secure=oidc.sessions.secure, httponly=True,
                           samesite="lax")
    return response


@router.post("/logout", status_code=204, responses={204: {"description": "Signed out: the session has ended"}})
async def logout(request: Request) -> Response:
    """End the browser session, signed in by single sign-on or a password; needs its CSRF token
    (``X-CSRF-Token``, or a ``csrf_token`` form field)."""
    sessions: Sessions | None = getattr(request.app.state, "sessions", None)
    if sessions is None:
        raise NotFound("this server has no browser sessions", resource="session")
    session: Session | None = sessions.read(request.scope)
    if session is None:
        return error_response(401, "Unauthorized", "not signed in, or the session has ended")
    sent = request.headers.get("x-csrf-token")
    if sent is None and "application/x-www-form-urlencoded" in request.headers.get("content-type", ""):
        sent = dict(parse_qsl((await request.body())[:4096].decode("latin-1"))).get("csrf_token")
    if not sessions.csrf_ok(session, sent):
        return error_response(403, "PermissionDenied", "missing or wrong CSRF token")
    sessions.end(session)
    response = Response(status_code=204)
    sessions.clear_cookies(response)
    return response
