"""The model registry on the metadata database.

Every change to which version is where (register, alias set/delete, policy change,
forced promotion, rollback, delete) appends to the audit log and bumps the registry
generation in the same transaction, so the audit trail and the alias cache can
never disagree with the registry itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy.engine import Connection

from shipyard.errors import AlreadyExists, Conflict, InvalidInput, NotFound, PromotionRefused
from shipyard.lineage import Edge, LineageGraph, Node
from shipyard.registry._actor import audit_actor
from shipyard.registry._entities import (
    AuditEvent,
    ModelVersion,
    RegisteredModel,
    feature_tags,
    validate_alias,
    validate_model_name,
)
from shipyard.registry._materialize import Materializer
from shipyard.registry._policy import GateContext, PromotionPolicy
from shipyard.registry._traffic import TRAFFIC_TAG, TrafficSplit
from shipyard.registry._uri import parse_model_uri
from shipyard.store import Database, LineageStore, insert_ignore, upsert
from shipyard.store import schema as t
from shipyard.store.artifacts import ArtifactStore
from shipyard.tracking import ArtifactInfo, Page, TrackingStore, ValueLimits, now_ms, validate_key
from shipyard.tracking._search import decode_page_token, encode_page_token

__all__ = ["SqlRegistryStore"]

MANIFEST_NAMES = ("model.yaml", "MLmodel")


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True)


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class SqlRegistryStore:
    """Registered models, versions, aliases, policies, audit log and lineage queries."""

    def __init__(self, db: Database, artifacts: ArtifactStore, tracking: TrackingStore, cache_dir: Path,
                 limits: ValueLimits | None = None) -> None:
        self.db = db
        self.artifacts = artifacts
        self.tracking = tracking
        self.limits = limits or ValueLimits()  # tag values: the same bound as a run's
        self.lineage_store = LineageStore(db)
        self.materializer = Materializer(cache_dir)

    def close(self) -> None:
        """Nothing of its own to release: the database belongs to the tracking store too."""

    # -- helpers ----------------------------------------------------------------------

    @staticmethod
    def _audit(conn: Connection, action: str, entity_type: str, entity_id: str, before: Any, after: Any,
               actor: str | None, reason: str | None = None, forced: bool = False) -> None:
        conn.execute(t.audit_log.insert().values(
            at=now_ms(), actor=audit_actor(actor), action=action, entity_type=entity_type, entity_id=entity_id,
            before=_dump(before), after=_dump(after), reason=reason, forced=int(forced)))

    @staticmethod
    def _bump(conn: Connection) -> None:
        conn.execute(t.registry_state.update().where(t.registry_state.c.id == 1)
                     .values(generation=t.registry_state.c.generation + 1))

    def generation(self) -> int:
        """A counter that changes whenever any alias or version changes."""
        return int(self.db.fast_scalar("SELECT generation FROM registry_state WHERE id = 1"))

    @staticmethod
    def _model_row(conn: Connection, name: str, lock: bool = False) -> Any:
        query = sa.select(t.registered_models).where(t.registered_models.c.name == name)
        row = conn.execute(query.with_for_update() if lock else query).first()
        if row is None:
            raise NotFound(f"registered model {name!r} not found", resource="registered_model", name=name)
        return row

    def _model(self, conn: Connection, row: Any) -> RegisteredModel:
        name = row.name
        tags = dict(conn.execute(sa.select(t.registered_model_tags.c.key, t.registered_model_tags.c.value)
                                 .where(t.registered_model_tags.c.name == name)).all())
        aliases = dict(conn.execute(sa.select(t.model_aliases.c.alias, t.model_aliases.c.version)
                                    .where(t.model_aliases.c.name == name)).all())
        latest = conn.execute(sa.select(sa.func.max(t.model_versions.c.version))
                              .where(t.model_versions.c.name == name)).scalar()
        return RegisteredModel(name, row.description, tags, aliases, latest, _load(row.policy),
                               row.created_at, row.updated_at)

    def _versions(self, conn: Connection, rows: Sequence[Any]) -> list[ModelVersion]:
        if not rows:
            return []
        keys = {(r.name, r.version) for r in rows}
        names = {r.name for r in rows}
        tags: dict[tuple[str, int], dict[str, str]] = {}
        for n, v, k, val in conn.execute(sa.select(t.model_version_tags).where(t.model_version_tags.c.name.in_(names))):
            if (n, v) in keys:
                tags.setdefault((n, v), {})[k] = val
        aliases: dict[tuple[str, int], list[str]] = {}
        for n, a, v in conn.execute(sa.select(t.model_aliases.c.name, t.model_aliases.c.alias,
                                              t.model_aliases.c.version).where(t.model_aliases.c.name.in_(names))):
            aliases.setdefault((n, v), []).append(a)
        return [
            ModelVersion(r.name, r.version, r.source, r.run_id, r.status, r.description, r.flavor,
                         _load(r.signature), _load(r.metrics) or {}, tags.get((r.name, r.version), {}),
                         sorted(aliases.get((r.name, r.version), [])), r.user, r.created_at, r.updated_at)
            for r in rows
        ]

    def _version_row(self, conn: Connection, name: str, version: int) -> Any:
        row = conn.execute(sa.select(t.model_versions).where(
            t.model_versions.c.name == name, t.model_versions.c.version == version)).first()
        if row is None:
            raise NotFound(f"model version {name}/{version} not found", resource="model_version",
                           name=name, version=version)
        return row

    # -- registered models --------------------------------------------------------------

    def create_registered_model(self, name: str, description: str | None = None,
                                tags: dict[str, str] | None = None, actor: str | None = None) -> RegisteredModel:
        validate_model_name(name)
        self.limits.check("tag", (tags or {}).items())
        now = now_ms()
        with self.db.write() as conn:
            if conn.execute(sa.select(t.registered_models.c.name).where(t.registered_models.c.name == name)).first():
                raise AlreadyExists(f"registered model {name!r} already exists", resource="registered_model",
                                    name=name)
            conn.execute(t.registered_models.insert().values(name=name, description=description, policy=None,
                                                              created_at=now, updated_at=now))
            if tags:
                conn.execute(t.registered_model_tags.insert(), [
                    {"name": name, "key": validate_key(k, "tag"), "value": str(v)} for k, v in tags.items()])
            self._audit(conn, "create_model", "model", name, None, {"description": description}, actor)
        return self.get_registered_model(name)

    def get_registered_model(self, name: str) -> RegisteredModel:
        with self.db.read() as conn:
            return self._model(conn, self._model_row(conn, name))

    def search_registered_models(self, name_like: str | None = None, max_results: int = 100,
                                 page_token: str | None = None) -> Page:
        offset = decode_page_token(page_token)
        query = sa.select(t.registered_models).order_by(t.registered_models.c.name)
        if name_like:
            query = query.where(t.registered_models.c.name.like(name_like))
        with self.db.read() as conn:
            rows = conn.execute(query.limit(max_results + 1).offset(offset)).all()
            models = [self._model(conn, r) for r in rows[:max_results]]
        return Page(models, encode_page_token(offset + max_results) if len(rows) > max_results else None)

    def update_registered_model(self, name: str, description: str | None, actor: str | None = None) -> RegisteredModel:
        with self.db.write() as conn:
            row = self._model_row(conn, name, lock=True)
            conn.execute(t.registered_models.update().where(t.registered_models.c.name == name)
                         .values(description=description, updated_at=now_ms()))
            self._audit(conn, "update_model", "model", name, {"description": row.description},
                        {"description": description}, actor)
        return self.get_registered_model(name)

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        if key == TRAFFIC_TAG:  # checked, audited and followed by serving: only set_traffic writes it
            raise InvalidInput(f"tag {TRAFFIC_TAG!r} is the traffic split: set it with set_traffic", field="key")
        self.limits.check("tag", [(key, value)])
        with self.db.write() as conn:
            self._model_row(conn, name)
            upsert(conn, t.registered_model_tags, [{"name": name, "key": validate_key(key, "tag"), "value": value}],
                   keys=["name", "key"], update=["value"])

    def delete_registered_model(self, name: str, actor: str | None = None, reason: str | None = None) -> None:
        with self.db.write() as conn:
            self._model_row(conn, name, lock=True)
            versions = [v for (v,) in conn.execute(sa.select(t.model_versions.c.version)
                                                    .where(t.model_versions.c.name == name))]
            for table in (t.model_aliases, t.model_version_tags, t.model_version_files, t.model_versions,
                          t.registered_model_tags, t.registered_models):
                conn.execute(table.delete().where(table.c.name == name))
            self._audit(conn, "delete_model", "model", name, {"versions": versions}, None, actor, reason)
            self._bump(conn)

    # -- versions -----------------------------------------------------------------------

    def create_model_version(self, name: str, source: str, description: str | None = None,
                             tags: dict[str, str] | None = None, actor: str | None = None) -> ModelVersion:
        """Register the model package at ``source`` (``runs:/<id>/<path>``) as a new version.

        The registered model is created if it does not exist. The version shares the
        run's stored files (no bytes are copied) and snapshots the run's metrics.
        """
        validate_model_name(name)
        self.limits.check("tag", (tags or {}).items())
        ref = parse_model_uri(source)
        if ref.kind != "run":
            raise InvalidInput(f"a version is registered from runs:/<run id>/<path>, got {source!r}",
                               field="source")
        assert ref.run_id is not None and ref.path is not None
        files = self.tracking.list_artifacts(ref.run_id, ref.path)
        prefix = ref.path.rstrip("/") + "/"
        rel = [ArtifactInfo(f.path[len(prefix):], f.digest, f.size) for f in files if f.path.startswith(prefix)]
        manifest = next((f for f in rel if f.path in MANIFEST_NAMES), None)
        if manifest is None:
            raise InvalidInput(f"no model at {source!r}: no model.yaml (or MLmodel) under it", field="source")
        meta = yaml.safe_load(self.artifacts.get_bytes(manifest.digest)) or {}
        flavor = meta.get("flavor") if manifest.path == "model.yaml" else "mlflow"
        tags = {**feature_tags(meta), **(tags or {})} if manifest.path == "model.yaml" else tags
        run = self.tracking.get_run(ref.run_id)
        metrics = {k: m.value for k, m in run.metrics.items()}
        now = now_ms()
        with self.db.write() as conn:
            insert_ignore(conn, t.registered_models, [{"name": name, "description": None, "policy": None,
                                                       "created_at": now, "updated_at": now}])
            self._model_row(conn, name, lock=True)  # serialises version numbering on PostgreSQL
            version = (conn.execute(sa.select(sa.func.max(t.model_versions.c.version))
                                    .where(t.model_versions.c.name == name)).scalar() or 0) + 1
            conn.execute(t.model_versions.insert().values(
                name=name, version=version, source=source, run_id=ref.run_id, status="READY",
                description=description, flavor=flavor, signature=_dump(meta.get("signature")),
                metrics=_dump({k: v for k, v in metrics.items() if v == v}), user=actor,
                created_at=now, updated_at=now))
            conn.execute(t.model_version_files.insert(), [
                {"name": name, "version": version, "path": f.path, "digest": f.digest, "size": f.size} for f in rel])
            if tags:
                conn.execute(t.model_version_tags.insert(), [
                    {"name": name, "version": version, "key": validate_key(k, "tag"), "value": str(v)}
                    for k, v in tags.items()])
            LineageStore.add_in(conn, [Edge(Node("run", ref.run_id), "produced",
                                            Node("model_version", f"{name}/{version}"))], now)
            self._audit(conn, "register", "model_version", f"{name}/{version}", None,
                        {"version": version, "source": source}, actor)
            self._bump(conn)
        return self.get_model_version(name, version)

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        with self.db.read() as conn:
            return self._versions(conn, [self._version_row(conn, name, int(version))])[0]

    def search_model_versions(self, name: str | None = None, run_id: str | None = None, max_results: int = 100,
                              page_token: str | None = None) -> Page:
        offset = decode_page_token(page_token)
        mv = t.model_versions
        query = sa.select(mv).order_by(mv.c.name, mv.c.version.desc())
        if name is not None:
            query = query.where(mv.c.name == name)
        if run_id is not None:
            query = query.where(mv.c.run_id == run_id)
        with self.db.read() as conn:
            rows = conn.execute(query.limit(max_results + 1).offset(offset)).all()
            versions = self._versions(conn, rows[:max_results])
        return Page(versions, encode_page_token(offset + max_results) if len(rows) > max_results else None)

    def update_model_version(self, name: str, version: int, description: str | None,
                             actor: str | None = None) -> ModelVersion:
        with self.db.write() as conn:
            row = self._version_row(conn, name, version)
            conn.execute(t.model_versions.update().where(t.model_versions.c.name == name,
                                                          t.model_versions.c.version == version)
                         .values(description=description, updated_at=now_ms()))
            self._audit(conn, "update_version", "model_version", f"{name}/{version}",
                        {"description": row.description}, {"description": description}, actor)
        return self.get_model_version(name, version)

    def set_model_version_tag(self, name: str, version: int, key: str, value: str) -> None:
        self.limits.check("tag", [(key, value)])
        with self.db.write() as conn:
            self._version_row(conn, name, version)
            upsert(conn, t.model_version_tags,
                   [{"name": name, "version": version, "key": validate_key(key, "tag"), "value": value}],
                   keys=["name", "version", "key"], update=["value"])

    def delete_model_version(self, name: str, version: int, actor: str | None = None,
                             reason: str | None = None) -> None:
        with self.db.write() as conn:
            self._version_row(conn, name, version)
            held = [a for (a,) in conn.execute(sa.select(t.model_aliases.c.alias).where(
                t.model_aliases.c.name == name, t.model_aliases.c.version == version))]
            for alias in held:
                self._audit(conn, "delete_alias", "model", name, {"alias": alias, "version": version}, None,
                            actor, f"version {version} deleted")
            for table in (t.model_aliases, t.model_version_tags, t.model_version_files, t.model_versions):
                conn.execute(table.delete().where(table.c.name == name, table.c.version == version))
            self._audit(conn, "delete_version", "model_version", f"{name}/{version}", {"version": version},
                        None, actor, reason)
            self._bump(conn)

    def list_version_files(self, name: str, version: int) -> list[ArtifactInfo]:
        f = t.model_version_files
        with self.db.read() as conn:
            self._version_row(conn, name, version)
            rows = conn.execute(sa.select(f.c.path, f.c.digest, f.c.size).where(
                f.c.name == name, f.c.version == version).order_by(f.c.path)).all()
        return [ArtifactInfo(p, d, s) for p, d, s in rows]

    def materialize(self, name: str, version: int) -> Path:
        """A local folder with the version's package, every file's hash verified."""
        return self.materializer.materialize(f"{name}/{version}", self.list_version_files(name, version),
                                             lambda f, dest: self.artifacts.get_file(f.digest, dest))

    # -- aliases --------------------------------------------------------------------------

    def get_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        with self.db.read() as conn:
            version = conn.execute(sa.select(t.model_aliases.c.version).where(
                t.model_aliases.c.name == name, t.model_aliases.c.alias == alias)).scalar()
            if version is None:
                self._model_row(conn, name)
                raise NotFound(f"model {name!r} has no alias {alias!r}", resource="alias", name=name, alias=alias)
            return self._versions(conn, [self._version_row(conn, name, version)])[0]

    def resolve(self, uri: str) -> ModelVersion:
        """The version a ``models:/`` or ``runs:/`` URI names (NotFound if none)."""
        ref = parse_model_uri(uri)
        if ref.kind == "alias":
            return self.get_version_by_alias(ref.name or "", ref.alias or "")
        if ref.kind == "version":
            return self.get_model_version(ref.name or "", ref.version or 0)
        if ref.kind == "latest":
            page = self.search_model_versions(ref.name, max_results=1)
            if not page.items:
                raise NotFound(f"model {ref.name!r} has no versions", resource="model_version", name=ref.name)
            return page.items[0]
        raise InvalidInput(f"{uri!r} names a run's files, not a registered version", field="uri")

    def set_alias(self, name: str, alias: str, version: int, actor: str | None = None, reason: str | None = None,
                  force: bool = False) -> ModelVersion:
        """Point ``alias`` at ``version``; a guarded alias must pass the model's policy.

        A failing policy raises :class:`PromotionRefused` carrying the report, unless
        ``force`` is set, in which case the move happens and the audit entry says it
        was forced and which checks failed.
        """
        validate_alias(alias)
        candidate = self.get_model_version(name, version)
        model = self.get_registered_model(name)
        holder_version = model.aliases.get(alias)
        report = None
        if model.policy and PromotionPolicy.from_json(model.policy).guards(alias):
            holder = self.get_model_version(name, holder_version) if holder_version else None
            report = PromotionPolicy.from_json(model.policy).evaluate(
                alias, candidate, holder, GateContext(latency_p99_ms=self._latency_p99_ms))
            if not report.passed and not force:
                raise PromotionRefused(
                    f"promotion of {name}/{version} to @{alias} refused:\n{report}",
                    name=name, alias=alias, version=version, report=report.to_json())
        forced = bool(report is not None and not report.passed and force)
        with self.db.write() as conn:
            self._model_row(conn, name, lock=True)
            self._version_row(conn, name, version)
            before = conn.execute(sa.select(t.model_aliases.c.version).where(
                t.model_aliases.c.name == name, t.model_aliases.c.alias == alias)).scalar()
            upsert(conn, t.model_aliases, [{"name": name, "alias": alias, "version": version}],
                   keys=["name", "alias"], update=["version"])
            after: dict[str, Any] = {"alias": alias, "version": version}
            if report is not None:
                after["checks"] = report.to_json()["checks"]
            self._audit(conn, "set_alias", "model", name, {"alias": alias, "version": before}, after,
                        actor, reason, forced)
            self._bump(conn)
        return self.get_model_version(name, version)

    def delete_alias(self, name: str, alias: str, actor: str | None = None, reason: str | None = None) -> None:
        with self.db.write() as conn:
            self._model_row(conn, name, lock=True)
            before = conn.execute(sa.select(t.model_aliases.c.version).where(
                t.model_aliases.c.name == name, t.model_aliases.c.alias == alias)).scalar()
            if before is None:
                raise NotFound(f"model {name!r} has no alias {alias!r}", resource="alias", name=name, alias=alias)
            split = self._model(conn, self._model_row(conn, name)).tags.get(TRAFFIC_TAG)
            if split and alias in TrafficSplit.from_json(json.loads(split)).aliases:
                raise Conflict(f"alias {alias!r} of {name!r} carries live traffic: change or clear the traffic "
                               f"split first", name=name, alias=alias)
            conn.execute(t.model_aliases.delete().where(t.model_aliases.c.name == name,
                                                         t.model_aliases.c.alias == alias))
            self._audit(conn, "delete_alias", "model", name, {"alias": alias, "version": before}, None,
                        actor, reason)
            self._bump(conn)

    def rollback(self, name: str, alias: str, actor: str | None = None, reason: str | None = None) -> ModelVersion:
        """Move ``alias`` back to the version that held it before the current one."""
        current = self.get_version_by_alias(name, alias).version
        previous = None
        for event in reversed(self.history(name)):
            if event.action in ("set_alias", "rollback") and (event.after or {}).get("alias") == alias \
                    and (event.after or {}).get("version") == current:
                previous = (event.before or {}).get("version")
                break
        if previous is None:
            raise Conflict(f"alias {alias!r} of {name!r} has no previous holder to roll back to",
                           name=name, alias=alias)
        with self.db.write() as conn:
            self._model_row(conn, name, lock=True)
            self._version_row(conn, name, previous)
            upsert(conn, t.model_aliases, [{"name": name, "alias": alias, "version": previous}],
                   keys=["name", "alias"], update=["version"])
            self._audit(conn, "rollback", "model", name, {"alias": alias, "version": current},
                        {"alias": alias, "version": previous}, actor, reason)
            self._bump(conn)
        return self.get_model_version(name, previous)

    # -- traffic split ---------------------------------------------------------------------

    def set_traffic(self, name: str, split: dict[str, Any] | None, actor: str | None = None,
                    reason: str | None = None) -> RegisteredModel:
        """Set (None: clear) the traffic split serving follows for ``name`` (see
        :mod:`shipyard.registry._traffic`). Every alias it names must exist. A change is an
        audit event (``set_traffic``) and bumps the generation; setting the split already
        held changes nothing."""
        text = None if split is None else TrafficSplit.from_json(split).to_tag()
        with self.db.write() as conn:
            self._model_row(conn, name, lock=True)
            model = self._model(conn, self._model_row(conn, name))
            before = model.tags.get(TRAFFIC_TAG)
            if before == text:
                return model
            tags = t.registered_model_tags
            if text is None:
                conn.execute(tags.delete().where(tags.c.name == name, tags.c.key == TRAFFIC_TAG))
            else:
                TrafficSplit.from_json(json.loads(text)).check_aliases(model)
                upsert(conn, tags, [{"name": name, "key": TRAFFIC_TAG, "value": text}], keys=["name", "key"],
                       update=["value"])
            self._audit(conn, "set_traffic", "model", name, _load(before), _load(text), actor, reason)
            self._bump(conn)
        return self.get_registered_model(name)

    # -- policy, audit, lineage -----------------------------------------------------------

    def set_policy(self, name: str, policy: dict[str, Any] | None, actor: str | None = None,
                   reason: str | None = None) -> RegisteredModel:
        if policy is not None:
            policy = PromotionPolicy.from_json(policy).to_json()  # validate and normalise
        with self.db.write() as conn:
            row = self._model_row(conn, name, lock=True)
            conn.execute(t.registered_models.update().where(t.registered_models.c.name == name)
                         .values(policy=_dump(policy), updated_at=now_ms()))
            self._audit(conn, "set_policy", "model", name, _load(row.policy), policy, actor, reason)
        return self.get_registered_model(name)

    def history(self, name: str) -> list[AuditEvent]:
        """The audit trail of a model and its versions, oldest first."""
        a = t.audit_log
        with self.db.read() as conn:
            rows = conn.execute(sa.select(a).where(sa.or_(
                sa.and_(a.c.entity_type == "model", a.c.entity_id == name),
                sa.and_(a.c.entity_type == "model_version", a.c.entity_id.startswith(f"{name}/", autoescape=True)),
            )).order_by(a.c.id)).all()
        return [AuditEvent(r.id, r.at, r.actor, r.action, r.entity_type, r.entity_id, _load(r.before),
                           _load(r.after), r.reason, bool(r.forced)) for r in rows]

    def lineage(self, node_type: str, node_id: str, max_depth: int = 10) -> LineageGraph:
        return self.lineage_store.graph(Node(node_type, node_id), max_depth)

    def audit_log(self, *, model: str | None = None, actor: str | None = None, action: str | None = None,
                  since_ms: int | None = None, after: int | None = None, limit: int = 100) -> list[AuditEvent]:
        """The whole registry's audit log, newest first: entries about ``model`` (the model and
        its versions), by ``actor``, of ``action``, at or after ``since_ms``; at most ``limit``,
        and only those older than the entry whose id is ``after`` (so pages follow on)."""
        a = t.audit_log
        query = sa.select(a).order_by(a.c.id.desc()).limit(limit)
        if model is not None:
            query = query.where(sa.or_(
                sa.and_(a.c.entity_type == "model", a.c.entity_id == model),
                sa.and_(a.c.entity_type == "model_version", a.c.entity_id.startswith(f"{model}/", autoescape=True))))
        for column, value in ((a.c.actor, actor), (a.c.action, action)):
            if value is not None:
                query = query.where(column == value)
        if since_ms is not None:
            query = query.where(a.c.at >= since_ms)
        if after is not None:
            query = query.where(a.c.id < after)
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        return [AuditEvent(r.id, r.at, r.actor, r.action, r.entity_type, r.entity_id, _load(r.before),
                           _load(r.after), r.reason, bool(r.forced)) for r in rows]

    def _latency_p99_ms(self, version: ModelVersion) -> float:
        from shipyard.registry._latency import predict_latency_p99_ms

        files = self.list_version_files(version.name, version.version)
        pinned = next((f.digest for f in files if f.path == "model.yaml"), None)  # not the cached copy's own
        return predict_latency_p99_ms(self.materialize(version.name, version.version), manifest_sha256=pinned)
