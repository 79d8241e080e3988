"""Storage layer: the metadata database and the artifact store.

Imports only the base layer (``errors``, ``config``); every domain package builds on it.
Its surface for the domains: :class:`Database` (engine, transactions, error
translation) with the portable statements :func:`upsert` and :func:`insert_ignore`,
the lineage edges (:class:`LineageStore`), migrations (:func:`upgrade`,
:func:`head_revision`), garbage collection (:func:`collect_garbage`) and the one
write-then-rename helper (:func:`materialize`), the one rule for names
(:func:`check_name`), the one page-token format (:func:`encode_cursor`,
:func:`decode_cursor`); ``schema`` holds every table and
``artifacts`` the content-addressed object store.
"""

from typing import TYPE_CHECKING

from shipyard._lazy import lazy_exports

if TYPE_CHECKING:
    from shipyard.store._cursor import MAX_PAGE, check_max_results, decode_cursor, encode_cursor
    from shipyard.store._db import Database, insert_ignore, nan_to_none, none_to_nan, upsert
    from shipyard.store._gc import GcReport, collect_garbage
    from shipyard.store._lineage import LineageStore
    from shipyard.store._materialize import StoredFile, materialize
    from shipyard.store._migrate import head_revision, upgrade
    from shipyard.store._names import MAX_KEY_LENGTH, MAX_NAME_LENGTH, check_name

__all__ = [
    "Database",
    "GcReport",
    "LineageStore",
    "MAX_KEY_LENGTH",
    "MAX_NAME_LENGTH",
    "MAX_PAGE",
    "StoredFile",
    "check_max_results",
    "check_name",
    "collect_garbage",
    "decode_cursor",
    "encode_cursor",
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
    "MAX_PAGE": "_cursor", "check_max_results": "_cursor", "decode_cursor": "_cursor", "encode_cursor": "_cursor",
    "Database": "_db", "insert_ignore": "_db", "nan_to_none": "_db", "none_to_nan": "_db", "upsert": "_db",
    "GcReport": "_gc", "collect_garbage": "_gc",
    "LineageStore": "_lineage",
    "StoredFile": "_materialize", "materialize": "_materialize",
    "head_revision": "_migrate", "upgrade": "_migrate",
    "MAX_KEY_LENGTH": "_names", "MAX_NAME_LENGTH": "_names", "check_name": "_names",
}

__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__, globals())
