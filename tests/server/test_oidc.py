"""Single sign-on against a real OpenID Connect provider on loopback (``oidc-provider-mock``):
the login round trip, ID-token checks, session expiry, CSRF and logout."""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from shipyard import Config, ConfigError
from shipyard.config import OidcConfig, load_config
from shipyard.errors import MissingExtra
from shipyard.server import create_app
from shipyard.server._oidc import OidcLogin, _LoginFailed
from shipyard.server._session import COOKIE, CSRF_COOKIE, Session, Sessions
from tests.services import ServerThread, free_port

# The provider is a development dependency: its absence is a broken setup, not a reason to skip.
assert importlib.util.find_spec("oidc_provider_mock") is not None, "pip install -e '.[dev]' (oidc-provider-mock)"

CLIENT_SECRET = "client-secret-never-shown"


@dataclass
class Sso:
    url: str
    issuer: str
    app: FastAPI
    root: dict[str, str]

    @property
    def oidc(self) -> OidcLogin:
        return self.app.state.oidc  # type: ignore[no-any-return]


@contextmanager
def _provider() -> Iterator[str]:
    """``oidc-provider-mock`` on a free loopback port, in its own process; its issuer URL."""
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1",
                                "--port", str(port), "--require-nonce"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(issuer + "/.well-known/openid-configuration").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the OIDC provider did not start")
            time.sleep(0.1)
        yield issuer
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def sso(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sso]:
    with _provider() as issuer:
        port = free_port()
        config = Config(home=tmp_path_factory.mktemp("sso"), auth={"oidc": {
            "issuer": issuer, "client_id": "shipyard", "client_secret": CLIENT_SECRET,
            "redirect_base": f"http://127.0.0.1:{port}", "role_claim": "groups",
            "roles": {"admins": "admin", "ml": "editor"}}})
        app = create_app(config)
        thread = ServerThread(app, port).start()
        try:
            app.state.access.create_user("root", "admin")  # authentication is on before anyone signs in
            root = {"Authorization": f"Bearer {app.state.access.create_token('root')[1]}"}
            yield Sso(thread.url, issuer, app, root)
        finally:
            thread.stop()


def _set_claims(sso: Sso, sub: str, claims: dict[str, Any]) -> None:
    assert httpx.put(f"{sso.issuer}/users/{sub}", json=claims).status_code == 204


def _authorize(authorize_url: str, sub: str) -> str:
    """Sign in at the provider's form as ``sub``; the redirect back to the relying party."""
    form = httpx.get(authorize_url)
    assert form.status_code == 200 and "sub" in form.text
    action = re.search(r'<form[^>]*action="([^"]*)"', form.text)
    target = unescape(action.group(1)) if action and action.group(1) else authorize_url
    if target.startswith("/") or target.startswith("?"):
        parts = urlsplit(authorize_url)
        target = f"{parts.scheme}://{parts.netloc}{target if target.startswith('/') else parts.path + target}"
    answer = httpx.post(target, data={"sub": sub})
    assert answer.status_code in (302, 303), answer.text
    return answer.headers["location"]


@contextmanager
def _sign_in(sso: Sso, sub: str, claims: dict[str, Any]) -> Iterator[httpx.Client]:
    """A browser that went through the whole login: /login, the provider's form, /auth/callback."""
    _set_claims(sso, sub, claims)
    with httpx.Client(base_url=sso.url, timeout=30) as browser:
        yield _signed_in(sso, sub, browser)


def _signed_in(sso: Sso, sub: str, browser: httpx.Client) -> httpx.Client:
    start = browser.get("/login", params={"next": "/docs"})
    assert start.status_code == 302
    location = start.headers["location"]
    query = parse_qs(urlsplit(location).query)
    assert location.startswith(sso.issuer)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"] and query["nonce"]
    assert CLIENT_SECRET not in location
    back = _authorize(location, sub)
    assert back.startswith(sso.url + "/auth/callback")
    done = browser.get(back)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/docs"
    return browser


