"""The serving core, free of HTTP: load the routes, follow aliases, answer predictions.

:class:`ServingService` talks to the registry and the tracking store only through a
:class:`Backend` — the few methods of :class:`shipyard.Client` it needs — so this
package never imports the client: the faces (``shipyard serve``, ``shipyard.serve``)
hand it one. That keeps serving at the domain layer.

Alias following: each target whose URI can move (``@alias``, ``/latest``) is
re-resolved every ``poll_interval_s`` (a resolution is one primary-key read while
the registry is unchanged). When the version differs, the new one is loaded and
warmed in a thread beside the old, the route's pointer is swapped (one assignment on
the event loop: every later request sees the new version), and the old deployment
drains: requests already queued on it are answered by it. No request fails during
the switch. :meth:`ServingService.reload` does the same at once.

Traffic splits: a model served through an alias of a registered model (and whose
config leaves ``traffic`` on) follows that model's split in the registry
(:class:`~shipyard.registry.TrafficSplit`), read with the same poll. When it changes,
the routes it adds are loaded and warmed first; then targets, weights and shadow are
installed in one step (:meth:`ModelRouter.install`), and the deployments of routes it
dropped drain. Cleared, the config's own routes come back. A split that cannot be
loaded (an alias just deleted, say) leaves the routes as they are until the next poll.

Feature lookups: a model version whose package declares features gets its features
from the :class:`~shipyard.serving._features.FeatureLookup` that ``features`` (a
factory the faces hand in) builds, once, when the first such model loads.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from shipyard.errors import ConfigError, NotFound, ShipyardError
from shipyard.registry import TrafficSplit
from shipyard.serving._config import ServeConfig, Target
from shipyard.serving._deployment import Deployment
from shipyard.serving._errors import ModelFailed
from shipyard.serving._features import MODEL_INPUT, FeatureInput, FeatureLookup, FeatureLookupFactory
from shipyard.serving._inference_log import Entry, InferenceLog, RunBackend
from shipyard.serving._log_layout import SHADOW_ROUTE
from shipyard.serving._metrics import Metrics
from shipyard.serving._router import ModelRouter, Slot
from shipyard.serving._statuses import status_for

if TYPE_CHECKING:
    from shipyard.models import Model
    from shipyard.registry import ModelVersion, RegisteredModel

__all__ = ["Backend", "Prediction", "ServingService"]

logger = logging.getLogger("shipyard.serving")


class Backend(RunBackend, Protocol):
    """What serving needs from the stores; :class:`shipyard.Client` provides all of it."""

    def resolve_model(self, uri: str) -> ModelVersion: ...

    def load_model(self, uri: str, *, trust: bool = False) -> Model: ...

    def get_registered_model(self, name: str) -> RegisteredModel: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Prediction:
    """One request's answer: its outputs and who gave them."""

    outputs: dict[str, Any]
    model: str
    version: str
    route: str


