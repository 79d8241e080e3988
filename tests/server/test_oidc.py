"""Single sign-on against a real OpenID Connect provider on loopback (``oidc-provider-mock``):
the login round trip, accounts known by their subject, ID-token checks (at the callback too,
behind a proxy that tampers with the provider's answers), session expiry, CSRF and logout."""

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
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

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
def provider() -> Iterator[str]:
    with _provider() as issuer:
        yield issuer


@contextmanager
def _shipyard(home: Path, issuer: str) -> Iterator[Sso]:
    """A Shipyard server signing in through ``issuer``, with authentication on (user ``root``)."""
    port = free_port()
    config = Config(home=home, auth={"oidc": {
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


@pytest.fixture(scope="module")
def sso(tmp_path_factory: pytest.TempPathFactory, provider: str) -> Iterator[Sso]:
    with _shipyard(tmp_path_factory.mktemp("sso"), provider) as server:
        yield server


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


def _callback(sso: Sso, sub: str, claims: dict[str, Any]) -> tuple[httpx.Response, bool]:
    """The answer of /auth/callback when ``sub`` signs in with ``claims``, and whether a session began."""
    _set_claims(sso, sub, claims)
    with httpx.Client(base_url=sso.url, timeout=30) as browser:
        done = browser.get(_authorize(browser.get("/login").headers["location"], sub))
        return done, COOKIE in browser.cookies


def test_an_account_renamed_at_the_provider_still_signs_in_as_its_user(sso: Sso) -> None:
    store = sso.app.state.access
    with _sign_in(sso, "ren-sub", {"preferred_username": "ren", "groups": ["ml"]}):
        pass
    with _sign_in(sso, "ren-sub", {"preferred_username": "renamed", "groups": ["admins"]}) as browser:
        assert browser.get("/api/v1/users").status_code == 200  # the admin role it now maps to
    assert store.get_user("ren").role == "admin"
    assert "renamed" not in [u.name for u in store.list_users()]
    linked = store.user_for_identity(sso.issuer, "ren-sub")
    assert linked is not None and linked.name == "ren"


def test_another_account_claiming_a_linked_users_name_cannot_take_it_over(sso: Sso) -> None:
    store = sso.app.state.access
    with _sign_in(sso, "own-sub", {"preferred_username": "owner", "groups": ["ml"]}):
        pass
    refused, session = _callback(sso, "thief-sub", {"preferred_username": "owner", "groups": ["admins"]})
    assert refused.status_code == 403 and not session
    assert "another account" in refused.json()["error"]["message"]
    assert store.get_user("owner").role == "editor"  # the thief's mapped role was not applied
    assert store.user_for_identity(sso.issuer, "thief-sub") is None
    assert store.user_for_identity(sso.issuer, "own-sub").name == "owner"


def test_a_user_made_before_single_sign_on_is_linked_at_its_first_sign_in_only(sso: Sso) -> None:
    store = sso.app.state.access
    store.create_user("pre", "viewer", "correct horse battery")
    with _sign_in(sso, "pre-sub", {"preferred_username": "pre", "groups": ["ml"]}):
        pass
    assert store.user_for_identity(sso.issuer, "pre-sub").name == "pre"
    assert store.get_user("pre").role == "editor"
    refused, session = _callback(sso, "pre-other-sub", {"preferred_username": "pre", "groups": ["ml"]})
    assert refused.status_code == 403 and not session


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


class _TamperingProxy:
    """A reverse proxy in front of the provider that can rewrite the ID token its token endpoint
    answers. It keeps the Host header, so the provider names the proxy as the issuer."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.rewrite: Any = None  # a function of the ID token, or None to pass it through
        self.app = Starlette(routes=[Route("/{path:path}", self._forward, methods=["GET", "POST", "PUT"])])

    async def _forward(self, request: Request) -> Response:
        headers = {k: v for k, v in request.headers.items() if k not in ("content-length", "accept-encoding")}
        async with httpx.AsyncClient(timeout=30) as http:
            answer = await http.request(request.method, f"{self.upstream}{request.url.path}",
                                        params=request.query_params, headers=headers, content=await request.body())
        body = answer.content
        if request.url.path == "/oauth2/token" and self.rewrite is not None and answer.status_code == 200:
            data = answer.json()
            data["id_token"] = self.rewrite(data["id_token"])
            body = json.dumps(data).encode()
        kept = {k: v for k, v in answer.headers.items()
                if k not in ("content-length", "content-encoding", "transfer-encoding", "connection")}
        return Response(body, status_code=answer.status_code, headers=kept)


@pytest.fixture(scope="module")
def tampered(tmp_path_factory: pytest.TempPathFactory, provider: str) -> Iterator[tuple[Sso, _TamperingProxy]]:
    proxy = _TamperingProxy(provider)
    thread = ServerThread(proxy.app).start()
    try:
        with _shipyard(tmp_path_factory.mktemp("tampered"), thread.url) as server:
            yield server, proxy
    finally:
        thread.stop()


def _decoded(part: str) -> dict[str, Any]:
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def _parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    return _decoded(header), _decoded(payload), signature


def _raised(token: str) -> str:
    """The token with its groups raised to admins, under the provider's signature."""
    header, payload, signature = _parts(token)
    return f"{_b64(header)}.{_b64({**payload, 'groups': ['admins']})}.{signature}"


def _signed_by_another_key(token: str) -> str:
    """The token's claims, raised, signed by a key that is not the provider's (with its key id)."""
    from joserfc import jwk, jwt

    header, payload, _ = _parts(token)
    key = jwk.RSAKey.generate_key(2048, parameters={"kid": header.get("kid", "k")})
    return str(jwt.encode({"alg": "RS256", "kid": header.get("kid", "k")}, {**payload, "groups": ["admins"]}, key))


def _unsigned(token: str) -> str:
    _, payload, _ = _parts(token)
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64({**payload, 'groups': ['admins']})}."


def _expired(token: str) -> str:
    """The token as the provider would have signed it an hour ago: expired (its signature no longer fits either)."""
    header, payload, signature = _parts(token)
    return f"{_b64(header)}.{_b64({**payload, 'exp': int(time.time()) - 3600})}.{signature}"


@pytest.mark.parametrize("rewrite", [_raised, _signed_by_another_key, _unsigned, _expired, lambda _: "not-a-jwt"],
                         ids=["claims-changed", "another-key", "unsigned", "expired", "malformed"])
def test_a_tampered_id_token_at_the_callback_is_refused(tampered: tuple[Sso, _TamperingProxy], rewrite: Any,
                                                        request: pytest.FixtureRequest) -> None:
    server, proxy = tampered
    store = server.app.state.access
    name = f"mal-{request.node.callspec.id}"
    proxy.rewrite = rewrite
    try:
        refused, session = _callback(server, f"{name}-sub", {"preferred_username": name, "groups": ["ml"]})
    finally:
        proxy.rewrite = None
    assert refused.status_code == 401, refused.text
    assert "ID token" in refused.json()["error"]["message"] and not session
    assert name not in [u.name for u in store.list_users()]
    # The same sign-in with the provider's answer untouched goes through, with the role it really maps to.
    done, session = _callback(server, f"{name}-sub", {"preferred_username": name, "groups": ["ml"]})
    assert done.status_code == 303 and session
    assert store.get_user(name).role == "editor"


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
        # A cross-site form posts urlencoded, without the header (a csrf_token field does not count).
        form = browser.post("/api/v1/experiments", data={"name": "csrf-less", "csrf_token": "guessed"})
        assert form.status_code == 403, form.text
        names = [e["name"] for e in httpx.get(sso.url + "/api/v1/experiments", headers=sso.root).json()["items"]]
        assert "csrf-less" not in names
    # An API client with a bearer token needs no CSRF token.
    assert httpx.post(sso.url + "/api/v1/experiments", json={"name": "by-api"}, headers=sso.root).status_code == 200


def test_logout_needs_the_csrf_token_and_ends_the_session(sso: Sso) -> None:
    with _sign_in(sso, "out-sub", {"preferred_username": "out", "groups": ["ml"]}) as browser:
        kept = browser.cookies[COOKIE]
        assert browser.post("/logout").status_code == 403
        assert browser.post("/logout", data={"csrf_token": "guessed"}).status_code == 403
        assert browser.post("/logout", data={"next": "/"}).status_code == 403  # a form without the token
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


def test_without_oidc_configured_sso_sign_in_answers_404(tmp_path: Path) -> None:
    with _plain(tmp_path) as url:
        assert httpx.get(url + "/login").status_code == 404
        assert httpx.get(url + "/auth/callback").status_code == 404
        assert httpx.post(url + "/logout").status_code == 401  # it ends password sessions too


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
    monkeypatch.setitem(sys.modules, "authlib", None)
    with pytest.raises(MissingExtra, match=r"pip install 'shipyard\[sso\]'"):
        create_app(Config(home=tmp_path, auth={"oidc": _oidc_table()}))
