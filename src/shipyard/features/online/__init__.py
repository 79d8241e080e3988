"""Online stores: the latest feature values per entity, for low-latency lookups.

One interface (:class:`OnlineStore`), two backends — :class:`SqliteOnlineStore`
(the default, a file under the Shipyard home) and :class:`RedisOnlineStore` (the
``redis`` extra) — and :func:`open_online_store`, which picks one from the
``online_store`` setting.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from shipyard._lazy import lazy_exports
from shipyard.errors import ConfigError

if TYPE_CHECKING:
    from shipyard.features.online._backend import OnlineRows, OnlineStore, encode_key
    from shipyard.features.online._redis import RedisOnlineStore
    from shipyard.features.online._sqlite import SqliteOnlineStore

__all__ = ["OnlineRows", "OnlineStore", "RedisOnlineStore", "SqliteOnlineStore", "encode_key",
           "open_online_store"]

_WHERE = {"OnlineRows": "_backend", "OnlineStore": "_backend", "encode_key": "_backend",
          "RedisOnlineStore": "_redis", "SqliteOnlineStore": "_sqlite"}


def open_online_store(setting: str | None, home: Path) -> OnlineStore:
    """The store a setting names: ``sqlite`` (``<home>/online.db``), ``sqlite:///path``,
    or ``redis://host:port/db[?prefix=name]`` (also ``rediss://``, ``unix://``)."""
    setting = (setting or "sqlite").strip()
    if setting == "sqlite":
        from shipyard.features.online._sqlite import SqliteOnlineStore

        return SqliteOnlineStore(Path(home).absolute() / "online.db")
    if setting.startswith("sqlite:///"):
        from shipyard.features.online._sqlite import SqliteOnlineStore

        return SqliteOnlineStore(setting.removeprefix("sqlite:///"))
    if setting.startswith(("redis://", "rediss://", "unix://")):
        from shipyard.features.online._redis import RedisOnlineStore

        return RedisOnlineStore(setting)
    raise ConfigError(f"online_store must be 'sqlite', 'sqlite:///path' or 'redis://…', got {setting!r}",
                      field="online_store")


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__, globals())
