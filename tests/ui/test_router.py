"""The UI's shell and files as served: open without a credential, all from this server,
locked down by a Content-Security-Policy, and only the package's own files."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shipyard import Config
from shipyard.ui import ASSETS_URL
from tests.services import running_server

STATIC = Path(__file__).resolve().parents[2] / "src" / "shipyard" / "ui" / "static"
_LOADED = re.compile(r"""(?:src|href)\s*=\s*["']([^"'#][^"']*)["']""")
# A route of main.js: [/pattern/, "page module", "its render function"].
_ROUTES = re.compile(r'^\s*\[/.+/, "(\w+)", "(\w+)"\],$', re.MULTILINE)
_IMPORTS = re.compile(r"""^import\s[^;]*?from\s+"([^"]+)";""", re.M)


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A server with authentication on: the shell and its files must not need it."""
    with running_server(Config(home=tmp_path_factory.mktemp("ui"), token="a-token")) as server, \
            httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def test_the_shell_and_every_file_it_loads_are_served_without_a_credential(http: httpx.Client) -> None:
    page = http.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    loaded = _LOADED.findall(page.text)
    assert {f"{ASSETS_URL}/js/main.js", f"{ASSETS_URL}/vendor/uPlot.iife.min.js", "/docs"} <= set(loaded)
    for url in loaded:
        assert url.startswith("/"), url  # nothing from another host
        if url.startswith(ASSETS_URL):
            assert http.get(url).status_code == 200, url
    assert http.get("/api/v1/experiments").status_code == 401  # the data still needs one


def test_the_shell_allows_only_this_servers_scripts_and_no_inline_code(http: httpx.Client) -> None:
    page = http.get("/")
    policy = dict(part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";"))
    assert policy["script-src"] == "'self'" and policy["connect-src"] == "'self'"
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert "<script>" not in page.text and " on" not in re.sub(r"<noscript>.*</noscript>", "", page.text, flags=re.S)


def test_every_module_the_ui_imports_is_served_with_a_javascript_type(http: httpx.Client) -> None:
    pending, seen = [f"{ASSETS_URL}/js/main.js"], set()
    while pending:
        url = pending.pop()
        if url in seen:
            continue
        seen.add(url)
        answer = http.get(url)
        assert answer.status_code == 200, url
        assert answer.headers["content-type"].startswith("text/javascript"), url
        assert answer.headers["x-content-type-options"] == "nosniff"
        base = url.rsplit("/", 1)[0]
        for target in _IMPORTS.findall(answer.text):
            pending.append(str(httpx.URL(f"http://x{base}/").join(target).path))
        for module, name in _ROUTES.findall(answer.text):  # main.js's pages, loaded when opened
            page = http.get(f"{ASSETS_URL}/js/pages/{module}.js")
            assert re.search(rf"export (async )?function {name}\b", page.text), f"{module}.js has no {name}"
            pending.append(f"{ASSETS_URL}/js/pages/{module}.js")
    pages = {p.stem for p in (STATIC / "js" / "pages").glob("*.js")}
    assert {f"{ASSETS_URL}/js/pages/{name}.js" for name in pages} <= seen  # every page kind is reachable
    assert http.get(f"{ASSETS_URL}/app.css").headers["content-type"].startswith("text/css")


def test_only_the_packages_ui_files_are_served(http: httpx.Client) -> None:
    for path in ("nothing.js", "..%2F_router.py", "..%2F..%2Fserver%2F_app.py", "%2Fetc%2Fpasswd", "/etc/passwd",
                 "index.html", "js"):
        answer = http.get(f"{ASSETS_URL}/{path}")
        assert answer.status_code == 404, path
        assert answer.json()["error"]["code"] == "NotFound"


def test_the_ui_loads_nothing_from_another_host() -> None:
    own = [f for f in STATIC.rglob("*") if f.is_file() and "vendor" not in f.parts]
    assert len(own) > 5
    for file in own:
        text = file.read_text(encoding="utf-8")
        assert not re.search(r"https?://", text.replace("http://www.w3.org/2000/svg", "")), file


def test_the_vendored_files_are_the_pinned_ones_with_their_licence() -> None:
    readme = (STATIC / "vendor" / "README.md").read_text()
    pinned = dict(re.findall(r"^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$", readme, re.M))
    files = {f.name for f in (STATIC / "vendor").iterdir()} - {"README.md"}
    assert set(pinned) == files
    for name, digest in pinned.items():
        assert hashlib.sha256((STATIC / "vendor" / name).read_bytes()).hexdigest() == digest, name
    assert "MIT License" in (STATIC / "vendor" / "uPlot.LICENSE").read_text()
    assert "v1.6.32" in (STATIC / "vendor" / "uPlot.iife.min.js").read_text()[:100]


def test_the_shell_says_which_ways_of_signing_in_the_server_offers(tmp_path: Path) -> None:
    oidc = {"issuer": "https://id.example", "client_id": "shipyard", "client_secret": "s" * 40,
            "redirect_base": "https://ml.example"}
    with running_server(Config(home=tmp_path / "plain")) as plain:
        body = re.search(r"<body([^>]*)>", httpx.get(plain.url + "/", timeout=30).text)
        assert body and 'data-password-login="true"' in body.group(1) and 'data-sso="false"' in body.group(1)
    with running_server(Config(home=tmp_path / "sso", auth={"oidc": oidc})) as sso:
        body = re.search(r"<body([^>]*)>", httpx.get(sso.url + "/", timeout=30).text)
        assert body and 'data-sso="true"' in body.group(1)
