"""The web UI of ``shipyard server``: an HTML shell at ``/`` and its static assets.

The UI holds no business logic. Its pages are plain ES modules (``static/js/``, one
per kind of page, no build step) that read and change everything through the REST API
under ``/api/v1`` with the browser's session, so the API's permission checks are the
UI's too. Third-party libraries are vendored, pinned, in ``static/vendor/`` (see its
README); nothing is loaded from another host.

>>> from fastapi import FastAPI
>>> app = FastAPI()
>>> app.include_router(router)
"""

from shipyard.ui._router import ASSETS_URL, CONTENT_SECURITY_POLICY, router

__all__ = ["ASSETS_URL", "CONTENT_SECURITY_POLICY", "router"]