def _session_cookie_header(response: httpx.Response) -> str:
    return next(h for h in response.headers.get_list("set-cookie") if h.startswith(COOKIE + "="))


def test_the_login_round_trip_ends_in_a_session_acting_as_the_mapped_role(sso: Sso) -> None:
    with _sign_in(sso, "ana-sub", {"preferred_username": "ana", "groups": ["ml", "other"]}) as browser:
        assert sso.app.state.access.get_user("ana").role == "editor"
        assert browser.get("/api/v1/experiments").status_code == 200
        csrf = browser.cookies[CSRF_COOKIE]
        created = browser.post("/api/v1/experiments", json={"name": "from-browser"}, headers={"X-CSRF-Token": csrf})
        assert created.status_code == 200, created.text
        history = browser.put("/api/v1/registry/models/any/policy", json={"aliases": [], "rules": []},
                              headers={"X-CSRF-Token": csrf})
        assert history.status_code == 403  # approver's work: an editor may not


def test_the_session_cookie_is_httponly_samesite_and_signed(sso: Sso) -> None:
    _set_claims(sso, "cookie-sub", {"preferred_username": "cookie", "groups": "ml"})
    with httpx.Client(base_url=sso.url, timeout=30) as browser:
        back = _authorize(browser.get("/login").headers["location"], "cookie-sub")
        done = browser.get(back)
        forged = browser.cookies[COOKIE][:-2] + ("AA" if not browser.cookies[COOKIE].endswith("AA") else "BB")
    header = _session_cookie_header(done).lower()
    assert "httponly" in header and "samesite=lax" in header and "max-age=" in header
    assert "secure" not in header  # served over http here; https public URLs get Secure
    anon = httpx.get(sso.url + "/api/v1/experiments", cookies={COOKIE: forged})
    assert anon.status_code == 401


def test_the_strongest_mapped_role_wins_and_an_unmapped_account_is_refused(sso: Sso) -> None:
    with _sign_in(sso, "boss-sub", {"preferred_username": "boss", "groups": ["ml", "admins"]}):
        pass
    assert sso.app.state.access.get_user("boss").role == "admin"
    _set_claims(sso, "nobody-sub", {"preferred_username": "nobody", "groups": ["visitors"]})
    with httpx.Client(base_url=sso.url, timeout=30) as browser:
        refused = browser.get(_authorize(browser.get("/login").headers["location"], "nobody-sub"))
        assert refused.status_code == 403
        assert COOKIE not in browser.cookies
    assert "nobody" not in [u.name for u in sso.app.state.access.list_users()]


def test_a_callback_whose_state_does_not_match_is_refused(sso: Sso) -> None:
    _set_claims(sso, "eve-sub", {"preferred_username": "eve", "groups": ["admins"]})
    with httpx.Client(base_url=sso.url, timeout=30) as browser:
        back = _authorize(browser.get("/login").headers["location"], "eve-sub")
        tampered = re.sub(r"state=[^&]+", "state=guessed", back)
        assert browser.get(tampered).status_code == 401
        assert COOKIE not in browser.cookies
    other = httpx.get(back)  # the right state, but not the browser that started the sign-in
    assert other.status_code == 401