class ServingService:
    """The routes of every served model, their deployments, and the inference log."""

    def __init__(self, config: ServeConfig, backend: Backend, *, metrics: Metrics | None = None,
                 log: InferenceLog | None = None, features: FeatureLookupFactory | None = None) -> None:
        self.config = config
        self.backend = backend
        self.features = features
        self._lookup: FeatureLookup | None = None
        self.metrics = metrics or Metrics()
        self.log = log
        self.routers = {m.name: ModelRouter(m) for m in config.models}
        self.default = self.routers[config.models[0].name]
        self._locks: dict[int, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.ready = False

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Load and warm every target (and shadow); start following aliases and the log."""
        for router in self.routers.values():
            if router.config.traffic_model is not None:
                try:
                    await self.follow_traffic(router)
                except Exception:  # noqa: BLE001 - a split naming a deleted alias: start on the config's routes
                    logger.exception("model %s: the traffic split cannot be followed; serving the configured "
                                     "routes until it can", router.name)
            for slot in router.all_slots:
                await self.refresh(router, slot)
            moves = router.config.traffic_model is not None or any(s.follows for s in router.all_slots)
            if moves and router.config.poll_interval_s > 0:
                self._spawn(self._follow(router))
        self.metrics.add_gauges(self._gauges)
        if self.log is not None:
            self.log.start()
        self.ready = True

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop following, answer everything queued, flush the inference log."""
        self.ready = False
        for task in list(self._tasks):
            task.cancel()
        deployments = [s.deployment for r in self.routers.values() for s in r.all_slots if s.deployment]
        await asyncio.gather(*(d.batcher.drain(timeout) for d in deployments))
        if self.log is not None:
            await asyncio.to_thread(self.log.close)
        close = getattr(self._lookup, "close", None)  # the feature lookup's connections, if it holds any
        if close is not None:
            await asyncio.to_thread(close)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _gauges(self) -> Iterator[tuple[str, tuple[str, ...], float]]:
        for router in self.routers.values():
            for slot in router.all_slots:
                deployment = slot.deployment
                if deployment is not None:
                    labels = (router.name, deployment.version, slot.label)
                    yield "shipyard_queue_depth", labels, deployment.batcher.queue_depth
                    yield "shipyard_model_version_info", (router.name, slot.label, deployment.version), 1

    # -- versions ----------------------------------------------------------------------

    def router(self, name: str) -> ModelRouter:
        router = self.routers.get(name)
        if router is None:
            raise NotFound(f"no model named {name!r} is served here (serving: {sorted(self.routers)})",
                           resource="model", model=name)
        return router

    def describe(self) -> dict[str, dict[str, str | None]]:
        """``{model: {route: version}}`` as live now."""
        return {name: {s.label: (s.deployment.version if s.deployment else None) for s in r.all_slots}
                for name, r in self.routers.items()}

    async def _resolve(self, uri: str) -> tuple[str, str]:
        """The version a URI names now, and a URI that pins exactly that version."""
        if uri.startswith("models:/"):
            version = await asyncio.to_thread(self.backend.resolve_model, uri)
            return str(version.version), f"models:/{version.name}/{version.version}"
        if uri.startswith("runs:/"):
            return "run-" + uri[len("runs:/"):][:8], uri
        return "local", uri

    async def refresh(self, router: ModelRouter, slot: Slot) -> bool:
        """Load the version ``slot``'s URI names now, if it is not the live one. True if switched."""
        lock = self._locks.setdefault(id(slot), asyncio.Lock())
        async with lock:
            version, pinned = await self._resolve(slot.uri)
            old = slot.deployment
            if old is not None and old.version == version:
                return False
            model = await asyncio.to_thread(self.backend.load_model, pinned, trust=self.config.trust)
            features = None
            if model.manifest.features:
                features = await asyncio.to_thread(FeatureInput, model, await self._feature_lookup(router.name))
            new = Deployment(router.name, version, model, router.config, self.metrics, features)
            await asyncio.to_thread(new.warm)
            slot.deployment = new  # the switch: later requests go to the new version
            if old is not None:
                self.metrics.inc("shipyard_reloads_total", (router.name, slot.label, "switched"))
                logger.info("model %s route %s: version %s → %s", router.name, slot.label, old.version, version)
                self._spawn(old.batcher.drain(self.config.drain_timeout_s))
            return True

    async def _feature_lookup(self, model: str) -> FeatureLookup:
        if self._lookup is None:
            if self.features is None:
                raise ConfigError(f"model {model!r} declares features, but this server has no feature store to "
                                  "look them up in (serve it with `shipyard serve` or shipyard.serve)", model=model)
            self._lookup = await asyncio.to_thread(self.features)
        return self._lookup

    async def _follow(self, router: ModelRouter) -> None:
        while True:
            await asyncio.sleep(router.config.poll_interval_s)
            if router.config.traffic_model is not None:
                try:
                    await self.follow_traffic(router)
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - keep the routes as they are; try again later
                    self.metrics.inc("shipyard_reloads_total", (router.name, "traffic", "failed"))
                    logger.exception("model %s: following the traffic split failed", router.name)
            for slot in router.all_slots:
                if not slot.follows:
                    continue
                try:
                    await self.refresh(router, slot)
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - keep serving the old version; try again later
                    self.metrics.inc("shipyard_reloads_total", (router.name, slot.label, "failed"))
                    logger.exception("model %s route %s: following %s failed", router.name, slot.label, slot.uri)

    async def follow_traffic(self, router: ModelRouter) -> bool:
        """Install the registry's traffic split of the model ``router`` follows, if it changed
        (new routes loaded and warmed first; dropped ones drained). True if routes changed."""
        name = router.config.traffic_model
        if name is None:
            return False
        split = TrafficSplit.of(await asyncio.to_thread(self.backend.get_registered_model, name))
        key = None if split is None else split.to_tag()
        if key == router.traffic:
            return False
        if split is None:
            config = router.config
            targets = [(t.label, t.uri, t.weight) for t in config.targets]
            shadow = None if config.shadow is None else (config.shadow.uri, config.shadow.fraction)
        else:
            targets = [(alias, f"models:/{name}@{alias}", weight) for alias, weight in split.routes.items() if weight]
            shadow = (None if split.shadow is None or not split.shadow_fraction
                      else (f"models:/{name}@{split.shadow}", split.shadow_fraction))
        live = {(s.label, s.uri): s for s in router.slots}
        slots = []
        for label, uri, _weight in targets:
            slot = live.get((label, uri)) or Slot(label, uri, 0.0, Target(uri).follows)
            if slot.deployment is None:
                await self.refresh(router, slot)  # loaded and warmed before it takes traffic
            slots.append(slot)
        shadow_slot = None
        if shadow is not None:
            current = router.shadow
            shadow_slot = current if current is not None and current.uri == shadow[0] \
                else Slot(SHADOW_ROUTE, shadow[0], 0.0, Target(shadow[0]).follows)
            if shadow_slot.deployment is None:
                await self.refresh(router, shadow_slot)
        # From here to install nothing awaits: requests see the old routes or the new, never a mix.
        dropped = [s for s in router.all_slots if s not in slots and s is not shadow_slot]
        for slot, (_label, _uri, weight) in zip(slots, targets, strict=True):
            slot.weight = weight
        router.install(slots, shadow_slot, 0.0 if shadow is None else shadow[1], key)
        for slot in dropped:
            self._locks.pop(id(slot), None)
            if slot.deployment is not None:
                self._spawn(slot.deployment.batcher.drain(self.config.drain_timeout_s))
        self.metrics.inc("shipyard_reloads_total", (router.name, "traffic", "switched"))
        logger.info("model %s: traffic %s", router.name, key or "as configured")
        return True

    async def reload(self) -> dict[str, dict[str, str | None]]:
        """Re-resolve every target now (``POST /admin/reload``); returns :meth:`describe`."""
        for router in self.routers.values():
            if router.config.traffic_model is not None:
                await self.follow_traffic(router)
            for slot in router.all_slots:
                await self.refresh(router, slot)
        return self.describe()

    # -- predictions -------------------------------------------------------------------

    def choose(self, router: ModelRouter, *, key: bytes | None = None,
               version: str | None = None) -> tuple[Slot, Deployment]:
        """The target for one request (by version, sticky key or weight) and its live deployment."""
        slot = router.by_version(version) if version is not None else router.choose(key)
        return slot, slot.live()

    async def infer(self, router: ModelRouter, slot: Slot, deployment: Deployment, raw: Any, *,
                    request_id: str, started: float, proba: bool = False,
                    shadow_input: Callable[[Deployment], Any] | None = None) -> Prediction:
        """Check ``raw`` at the door, batch it on ``deployment``, return this request's outputs.

        Raises ``InvalidInput`` (bad input), ``Overloaded`` (queue full),
        ``InferenceTimeout`` or :class:`ModelFailed` (the model raised). When the route
        has a shadow and this request is mirrored, ``shadow_input(shadow_deployment)``
        builds the shadow's input; its answer is logged, never returned.
        """
        inputs, rows = deployment.check(raw)
        future = deployment.batcher.submit(inputs, rows, proba)
        try:
            outputs = await future
        except ShipyardError as exc:  # a timeout, or a feature lookup's refusal or failure
            # Logged with the status the caller gets, from the table the HTTP face answers with.
            self._record(deployment, slot.label, request_id, started, inputs, rows, None, status_for(exc), str(exc))
            raise
        except Exception as exc:  # noqa: BLE001 - the model's own error, for this request only
            self.metrics.inc("shipyard_model_errors_total", (router.name, deployment.version))
            logger.error("model %s version %s failed on request %s: %r", router.name, deployment.version,
                         request_id, exc)
            failure = ModelFailed(f"the model raised {type(exc).__name__}: {exc}", model=router.name,
                                  version=deployment.version, request_id=request_id)
            self._record(deployment, slot.label, request_id, started, inputs, rows, None, status_for(failure),
                         repr(exc))
            raise failure from exc
        if router.shadow is not None and shadow_input is not None:
            self._mirror(router, shadow_input, request_id, started)
        if MODEL_INPUT in outputs:  # a feature model: log what the model saw, features included
            outputs = dict(outputs)
            inputs = outputs.pop(MODEL_INPUT)
        self._record(deployment, slot.label, request_id, started, inputs, rows, outputs, 200, None)
        return Prediction(outputs, router.name, deployment.version, slot.label)

    def _record(self, deployment: Deployment, route: str, request_id: str, started: float, inputs: Any,
                rows: int, outputs: dict[str, Any] | None, status: int, error: str | None) -> None:
        if self.log is None:
            return
        elapsed = time.perf_counter() - started
        self.log.record(Entry(time.time_ns() // 1_000_000 - int(elapsed * 1000), request_id, deployment.name,
                              deployment.version, route, elapsed * 1000.0, status, rows, inputs, outputs,
                              deployment.names, error))

    def _mirror(self, router: ModelRouter, shadow_input: Callable[[Deployment], Any], request_id: str,
                started: float) -> None:
        slot = router.mirror()
        deployment = slot.deployment if slot is not None else None
        if slot is None or deployment is None:
            return
        count: Callable[[str], None] = lambda outcome: self.metrics.inc(  # noqa: E731
            "shipyard_shadow_requests_total", (router.name, deployment.version, outcome))
        try:
            inputs, rows = deployment.check(shadow_input(deployment))
            future = deployment.batcher.submit(inputs, rows, deployment.has_proba)
        except ShipyardError:
            count("rejected")
            return

        def done(f: asyncio.Future[Any]) -> None:
            error = f.exception()
            count("ok" if error is None else "failed")
            logged, outputs = inputs, None if error is not None else dict(f.result())
            if outputs is not None and MODEL_INPUT in outputs:
                logged = outputs.pop(MODEL_INPUT)
            status = 200 if error is None else status_for(error) if isinstance(error, ShipyardError) else 500
            self._record(deployment, slot.label, request_id, started, logged, rows, outputs, status,
                         None if error is None else repr(error))

        future.add_done_callback(done)
