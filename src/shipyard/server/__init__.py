"""The REST face of Shipyard (``shipyard server``). Holds no business logic."""

from shipyard.server._app import create_app
from shipyard.server._auth import check_bind

__all__ = ["check_bind", "create_app"]
