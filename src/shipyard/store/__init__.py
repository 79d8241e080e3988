"""Storage layer: the metadata database and the artifact store.

Imports only the base layer (``errors``, ``config``); every domain package builds on it.
Its surface for the domains: :class:`Database` (engine, transactions, error
translation) with the portable statements :func:`upsert` and :func:`insert_ignore`,
the lineage edges (:class:`LineageStore`), migrations (:func:`upgrade`,
:func:`head_revision`), garbage collection (:func:`collect_garbage`) and the one
write-then-rename helper (:func:`materialize`); ``schema`` holds every table and
``artifacts`` the content-addressed object store.
"""

from typing import TYPE_CHECKING

from shipyard._lazy import lazy_exports

if TYPE_CHECKING:
    from shipyard.store._db import Database, insert_ignore, nan_to_none, none_to_nan, upsert
    from shipyard.store._gc import GcReport, collect_garbage
    from shipyard.store._lineage import LineageStore
    from shipyard.store._materialize import StoredFile, materialize
    from shipyard.store._migrate import head_revision, upgrade

__all__ = [
    "Database",
    "GcReport",
    "LineageStore",
    "StoredFile",
    "collect_garbage",
    "head_revision",
    "insert_ignore",
    "materialize",
    "nan_to_none",
    "none_to_nan",
    "upgrade",
    "upsert",
]

# Lazy, so importing a light submodule (the schema, say) does not pull in SQLAlchemy's engine or Alembic.
_WHERE = {
    "Database": "_db", "insert_ignore": "_db", "nan_to_none": "_db", "none_to_nan": "_db", "upsert": "_db",
    "GcReport": "_gc", "collect_garbage": "_gc",
    "LineageStore": "_lineage",
    "StoredFile": "_materialize", "materialize": "_materialize",
    "head_revision": "_migrate", "upgrade": "_migrate",
}

__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__, globals())
