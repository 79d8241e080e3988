"""User and token management over HTTP: what ``shipyard users`` and ``shipyard tokens`` need.

Users live under ``/api/v1/users`` (admins only), tokens under ``/api/v1/tokens`` (a
user's own, or anyone's for an admin). Checking a password or a token is the server's
business alone, so this store does not offer it. Lists come a page at a time; asked for
every item (``max_results=None``) this store follows the pages to the last.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from shipyard.access import Grant, Token, User
from shipyard.remote._http import HttpTransport, RetryPolicy
from shipyard.remote._pages import every_item
from shipyard.tracking import Page

__all__ = ["RemoteAccessStore"]

_API = "/api/v1"


def _user(data: dict[str, Any]) -> User:
    return User(name=data["name"], role=data["role"], disabled=bool(data["disabled"]),
                created_at=int(data["created_at"]),
                grants=tuple(Grant(data["name"], g["resource_type"], g["resource_id"], g["permission"])
                             for g in data["grants"]))


def _grant(data: dict[str, Any]) -> Grant:
    return Grant(data["user"], data["resource_type"], data["resource_id"], data["permission"])


def _token(data: dict[str, Any]) -> Token:
    return Token(id=data["id"], user=data["user"], name=data["name"], created_at=int(data["created_at"]),
                 revoked_at=data["revoked_at"], expires_at=data["expires_at"])


def _name(name: str) -> str:
    return quote(name, safe="")


class RemoteAccessStore:
    """Manage the users and tokens of a ``shipyard server`` (errors as the server reports them)."""

    def __init__(self, url: str, token: str | None = None, retry: RetryPolicy | None = None) -> None:
        self._t = HttpTransport(url, token, retry=retry)

    def close(self) -> None:
        self._t.close()

    def _list(self, path: str, decode: Callable[[dict[str, Any]], Any], params: dict[str, Any],
              max_results: int | None, page_token: str | None) -> Page:
        """One page of ``GET path``, or (``max_results`` None) every item from ``page_token`` on."""
        if page_token:
            params = {**params, "page_token": page_token}
        if max_results is None:
            return Page([decode(x) for x in every_item(self._t, path, params)])
        data = self._t.json("GET", path, params={**params, "max_results": max_results})
        return Page([decode(x) for x in data["items"]], data.get("next_page_token"))

    def create_user(self, name: str, role: str = "viewer", password: str | None = None) -> User:
        return _user(self._t.json("POST", f"{_API}/users", json={"name": name, "role": role, "password": password}))

    def get_user(self, name: str) -> User:
        return _user(self._t.json("GET", f"{_API}/users/{_name(name)}"))

    def list_users(self, max_results: int | None = None, page_token: str | None = None) -> Page:
        return self._list(f"{_API}/users", _user, {}, max_results, page_token)

    def set_role(self, name: str, role: str) -> User:
        return _user(self._t.json("PUT", f"{_API}/users/{_name(name)}/role", json={"role": role}))

    def set_disabled(self, name: str, disabled: bool = True) -> User:
        action = "disable" if disabled else "enable"
        return _user(self._t.json("POST", f"{_API}/users/{_name(name)}/{action}"))

    def grant(self, user: str, resource_type: str, resource_id: str, permission: str) -> Grant:
        return _grant(self._t.json("POST", f"{_API}/users/{_name(user)}/grants",
                                   json={"resource_type": resource_type, "resource_id": resource_id,
                                         "permission": permission}))

    def revoke_grant(self, user: str, resource_type: str, resource_id: str) -> Grant:
        return _grant(self._t.json("DELETE", f"{_API}/users/{_name(user)}/grants/{_name(resource_type)}/"
                                             f"{_name(resource_id)}"))

    def list_grants(self, user: str, max_results: int | None = None, page_token: str | None = None) -> Page:
        return self._list(f"{_API}/users/{_name(user)}/grants", _grant, {}, max_results, page_token)

    def create_token(self, user: str, name: str = "", expires_in_ms: int | None = None) -> tuple[Token, str]:
        data = self._t.json("POST", f"{_API}/tokens", json={"user": user, "name": name,
                                                             "expires_in_ms": expires_in_ms})
        return _token(data), str(data["token"])

    def list_tokens(self, user: str | None = None, max_results: int | None = None,
                    page_token: str | None = None) -> Page:
        params = {"user": user} if user is not None else {}
        return self._list(f"{_API}/tokens", _token, params, max_results, page_token)

    def revoke_token(self, token_id: str) -> Token:
        return _token(self._t.json("DELETE", f"{_API}/tokens/{_name(token_id)}"))