def _id_token(sso: Sso, sub: str, claims: dict[str, Any], nonce: str) -> str:
    """An ID token the provider really issued to ``shipyard`` for ``sub``, with ``nonce``."""
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

    _set_claims(sso, sub, claims)
    verifier = "v" * 50
    redirect = sso.oidc.redirect_uri
    url = httpx.Request("GET", f"{sso.issuer}/oauth2/authorize", params={
        "response_type": "code", "client_id": "shipyard", "redirect_uri": redirect, "scope": "openid profile",
        "state": "s", "nonce": nonce, "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256"}).url
    code = parse_qs(urlsplit(_authorize(str(url), sub)).query)["code"][0]
    answer = httpx.post(f"{sso.issuer}/oauth2/token", auth=("shipyard", CLIENT_SECRET), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect, "code_verifier": verifier})
    return str(answer.json()["id_token"])


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_tampered_or_misdirected_id_token_is_refused(sso: Sso) -> None:
    token = _id_token(sso, "tam-sub", {"preferred_username": "tam", "groups": ["ml"]}, nonce="n-1")
    claims = asyncio.run(sso.oidc.validate(token, "n-1"))
    assert claims["groups"] == ["ml"]  # the untouched token passes
    header, payload, signature = token.split(".")
    raised = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    raised["groups"] = ["admins"]
    for bad, nonce in [(f"{header}.{_b64(raised)}.{signature}", "n-1"),  # claims changed under the signature
                       (f"{header}.{payload}.{signature[:-4]}AAAA", "n-1"),  # signature changed
                       (f"{_b64({'alg': 'none'})}.{_b64(raised)}.", "n-1"),  # unsigned
                       ("not-a-token", "n-1"),
                       (token, "another-nonce")]:  # replayed into another sign-in
        with pytest.raises(_LoginFailed) as refused:
            asyncio.run(sso.oidc.validate(bad, nonce))
        assert refused.value.status == 401
    other_audience = OidcLogin(OidcConfig.from_mapping({**_raw(sso), "client_id": "another-app"}), sso.oidc.sessions)
    with pytest.raises(_LoginFailed):
        asyncio.run(other_audience.validate(token, "n-1"))
    other_issuer = OidcLogin(OidcConfig.from_mapping({**_raw(sso), "issuer": sso.issuer.replace("127.0.0.1",
                                                                                                  "localhost")}),
                             sso.oidc.sessions)
    other_issuer._keys = asyncio.run(sso.oidc._key_set())
    with pytest.raises(_LoginFailed):
        asyncio.run(other_issuer.validate(token, "n-1"))


def _raw(sso: Sso) -> dict[str, Any]:
    c = sso.oidc.config
    return {"issuer": c.issuer, "client_id": c.client_id, "client_secret": c.client_secret,
            "redirect_base": c.redirect_base, "roles": dict(c.roles)}


def test_an_expired_session_is_refused(sso: Sso) -> None:
    sessions: Sessions = sso.app.state.sessions
    with _sign_in(sso, "exp-sub", {"preferred_username": "exp", "groups": ["ml"]}) as browser:
        assert browser.get("/api/v1/experiments").status_code == 200
        real_clock = sessions.clock
        sessions.clock = lambda: real_clock() + sessions.max_age + 1
        try:
            assert browser.get("/api/v1/experiments").status_code == 401
        finally:
            sessions.clock = real_clock
        stale = sessions.encode(Session("exp", "csrf", time.time() - 1))
        assert httpx.get(sso.url + "/api/v1/experiments", cookies={COOKIE: stale}).status_code == 401


def test_a_state_changing_request_on_the_session_cookie_needs_the_csrf_token(sso: Sso) -> None:
    with _sign_in(sso, "csrf-sub", {"preferred_username": "csrfuser", "groups": ["ml"]}) as browser:
        for headers in ({}, {"X-CSRF-Token": "guessed"}):
            refused = browser.post("/api/v1/experiments", json={"name": "csrf-less"}, headers=headers)
            assert refused.status_code == 403, refused.text
        assert browser.post("/api/2.0/mlflow/experiments/create", json={"name": "csrf-less"}).status_code == 403
        names = [e["name"] for e in httpx.get(sso.url + "/api/v1/experiments", headers=sso.root).json()["items"]]
        assert "csrf-less" not in names
    # An API client with a bearer token needs no CSRF token.
    assert httpx.post(sso.url + "/api/v1/experiments", json={"name": "by-api"}, headers=sso.root).status_code == 200


