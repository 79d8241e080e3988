"""Storage layer: the metadata database and the artifact store.

Imports only the base layer (``errors``, ``config``); every domain package builds on it.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shipyard.store._db import Database

__all__ = ["Database"]


def __getattr__(name: str) -> Any:
    # Lazy, so importing a light submodule does not pull in SQLAlchemy.
    if name == "Database":
        from shipyard.store._db import Database

        return Database
    raise AttributeError(name)
