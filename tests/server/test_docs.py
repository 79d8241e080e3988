"""The server's pages: ``/`` (the web UI) links the API docs, ``/docs`` works with no internet access."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shipyard import Config
from tests.services import running_server

_REFERENCES = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|\burl\s*:\s*["']([^"']+)["']""")


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    home: Path = tmp_path_factory.mktemp("docs")
    with running_server(Config(home=home)) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def references(html: str) -> list[str]:
    """Every URL a page loads or links to (``src``, ``href`` and Swagger UI's ``url:``)."""
    return [a or b for a, b in _REFERENCES.findall(html)]


def test_the_root_is_the_web_ui_pointing_at_the_api_docs(http: httpx.Client) -> None:
    page = http.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    links = [link for link in references(page.text) if not link.startswith("#")]  # the UI's own views
    assert "/docs" in links and "/api/v1/openapi.json" in links and "/api/v1/health" in links
    assert all(link.startswith("/") for link in links), links  # nothing from another host
    for link in links:
        assert http.get(link).status_code == 200, link


def test_the_api_docs_load_every_asset_from_this_server(http: httpx.Client) -> None:
    page = http.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "http://" not in page.text and "https://" not in page.text
    loaded = references(page.text)
    assert {"/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css", "/api/v1/openapi.json"} <= set(loaded)
    for url in loaded:
        assert url.startswith("/"), url
        answer = http.get(url)
        assert answer.status_code == 200 and answer.content, url
    script = http.get("/docs/assets/swagger-ui-bundle.js")
    assert script.headers["content-type"].startswith("text/javascript") and b"SwaggerUIBundle" in script.content
    assert http.get("/docs/assets/swagger-ui.css").headers["content-type"].startswith("text/css")
    assert http.get("/api/v1/openapi.json").json()["info"]["title"] == "Shipyard"
    assert http.get("/openapi.json").json() == http.get("/api/v1/openapi.json").json()  # older links still work


def test_the_vendored_assets_ship_with_their_licence(http: httpx.Client) -> None:
    assert "Apache License" in http.get("/docs/assets/LICENSE").text
    assert "SmartBear" in http.get("/docs/assets/NOTICE").text


def test_only_the_vendored_assets_are_served(http: httpx.Client) -> None:
    for name in ("nothing.js", "..%2F..%2Fapp.py", "README.md"):
        answer = http.get(f"/docs/assets/{name}")
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "NotFound", name
    assert http.get("/redoc").status_code == 404  # its script would come from a CDN
