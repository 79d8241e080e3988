"""The server's own pages: a landing page at ``/`` and the API documentation at ``/docs``.

``/docs`` is Swagger UI over ``/openapi.json``; its script, style sheet and icon are
vendored in the package (``static/swagger-ui``, with their licence) and served under
``/docs/assets/``, so the page works on a machine with no internet access. Nothing
on these pages loads from another host.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import FileResponse, HTMLResponse, Response

from shipyard.errors import NotFound

__all__ = ["ASSETS", "SWAGGER_UI_VERSION", "router"]

SWAGGER_UI_VERSION = "5.36.0"  # swagger-ui-dist, see static/swagger-ui/README.md
_FOLDER = Path(__file__).with_name("static") / "swagger-ui"
_ASSETS_URL = "/docs/assets"
#: The files ``/docs/assets/<name>`` serves, with their media types (nothing else is reachable).
ASSETS: dict[str, str] = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
    "LICENSE": "text/plain; charset=utf-8",
    "NOTICE": "text/plain; charset=utf-8",
    "swagger-ui-bundle.js.LICENSE.txt": "text/plain; charset=utf-8",
}

router = APIRouter(include_in_schema=False)

_LANDING = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="{assets}/favicon-32x32.png">
<title>Shipyard server</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; color: #222; }}
code {{ background: #f2f2f2; padding: 0.1rem 0.3rem; border-radius: 3px; }}
li {{ margin: 0.4rem 0; }}
</style>
</head>
<body>
<h1>Shipyard server {version}</h1>
<p>The REST API of this Shipyard installation. Point a client at it with
<code>SHIPYARD_URL={base}</code>, or MLflow code with <code>MLFLOW_TRACKING_URI={base}</code>.</p>
<ul>
<li><a href="/docs">API documentation</a> (the <a href="/openapi.json">OpenAPI document</a>)</li>
<li><a href="/api/v1/health">Health check</a></li>
<li><a href="/metrics">Prometheus metrics</a> (monitored models' gauges)</li>
</ul>
</body>
</html>
"""


@router.get("/")
def landing(request: Request) -> HTMLResponse:
    """A small page saying what this server is and where its API is documented."""
    base = escape(str(request.base_url).rstrip("/"))
    return HTMLResponse(_LANDING.format(version=escape(request.app.version), base=base, assets=_ASSETS_URL))


@router.get("/docs")
def docs(request: Request) -> HTMLResponse:
    """Swagger UI over this server's OpenAPI document, from the vendored assets."""
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url or "/openapi.json",
        title=f"{request.app.title} API",
        swagger_js_url=f"{_ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{_ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=f"{_ASSETS_URL}/favicon-32x32.png",
        # No validator badge: it would fetch an image from the validator's own host.
        swagger_ui_parameters={"validatorUrl": None},
    )


@router.get(_ASSETS_URL + "/{name}")
def asset(name: str) -> Response:
    """One vendored file of the documentation page (cacheable: it changes only with the package)."""
    media_type = ASSETS.get(name)
    if media_type is None:
        raise NotFound(f"no documentation asset {name!r}", resource="asset", name=name)
    return FileResponse(_FOLDER / name, media_type=media_type,
                        headers={"cache-control": "public, max-age=86400"})
