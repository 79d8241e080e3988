"""The routes of the web UI: the HTML shell at ``/`` and the files under ``/ui/assets/``.

Both are open (``server/_permissions.py``): they hold no data. Every page's data is read
by the page's scripts from ``/api/v1`` with the browser's credential, so the UI can show
and change exactly what the signed-in user may through the API, and nothing more.

The shell is sent with a Content-Security-Policy that lets a page run only this server's
scripts and style sheets, and talk only to this server: a value that slipped into the
page as markup still could not run.
"""

from __future__ import annotations

from pathlib import Path
from string import Template

from fastapi import APIRouter, Request
from starlette.responses import FileResponse, HTMLResponse, Response

from shipyard.errors import NotFound

__all__ = ["ASSETS_URL", "CONTENT_SECURITY_POLICY", "router"]

ASSETS_URL = "/ui/assets"
_STATIC = Path(__file__).with_name("static")
# The kinds of file the UI is made of; any other path answers 404.
_MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".md": "text/plain; charset=utf-8",
    ".LICENSE": "text/plain; charset=utf-8",
}
#: Sent with the shell: only this server's scripts, styles and API; previews are blob: images.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
                           "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
                           "form-action 'self'")
# Every file is re-checked on each load, so a new version of the package shows at once.
_NO_CACHE = {"cache-control": "no-cache", "x-content-type-options": "nosniff"}

router = APIRouter(include_in_schema=False)


def _flag(value: bool) -> str:
    return "true" if value else "false"


@router.get("/")
def shell(request: Request) -> HTMLResponse:
    """The page every view of the UI is drawn in; it says which ways of signing in this server offers."""
    state = request.app.state
    page = Template((_STATIC / "index.html").read_text(encoding="utf-8")).substitute(
        version=request.app.version,
        password=_flag(getattr(state, "sessions", None) is not None),
        sso=_flag(getattr(state, "oidc", None) is not None),
    )
    return HTMLResponse(page, headers={**_NO_CACHE, "content-security-policy": CONTENT_SECURITY_POLICY,
                                       "referrer-policy": "same-origin"})


@router.get(ASSETS_URL + "/{path:path}")
def asset(path: str) -> Response:
    """One file of the UI (a script, a style sheet, a vendored library or its licence)."""
    file = (_STATIC / path).resolve()
    media_type = next((t for suffix, t in _MEDIA_TYPES.items() if file.name.endswith(suffix)), None)
    if media_type is None or not file.is_relative_to(_STATIC.resolve()) or not file.is_file():
        raise NotFound(f"no UI asset {path!r}", resource="asset", name=path)
    return FileResponse(file, media_type=media_type, headers=_NO_CACHE)
