"""The REST face of Shipyard (``shipyard server``). Holds no business logic."""

from shipyard.auth import check_bind
from shipyard.server._app import create_app

__all__ = ["check_bind", "create_app"]
