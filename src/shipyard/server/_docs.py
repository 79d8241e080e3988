"""The API documentation at ``/docs`` (the web UI, at ``/``, is :mod:`shipyard.ui`).

``/docs`` is Swagger UI over the OpenAPI document (``/api/v1/openapi.json``, also served
at ``/openapi.json``); its script, style sheet and icon are vendored in the package
(``static/swagger-ui``, with their licence) and served under ``/docs/assets/``, so the
page works on a machine with no internet access. Nothing on these pages loads from
another host.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response

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


@router.api_route("/openapi.json", methods=["GET", "HEAD"])  # the methods the document's own URL answers
async def openapi_document(request: Request) -> JSONResponse:
    """The OpenAPI document at its first address, ``/openapi.json``, which older links use."""
    return JSONResponse(request.app.openapi())


@router.get(_ASSETS_URL + "/{name}")
def asset(name: str) -> Response:
    """One vendored file of the documentation page (cacheable: it changes only with the package)."""
    media_type = ASSETS.get(name)
    if media_type is None:
        raise NotFound(f"no documentation asset {name!r}", resource="asset", name=name)
    return FileResponse(_FOLDER / name, media_type=media_type,
                        headers={"cache-control": "public, max-age=86400"})
