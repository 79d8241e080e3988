"""Registrations of serving processes in the metadata database (table ``serving_deployments``).

A heartbeat is one UPDATE of its own row that moves the stored summary to
``previous_stats``; a registration is an upsert, so a row removed meanwhile comes back at
the next beat. Registering also deletes the rows of servers gone for
:data:`FORGET_AFTER_MS` (a week), so killed servers do not pile up.

>>> from shipyard.store import Database
>>> db = Database("sqlite:///:memory:"); db.ensure_schema()
>>> store = SqlRegistrationStore(db)
>>> store.list()
[]
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any

import orjson
import sqlalchemy as sa

from shipyard.errors import InvalidInput, NotFound
from shipyard.serving._registration import ServeRegistration
from shipyard.store import Database, upsert
from shipyard.store import schema as t

__all__ = ["FORGET_AFTER_MS", "SqlRegistrationStore"]

_ID_LENGTH = 64
FORGET_AFTER_MS = 7 * 86_400_000  # a registration whose heartbeat stopped this long ago is deleted


def _dump(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _load(text: str | None) -> Any:
    return None if text is None else orjson.loads(text)


def _row(row: Any) -> ServeRegistration:
    return ServeRegistration(row.id, row.url, row.host, row.pid, row.started_at, row.heartbeat_at, row.interval_ms,
                             tuple(_load(row.models)), _load(row.stats), _load(row.previous_stats))


class SqlRegistrationStore:
    """:class:`~shipyard.serving._registration.RegistrationStore` over ``db``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def close(self) -> None:
        """Nothing of its own to release: the database belongs to whoever opened it."""

    def register(self, registration: ServeRegistration) -> None:
        r = registration
        values = {"id": r.id, "url": r.url, "host": r.host, "pid": r.pid, "started_at": r.started_at,
                  "heartbeat_at": r.heartbeat_at, "interval_ms": r.interval_ms, "models": _dump(list(r.models)),
                  "stats": _dump(r.stats), "previous_stats": _dump(r.previous_stats)}
        table = t.serving_deployments
        with self.db.write() as conn:
            # Servers gone for a week (killed, their host lost) are forgotten as another one starts.
            conn.execute(table.delete().where(table.c.heartbeat_at < r.heartbeat_at - FORGET_AFTER_MS))
            upsert(conn, table, [values], ["id"], [k for k in values if k != "id"])

    def heartbeat(self, id: str, at: int, stats: Mapping[str, Any] | None) -> bool:
        table = t.serving_deployments
        values: dict[str, Any] = {"heartbeat_at": at}
        if stats is not None:
            values.update(stats=_dump(stats), previous_stats=table.c.stats)
        with self.db.write() as conn:
            return bool(conn.execute(table.update().where(table.c.id == id).values(**values)).rowcount)

    def unregister(self, id: str) -> None:
        table = t.serving_deployments
        with self.db.write() as conn:
            conn.execute(table.delete().where(table.c.id == id))

    def get(self, id: str) -> ServeRegistration:
        if not isinstance(id, str) or not 0 < len(id) <= _ID_LENGTH:
            raise InvalidInput(f"a deployment id is 1 to {_ID_LENGTH} characters, got {id!r}", field="id")
        table = t.serving_deployments
        with self.db.read() as conn:
            row = conn.execute(sa.select(table).where(table.c.id == id)).first()
        if row is None:
            raise NotFound(f"no deployment {id!r}", resource="deployment")
        return _row(row)

    def list(self) -> builtins.list[ServeRegistration]:
        table = t.serving_deployments
        with self.db.read() as conn:
            rows = conn.execute(sa.select(table).order_by(table.c.started_at, table.c.id)).all()
        return [_row(row) for row in rows]
