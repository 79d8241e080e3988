"""The feature registry on the metadata database (:class:`~shipyard.features.FeatureRegistry`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shipyard.errors import Conflict, InvalidInput, NotFound
from shipyard.features._backend import KINDS, Applied, FeatureObject, MaterializationState
from shipyard.features._compat import check_references, incompatibilities
from shipyard.features._definitions import fingerprint, from_spec, validate_name
from shipyard.lineage import Edge, Node
from shipyard.store import Database, LineageStore, upsert
from shipyard.store import schema as t
from shipyard.timeutil import now_ms

__all__ = ["SqlFeatureRegistry", "canonical"]


def _check_kind(kind: Any) -> str:
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}, got {kind!r}", field="kind")
    return str(kind)


def canonical(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A spec checked by building its definition, in the form the definition writes."""
    if not isinstance(spec, Mapping):
        raise InvalidInput(f"a definition spec must be an object, got {type(spec).__name__}", field="spec")
    _check_kind(spec.get("kind"))
    return from_spec(spec).to_spec()


class SqlFeatureRegistry:
    """:class:`FeatureRegistry` on the metadata database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def close(self) -> None:
        """Nothing of its own to release: the database is shared."""

    def apply(self, specs: Sequence[Mapping[str, Any]], force: bool = False) -> list[Applied]:
        checked = [canonical(s) for s in specs]
        keys = [(s["kind"], s["name"]) for s in checked]
        if len(set(keys)) != len(keys):
            raise InvalidInput("the same definition is applied twice in one batch", field="objects")
        fo = t.feature_objects
        now = now_ms()
        with self.db.write() as conn:
            latest = {(o.kind, o.name): o for o in self._latest(conn)}
            merged = {k: o.spec for k, o in latest.items()}
            merged.update({k: s for k, s in zip(keys, checked, strict=True)})
            check_references(merged)
            results, rows, refused = [], [], []
            for key, spec in zip(keys, checked, strict=True):
                digest = fingerprint(spec)
                old = latest.get(key)
                if old is not None and old.fingerprint == digest:
                    results.append(Applied(*key, old.version, "unchanged"))
                    continue
                changes = incompatibilities(old.spec, spec) if old is not None else []
                refused += changes
                version = (old.version if old else 0) + 1
                status = "created" if old is None else ("forced" if changes else "updated")
                results.append(Applied(*key, version, status, changes))
                rows.append({"kind": key[0], "name": key[1], "version": version, "spec": _dump(spec),
                             "fingerprint": digest, "forced": int(bool(changes)), "created_at": now})
            if refused and not force:
                raise Conflict("incompatible definition changes (apply with force=True to store them anyway): "
                               + "; ".join(refused), changes=refused)
            if rows:
                conn.execute(fo.insert(), rows)
        return results

    def get(self, kind: str, name: str, version: int | None = None) -> FeatureObject:
        fo = t.feature_objects
        query = sa.select(fo).where(fo.c.kind == _check_kind(kind), fo.c.name == name)
        if version is not None:
            query = query.where(fo.c.version == int(version))
        with self.db.read() as conn:
            row = conn.execute(query.order_by(fo.c.version.desc()).limit(1)).first()
        if row is None:
            what = f"{kind.replace('_', ' ')} {name!r}" + (f" version {version}" if version is not None else "")
            raise NotFound(f"{what} not found", resource=kind, name=name)
        return _object(row)

    def list_objects(self, kind: str | None = None) -> list[FeatureObject]:
        with self.db.read() as conn:
            found = self._latest(conn, None if kind is None else _check_kind(kind))
        return sorted(found, key=lambda o: (KINDS.index(o.kind), o.name))

    def versions(self, kind: str, name: str) -> list[FeatureObject]:
        fo = t.feature_objects
        with self.db.read() as conn:
            rows = conn.execute(sa.select(fo).where(fo.c.kind == _check_kind(kind), fo.c.name == name)
                                .order_by(fo.c.version.desc())).all()
        if not rows:
            raise NotFound(f"{kind.replace('_', ' ')} {name!r} not found", resource=kind, name=name)
        return [_object(r) for r in rows]

    def record_materialization(self, view: str, start_us: int | None, end_us: int, rows: int) -> MaterializationState:
        self.get("feature_view", validate_name(view, "view"))
        state = MaterializationState(view, None if start_us is None else int(start_us), int(end_us), int(rows),
                                     now_ms())
        with self.db.write() as conn:
            upsert(conn, t.feature_materializations, [{
                "view": view, "interval_start": state.start_us, "interval_end": state.end_us, "rows": state.rows,
                "materialized_at": state.materialized_at}], ["view"],
                ["interval_start", "interval_end", "rows", "materialized_at"])
        return state

    def materialization(self, view: str) -> MaterializationState | None:
        fm = t.feature_materializations
        with self.db.read() as conn:
            row = conn.execute(sa.select(fm).where(fm.c.view == view)).first()
        if row is None:
            return None
        return MaterializationState(row.view, row.interval_start, row.interval_end, row.rows, row.materialized_at)

    def record_lineage(self, dataset_ref: str, views: Sequence[tuple[str, int]]) -> None:
        if not isinstance(dataset_ref, str) or "@" not in dataset_ref:
            raise InvalidInput(f"dataset_ref must read 'name@version', got {dataset_ref!r}", field="dataset_ref")
        for name, version in views:
            self.get("feature_view", name, version)
        edges = [Edge(Node("feature_view", f"{name}@{int(version)}"), "input", Node("dataset", dataset_ref))
                 for name, version in views]
        LineageStore(self.db).add(edges, now_ms())

    @staticmethod
    def _latest(conn: Connection, kind: str | None = None) -> list[FeatureObject]:
        fo = t.feature_objects
        newest = (sa.select(fo.c.kind, fo.c.name, sa.func.max(fo.c.version).label("version"))
                  .group_by(fo.c.kind, fo.c.name))
        if kind is not None:
            newest = newest.where(fo.c.kind == kind)
        sub = newest.subquery()
        rows = conn.execute(sa.select(fo).join(sub, sa.and_(fo.c.kind == sub.c.kind, fo.c.name == sub.c.name,
                                                            fo.c.version == sub.c.version))).all()
        return [_object(r) for r in rows]


def _dump(spec: Mapping[str, Any]) -> str:
    return orjson.dumps(spec, option=orjson.OPT_SORT_KEYS).decode()


def _object(row: Any) -> FeatureObject:
    return FeatureObject(row.kind, row.name, row.version, orjson.loads(row.spec), row.fingerprint, row.created_at,
                         bool(row.forced))