def test_logout_needs_the_csrf_token_and_ends_the_session(sso: Sso) -> None:
    with _sign_in(sso, "out-sub", {"preferred_username": "out", "groups": ["ml"]}) as browser:
        kept = browser.cookies[COOKIE]
        assert browser.post("/logout").status_code == 403
        assert browser.post("/logout", data={"csrf_token": "guessed"}).status_code == 403
        assert browser.get("/api/v1/experiments").status_code == 200  # still signed in
        ended = browser.post("/logout", data={"csrf_token": browser.cookies[CSRF_COOKIE]})
        assert ended.status_code == 204
        assert COOKIE not in browser.cookies
        assert browser.get("/api/v1/experiments").status_code == 401
        # A copy of the cookie kept elsewhere is refused too.
        assert httpx.get(sso.url + "/api/v1/experiments", cookies={COOKIE: kept}).status_code == 401
        assert httpx.post(sso.url + "/logout", cookies={COOKIE: kept}).status_code == 401


def test_a_disabled_user_loses_the_session_at_the_next_request(sso: Sso) -> None:
    with _sign_in(sso, "dis-sub", {"preferred_username": "dis", "groups": ["ml"]}) as browser:
        sso.app.state.access.set_disabled("dis")
        assert browser.get("/api/v1/experiments").status_code == 401


def test_login_redirects_only_to_paths_on_this_server(sso: Sso) -> None:
    _set_claims(sso, "nav-sub", {"preferred_username": "nav", "groups": ["ml"]})
    for target in ("https://evil.example/", "//evil.example/x"):
        with httpx.Client(base_url=sso.url, timeout=30) as browser:
            back = _authorize(browser.get("/login", params={"next": target}).headers["location"], "nav-sub")
            assert browser.get(back).headers["location"] == "/"


def test_without_oidc_configured_the_sso_routes_answer_404(tmp_path: Path) -> None:
    with _plain(tmp_path) as url:
        assert httpx.get(url + "/login").status_code == 404
        assert httpx.post(url + "/logout").status_code == 404


class _plain:
    def __init__(self, tmp_path: Path) -> None:
        self.thread = ServerThread(create_app(Config(home=tmp_path)))

    def __enter__(self) -> str:
        return self.thread.start().url

    def __exit__(self, *exc: object) -> None:
        self.thread.stop()


# -- configuration ------------------------------------------------------------------------
def _oidc_table(**extra: Any) -> dict[str, Any]:
    return {"issuer": "https://id.example", "client_id": "shipyard", "client_secret": CLIENT_SECRET,
            "redirect_base": "https://ml.example", **extra}


def test_shipyard_toml_configures_oidc_and_never_shows_the_secret(tmp_path: Path) -> None:
    toml = tmp_path / "shipyard.toml"
    toml.write_text(f'[auth.oidc]\nissuer = "https://id.example"\nclient_id = "shipyard"\n'
                    f'client_secret = "{CLIENT_SECRET}"\nredirect_base = "https://ml.example"\n'
                    f'role_claim = "groups"\nroles = {{admins = "admin", ml = "editor"}}\n')
    config = load_config({"SHIPYARD_CONFIG": str(toml)})
    assert config.oidc is not None
    assert dict(config.oidc.roles) == {"admins": "admin", "ml": "editor"}
    assert CLIENT_SECRET not in repr(config) and CLIENT_SECRET not in repr(config.oidc)


@pytest.mark.parametrize(("table", "field"), [
    ({"client_id": "x"}, "auth.oidc.issuer"),
    (_oidc_table(roles={"admins": "root"}), "auth.oidc.roles"),
    (_oidc_table(issuer="id.example"), "auth.oidc.issuer"),
    (_oidc_table(client_secret=""), "auth.oidc.client_secret"),
    (_oidc_table(default_role="owner"), "auth.oidc.default_role"),
    (_oidc_table(session_max_age=-1), "auth.oidc.session_max_age"),
    (_oidc_table(clientsecret="typo"), "auth.oidc.clientsecret"),
])
def test_a_bad_oidc_table_names_the_field_and_not_the_secret(table: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as bad:
        Config(auth={"oidc": table})
    assert bad.value.context["field"] == field
    assert CLIENT_SECRET not in str(bad.value)


def test_a_server_with_sso_but_without_the_extra_names_the_install(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "itsdangerous", None)
    with pytest.raises(MissingExtra, match=r"pip install 'shipyard\[sso\]'"):
        create_app(Config(home=tmp_path, auth={"oidc": _oidc_table()}))
