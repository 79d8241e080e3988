"""Storage layer: the metadata database and the artifact store.

Imports only the base layer (``errors``, ``config``); every domain package builds on it.
"""

from shipyard.store.db import Database

__all__ = ["Database"]
