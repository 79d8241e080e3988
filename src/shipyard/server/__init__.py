"""The REST face of Shipyard (``shipyard server``). Holds no business logic."""

from shipyard.server.app import create_app
from shipyard.server.auth import check_bind

__all__ = ["check_bind", "create_app"]
