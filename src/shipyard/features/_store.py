"""The feature store facade: definitions, training sets, materialization and online lookups.

>>> import shipyard
>>> store = shipyard.Client().features                              # doctest: +SKIP
>>> store.apply([user, user_stats])                                 # doctest: +SKIP
>>> train = store.get_historical_features(entity_df, ["user_stats:avg_spend_7d"]).to_pandas()  # doctest: +SKIP
>>> store.materialize_incremental()                                 # doctest: +SKIP
>>> store.get_online_features(["user_stats:avg_spend_7d"], [{"user_id": 5}]).to_dict()  # doctest: +SKIP

Assembly: the store is handed its parts — the definition ``registry``, the ``online``
store and ``datasets`` (reading and registering dataset versions) — and opens
nothing of the configuration's itself, except the online store ``config.online_store``
names when none is given. The parts of a configuration (embedded, or a ``shipyard
server``'s when ``url`` is set) are assembled by :class:`shipyard.Client`:
``Client(config).features`` is this store over them, and closing the client closes them.

Definitions are cached for ``refresh_s`` seconds (a change applied through this
store is seen at once; one applied elsewhere within ``refresh_s``), so an online
lookup costs no registry query.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from shipyard.config import Config, load_config
from shipyard.errors import ConfigError, InvalidInput, NotFound
from shipyard.features._definitions import Definition, Entity, FeatureView, OnDemandFeatureView, fingerprint, from_spec

if TYPE_CHECKING:
    from shipyard.features._backend import Applied, FeatureRegistry, MaterializationState
    from shipyard.features._offline import HistoricalFeatures
    from shipyard.features._plan import Plan
    from shipyard.features._retrieval import OnlineResponse
    from shipyard.features._sources import SourceContext
    from shipyard.features.online import OnlineStore

__all__ = ["DatasetAccess", "FeatureStore"]


class DatasetAccess(Protocol):
    """What the store needs of the dataset domain (``shipyard.Client`` has it): read a
    version (``DatasetSource``) and register one (``to_dataset``)."""

    def get_dataset(self, ref: str) -> Any: ...

    def register_dataset(self, name: str, source: Any, *, description: str | None = None) -> Any: ...


class FeatureStore:
    """Feature definitions, point-in-time training sets, materialization and online lookups.

    ``registry`` holds the definitions; ``online`` (default: the store
    ``config.online_store`` names, opened on first use and closed by :meth:`close`)
    the latest values; ``datasets`` reads dataset sources and registers training sets.
    Build one over a configuration's parts with ``shipyard.Client(config).features``.
    """

    def __init__(self, config: Config | None = None, *, registry: FeatureRegistry | None = None,
                 online: OnlineStore | None = None, datasets: DatasetAccess | None = None,
                 refresh_s: float = 5.0) -> None:
        if registry is None:
            raise ConfigError("a FeatureStore is built over its registry (registry=...); for the feature store "
                              "of a configuration use shipyard.Client(config).features", field="registry")
        self.config = config if config is not None else load_config()
        self.registry = registry
        self._online = online
        self._datasets = datasets
        self.refresh_s = refresh_s
        self._owns_online = False
        self._lock = threading.RLock()
        self._defs: dict[tuple[str, str], tuple[Definition, int]] = {}
        self._loaded_at = -float("inf")
        self._local: dict[tuple[str, str], tuple[str, Definition]] = {}
        self._plans: dict[tuple[tuple[str, ...], bool], Plan] = {}

    def __repr__(self) -> str:
        return f"FeatureStore({self.config.url or self.config.database_url!r})"

    def __enter__(self) -> FeatureStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- assembly ---------------------------------------------------------------------

    @property
    def online(self) -> OnlineStore:
        """The online store (the configured one, opened on first use, unless one was given)."""
        if self._online is None:
            with self._lock:
                if self._online is None:
                    from shipyard.features.online import open_online_store

                    self._online = open_online_store(self.config.online_store, self.config.home)
                    self._owns_online = True
        return self._online

    def close(self) -> None:
        """Release what this store opened itself (not the parts it was handed)."""
        if self._owns_online and self._online is not None:
            self._online.close()
            self._online, self._owns_online = None, False

    # -- definitions ------------------------------------------------------------------

    def apply(self, objects: Definition | Sequence[Definition], force: bool = False) -> list[Applied]:
        """Store the definitions (new versions only where they changed), all or nothing.

        Entities that views use but that are not listed are applied with them. An
        incompatible change (a feature's type changed, a feature or join key
        removed, the timestamp column changed) raises ``Conflict`` naming it unless
        ``force``; a forced change to a view clears its online values.
        """
        items = [objects] if isinstance(objects, (Entity, FeatureView, OnDemandFeatureView)) else list(objects)
        for obj in items:
            if not isinstance(obj, (Entity, FeatureView, OnDemandFeatureView)):
                raise InvalidInput(f"apply takes Entity, FeatureView and OnDemandFeatureView objects, got "
                                   f"{type(obj).__name__}", field="objects")
        named = {(o.kind, o.name) for o in items}
        for obj in list(items):
            if isinstance(obj, FeatureView):
                for entity in obj.entities:
                    if (entity.kind, entity.name) not in named:
                        named.add((entity.kind, entity.name))
                        items.append(entity)
        specs = [o.to_spec() for o in items]
        with self._lock:
            for obj, spec in zip(items, specs, strict=True):
                self._local[(obj.kind, obj.name)] = (fingerprint(spec), obj)
        return self.apply_specs(specs, force=force)

    def apply_specs(self, specs: Sequence[Mapping[str, Any]], force: bool = False) -> list[Applied]:
        """:meth:`apply` for definitions as JSON specs (what a server receives)."""
        results = self.registry.apply(specs, force=force)
        self._loaded_at = -float("inf")
        for result in results:
            if result.status == "forced" and result.kind == "feature_view":
                self.online.delete_view(result.name)
        return results

    def _definitions(self) -> dict[tuple[str, str], tuple[Definition, int]]:
        if time.monotonic() - self._loaded_at < self.refresh_s:
            return self._defs
        with self._lock:
            found: dict[tuple[str, str], tuple[Definition, int]] = {}
            for obj in self.registry.list_objects():
                local = self._local.get((obj.kind, obj.name))
                definition = local[1] if local and local[0] == obj.fingerprint else from_spec(obj.spec)
                found[(obj.kind, obj.name)] = (definition, obj.version)
            self._defs, self._plans = found, {}
            self._loaded_at = time.monotonic()
            return found

    def _lookup(self, name: str) -> tuple[Definition, int]:
        defs = self._definitions()
        hit = defs.get(("feature_view", name)) or defs.get(("on_demand_view", name))
        if hit is None:
            self._loaded_at = -float("inf")  # maybe applied elsewhere a moment ago
            defs = self._definitions()
            hit = defs.get(("feature_view", name)) or defs.get(("on_demand_view", name))
        if hit is None:
            raise NotFound(f"no feature view {name!r}", resource="feature_view", name=name)
        return hit

    def list_views(self) -> list[FeatureView | OnDemandFeatureView]:
        """Every feature view, then every on-demand view, by name."""
        defs = self._definitions()
        return [d for (kind, _), (d, _v) in sorted(defs.items()) if kind != "entity"]  # type: ignore[misc]

    def list_entities(self) -> list[Entity]:
        return [d for (kind, _), (d, _v) in sorted(self._definitions().items()) if isinstance(d, Entity)]

    def get_view(self, name: str) -> FeatureView | OnDemandFeatureView:
        """A feature view or on-demand view by name (``NotFound`` otherwise)."""
        return self._lookup(name)[0]  # type: ignore[return-value]

    def get_entity(self, name: str) -> Entity:
        hit = self._definitions().get(("entity", name))
        if hit is None:
            raise NotFound(f"no entity {name!r}", resource="entity", name=name)
        return hit[0]  # type: ignore[return-value]

    def _plan(self, refs: Sequence[str], full_feature_names: bool) -> Plan:
        from shipyard.features._plan import build_plan

        key = (tuple(refs) if not isinstance(refs, str) else (refs,), bool(full_feature_names))
        self._definitions()
        plan = self._plans.get(key)
        if plan is None:
            plan = build_plan(refs, self._lookup, full_feature_names)
            self._plans[key] = plan
        return plan

    def _context(self) -> SourceContext:
        from shipyard.features._duck import connect
        from shipyard.features._sources import SourceContext

        options = {"endpoint_url": self.config.s3_endpoint_url} if self.config.s3_endpoint_url else {}
        return SourceContext(connect(), self._resolve_dataset, options)

    def _resolve_dataset(self, ref: str) -> tuple[Any, str]:
        if self._datasets is None:
            raise InvalidInput("this feature store has no dataset access (pass datasets=)", field="source")
        handle = self._datasets.get_dataset(ref)
        return handle.path(), handle.version.format

    # -- offline ----------------------------------------------------------------------

    def get_historical_features(self, entity_df: Any, features: Sequence[str], *,
                                timestamp: str = "event_timestamp",
                                full_feature_names: bool = False) -> HistoricalFeatures:
        """Point-in-time correct feature values for every row of ``entity_df``.

        ``entity_df`` (pandas, polars or Arrow) holds the join keys and the
        ``timestamp`` column. Each row gets, per feature, the latest value at or
        before its timestamp and within the view's TTL, or null; every row comes
        back once, in order (see :mod:`shipyard.features._offline`). Columns are named
        by feature, or ``view__feature`` with ``full_feature_names``.
        """
        import pyarrow as pa

        from shipyard.features._offline import HistoricalFeatures, historical_features, to_arrow_table
        from shipyard.features._plan import run_on_demand

        plan = self._plan(features, full_feature_names)
        entity = to_arrow_table(entity_df)
        clash = [c for c in plan.outputs if c in entity.column_names]
        if clash:
            raise InvalidInput(f"entity_df already has a column {clash[0]!r}; pass full_feature_names=True",
                               field=clash[0])
        if plan.views:
            ctx = self._context()
            try:
                table = historical_features(ctx, entity, plan, timestamp)
            finally:
                ctx.con.close()
        else:
            table = pa.table({})
        if plan.on_demand:
            frame = table.to_pandas()
            columns: dict[str, Any] = {c: frame[c] for c in frame.columns}
            for field in plan.request_fields:
                if field.name not in entity.column_names:
                    raise InvalidInput(f"entity_df has no request field {field.name!r} (an on-demand input)",
                                       field=field.name)
                columns[field.name] = entity.column(field.name).to_pandas()
            for step in plan.on_demand:
                for name, series in run_on_demand(step, columns, entity.num_rows).items():
                    columns[name] = series
                    table = table.append_column(name, pa.Array.from_pandas(series))
        table = table.select(plan.outputs) if plan.outputs else table
        return HistoricalFeatures(entity_df, table, plan.versions, self._register_dataset)

    def _register_dataset(self, name: str, table: Any, description: str | None,
                          views: list[tuple[str, int]]) -> Any:
        if self._datasets is None:
            raise InvalidInput("this feature store has no dataset access (pass datasets=)", field="name")
        version = self._datasets.register_dataset(name, table, description=description)
        self.registry.record_lineage(version.ref, views)
        return version

    # -- materialization and push -----------------------------------------------------

    def _online_views(self, views: Sequence[str] | None) -> list[FeatureView]:
        if views is None:
            return [v for v in self.list_views() if isinstance(v, FeatureView) and v.online]
        out = []
        for name in views:
            view = self.get_view(name)
            if not isinstance(view, FeatureView):
                raise InvalidInput(f"{name!r} is an on-demand view: it is computed at lookup, not materialized",
                                   field="views")
            out.append(view)
        return out

    def materialize(self, start: Any, end: Any, views: Sequence[str] | None = None) -> list[MaterializationState]:
        """Write the latest value per entity with event time in ``[start, end)`` to the online
        store, for ``views`` (default: every online view); records each view's state."""
        from shipyard.features._materialize import to_us

        start_us, end_us = to_us(start, "start"), to_us(end, "end")
        if end_us <= start_us:
            raise InvalidInput("end must be after start", field="end")
        return [self._materialize_one(v, start_us, end_us) for v in self._online_views(views)]

    def materialize_incremental(self, end: Any = None,
                                views: Sequence[str] | None = None) -> list[MaterializationState]:
        """Materialize each view from where its last materialization ended (first time: ``end``
        minus its TTL, or everything without a TTL) up to ``end`` (default: now)."""
        from shipyard.features._materialize import to_us

        end_us = to_us(end, "end") if end is not None else time.time_ns() // 1_000
        states = []
        for view in self._online_views(views):
            last = self.registry.materialization(view.name)
            if last is not None:
                start: int | None = last.end_us
            else:
                start = end_us - view.ttl_us if view.ttl_us is not None else None
            states.append(self._materialize_one(view, start, end_us))
        return states

    def _materialize_one(self, view: FeatureView, start_us: int | None, end_us: int) -> MaterializationState:
        from shipyard.features._materialize import write_latest

        ctx = self._context()
        try:
            rows = write_latest(ctx, view, self.online, start_us, end_us)
        finally:
            ctx.con.close()
        return self.registry.record_materialization(view.name, start_us, end_us, rows)

    def push(self, view: str, df: Any) -> int:
        """Write fresh rows (join keys, timestamp, every feature) straight to the online store;
        per entity only the latest row, and only if newer than the stored one. Returns the
        number of entities written."""
        from shipyard.features._materialize import push_rows
        from shipyard.features._offline import to_arrow_table

        found = self.get_view(view)
        if not isinstance(found, FeatureView):
            raise InvalidInput(f"{view!r} is an on-demand view: nothing to push", field="view")
        ctx = self._context()
        try:
            return push_rows(ctx, found, to_arrow_table(df, "df"), self.online)
        finally:
            ctx.con.close()

    # -- online -----------------------------------------------------------------------

    def get_online_features(self, features: Sequence[str], entity_rows: Sequence[Mapping[str, Any]], *,
                            full_feature_names: bool = False) -> OnlineResponse:
        """The latest stored values for each entity row (null when absent or older than the
        view's TTL); on-demand features computed from them and the rows' request fields."""
        from shipyard.features._retrieval import read_online

        return read_online(self._plan(features, full_feature_names), self.online, entity_rows)

    def freshness(self, view: str) -> float | None:
        """Age in seconds of the newest value in the online store for ``view`` (None: empty)."""
        newest = self.online.freshness(view)
        return None if newest is None else max(0.0, time.time() - newest / 1e6)

    def metrics_collector(self) -> Any:
        """A Prometheus collector of ``shipyard_feature_freshness_seconds{view}``."""
        from shipyard.features._metrics import FreshnessCollector

        return FreshnessCollector(self)
