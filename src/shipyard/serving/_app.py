"""The HTTP face of serving: a plain ASGI app (no framework on the hot path).

Endpoints (the OpenAPI document is at ``/openapi.json``):

=========================================  ===============================================
Open Inference Protocol v2                 ``GET /v2/health/live``, ``/v2/health/ready``, ``/v2``,
                                           ``/v2/models/{m}[/versions/{v}][/ready]``,
                                           ``POST /v2/models/{m}[/versions/{v}]/infer``
MLflow scoring protocol                    ``POST /invocations``; ``GET /ping``, ``/health``, ``/version``
operations                                 ``GET /metrics``, ``GET /v1/models``, ``POST /admin/reload``,
                                           ``POST /v1/feedback``
=========================================  ===============================================

Inference requests pass a door first: the target is chosen from the headers alone and
must admit the request (:meth:`~shipyard.serving._batcher.AdaptiveBatcher.admit`), or it
is refused with 503 and ``Retry-After`` before its body is read; when refusals flood the
event loop they go out paced (:mod:`shipyard.serving._pacing`), so that admitted requests
keep the loop. Errors become the status codes of :mod:`shipyard.serving._statuses`, the
one table.
Every response carries ``x-request-id`` (the client's, if it sent a sane one) and,
from a model, ``shipyard-model-version``. Unexpected errors answer 500 and are
logged; nothing a request sends can stop the server.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import re
import secrets
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from shipyard.errors import Conflict, InvalidInput, NotFound, ShipyardError, Unavailable
from shipyard.serving import _scoring as scoring
from shipyard.serving import _v2 as v2
from shipyard.serving._access_log import AccessLog
from shipyard.serving._config import ServeConfig
from shipyard.serving._deployment import Deployment
from shipyard.serving._errors import MalformedRequest, Overloaded, PayloadTooLarge
from shipyard.serving._metrics import MetricsDirectory, render
from shipyard.serving._openapi import openapi_document
from shipyard.serving._pacing import RefusalPacer
from shipyard.serving._router import ModelRouter, Slot
from shipyard.serving._service import ServingService
from shipyard.serving._statuses import scoring_code, status_for

__all__ = ["ServingApp"]

logger = logging.getLogger("shipyard.serving")

_JSON = b"application/json"
_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:\-]{1,128}\Z")
_VERSION = "0.1.0"
# Refusals sent at once per second: half the models' measured service rate (a refusal
# costs the loop about half an answer: uvicorn's parsing and its two writes dominate both,
# so refusals take at most about a fifth of it), and never fewer than this floor.
_REFUSALS_PER_ANSWER = 0.5
_REFUSALS_FLOOR = 1000.0
_GC_THRESHOLDS = (10_000, 20, 20)  # Python's defaults: 700, 10, 10

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]


class _Done(Exception):
    """A response was built; carries what to send."""

    def __init__(self, status: int, body: bytes, content_type: bytes = _JSON,
                 headers: list[tuple[bytes, bytes]] | None = None) -> None:
        self.status, self.body, self.content_type, self.headers = status, body, content_type, headers or []


class ServingApp:
    """The ASGI application over a :class:`ServingService`.

    ``metrics_dir`` is the folder shared by the workers of one server (None for a
    single in-process app); ``on_reload`` is called after ``POST /admin/reload`` so
    the supervisor can tell the other workers (who then reload on ``SIGUSR1``);
    ``on_started`` once every model is live; ``worker`` names this process in logs.
    """

    def __init__(self, service: ServingService, config: ServeConfig, *, worker: str = "0",
                 metrics_dir: MetricsDirectory | None = None, on_reload: Callable[[], None] | None = None,
                 on_started: Callable[[], None] | None = None) -> None:
        self.service = service
        self.config = config
        self.worker = worker
        self.metrics = service.metrics
        self.metrics_dir = metrics_dir
        self.on_reload = on_reload
        self.on_started = on_started
        self.access_log = AccessLog(worker) if config.access_log else None
        self._ids = itertools.count(1)
        self._id_prefix = secrets.token_hex(8)
        self._limit = config.max_request_bytes
        self._publisher: asyncio.Task[None] | None = None
        self._openapi = orjson.dumps(openapi_document(config))
        self._pacer = RefusalPacer(self._refusal_rate)

    # -- ASGI ----------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:  # noqa: BLE001 - reported to the server, which exits
                    logger.exception("serving failed to start")
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self) -> None:
        """Load every model, then start the log writers; freeze the heap and collect young
        objects less often, for short and rare GC pauses (``gc_freeze``)."""
        await self.service.start()
        if self.access_log is not None:
            self.access_log.start()
        if self.metrics_dir is not None:
            self._publisher = asyncio.get_running_loop().create_task(self._publish_every(1.0))
        if self.on_reload is not None:
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGUSR1, lambda: loop.create_task(self._reload_quietly()))
        if self.config.gc_freeze:
            gc.collect()
            gc.freeze()
            # Thousands of connections keep tens of thousands of objects alive; at the default
            # thresholds the collector scans them hundreds of times a second (a quarter of the
            # loop at 4,096 connections, full passes of ~0.2 s). Requests free their objects by
            # reference counting, so young collections can be rare.
            gc.set_threshold(*_GC_THRESHOLDS)
        if self.on_started is not None:
            self.on_started()

    async def shutdown(self) -> None:
        """Answer what is queued, flush the inference log, publish the final metrics."""
        await self.service.stop(self.config.drain_timeout_s)
        if self._publisher is not None:
            self._publisher.cancel()
        self._publish()
        if self.access_log is not None:
            self.access_log.close()

    def _publish(self) -> None:
        if self.metrics_dir is not None:
            try:
                self.metrics_dir.publish(self.worker, self.metrics.snapshot())
            except OSError:
                logger.warning("could not publish metrics to %s", self.metrics_dir.path)

    async def _publish_every(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            self._publish()

    async def _reload_quietly(self) -> None:
        try:
            await self.service.reload()
        except Exception:  # noqa: BLE001 - a failed reload keeps the old versions
            logger.exception("reload requested by the supervisor failed")

    def _refusal_rate(self) -> float:
        """Refusals per second that go out at once: a share of what the models answer, with a floor."""
        served = sum(slot.deployment.batcher.rate_ for router in self.service.routers.values()
                     for slot in router.slots if slot.deployment is not None)
        return max(_REFUSALS_FLOOR, _REFUSALS_PER_ANSWER * served)

    # -- HTTP ----------------------------------------------------------------------------

    async def _http(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        headers = dict(scope["headers"])
        given = headers.get(b"x-request-id")
        request_id = (given.decode("latin-1") if given is not None and _REQUEST_ID.match(given)
                      else f"{self._id_prefix}{next(self._ids):016x}")
        method, path = scope["method"], scope["path"]
        labels = ["", "", ""]  # model, version, route: filled in by handlers that reach a model
        extra: list[tuple[bytes, bytes]] = []
        mlflow = path == "/invocations"
        turn = None
        try:
            status, body, content_type = await self._dispatch(method, path, headers, receive, started, request_id,
                                                              labels, extra)
        except _Done as done:
            status, body, content_type = done.status, done.body, done.content_type
            extra.extend(done.headers)
        except ShipyardError as exc:
            status = status_for(exc)
            body = _error_body(exc, status, mlflow)
            content_type = _JSON
            if isinstance(exc, Overloaded):
                # Long enough for what is admitted to be answered, and for the clients refused
                # lately to come back spread out: those that heed it are answered when they return.
                turn = self._pacer.acquire(scope.get("client"))
                retry_after = max(getattr(exc, "retry_after", 1), self._pacer.retry_after())
                extra.append((b"retry-after", str(retry_after).encode()))
        except Exception as exc:  # noqa: BLE001 - a bug must cost one request, not the server
            logger.exception("unexpected error on %s %s (request %s)", method, path, request_id)
            status, content_type = 500, _JSON
            body = _error_body(ShipyardError(f"internal error: {type(exc).__name__}"), 500, mlflow)
        if turn is not None:  # refusals are flooding the loop: this one waits its turn (its error freed)
            await turn
        response_headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
                            (b"x-request-id", request_id.encode("latin-1")), *extra]
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": body})
        elapsed = time.perf_counter() - started
        model, version, route = labels
        self.metrics.request(model, version, route, status, elapsed)
        if self.access_log is not None:
            self.access_log.log(request_id, method, path, status, elapsed, model, version, route)

    async def _dispatch(self, method: str, path: str, headers: dict[bytes, bytes], receive: Receive,
                        started: float, request_id: str, labels: list[str],
                        extra: list[tuple[bytes, bytes]]) -> tuple[int, bytes, bytes]:
        parts = path.split("/")
        if path == "/invocations":
            _allow(method, "POST")
            return await self._invocations(headers, receive, started, request_id, labels, extra)
        if len(parts) >= 4 and parts[1] == "v2" and parts[2] == "models":
            return await self._v2_model(method, parts[3:], headers, receive, started, request_id, labels, extra)
        if method == "POST":
            if path == "/admin/reload":
                return 200, orjson.dumps({"models": await self._reload()}), _JSON
            if path == "/v1/feedback":
                return await self._feedback(headers, receive)
        get = _GET_ROUTES.get(path)
        if get is None:
            if path in _POST_ROUTES:
                raise _Done(405, orjson.dumps({"error": f"{path} takes POST"}), headers=[(b"allow", b"POST")])
            raise NotFound(f"no route {path}", resource="route")
        _allow(method, "GET")
        return get(self)

    # -- inference -------------------------------------------------------------------------

    async def _body(self, headers: dict[bytes, bytes], receive: Receive) -> bytes:
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                raise MalformedRequest("Content-Length is not a number", field="content-length") from None
            if declared > self._limit:
                raise PayloadTooLarge(f"the body has {declared} bytes; the limit is {self._limit}",
                                      field="body", limit=self._limit)
        message = await receive()
        body = message.get("body", b"")
        if not message.get("more_body"):
            return body
        chunks, size = [body], len(body)
        while message.get("more_body"):
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._limit:
                raise PayloadTooLarge(f"the body exceeds the limit of {self._limit} bytes", field="body",
                                      limit=self._limit)
            chunks.append(chunk)
        return b"".join(chunks)

    async def _invocations(self, headers: dict[bytes, bytes], receive: Receive, started: float, request_id: str,
                           labels: list[str], extra: list[tuple[bytes, bytes]]) -> tuple[int, bytes, bytes]:
        selected = headers.get(b"shipyard-model")
        router = self.service.router(selected.decode("latin-1")) if selected else self.service.default
        labels[0] = router.name
        slot, deployment = self._admit(router, headers, labels, extra)
        try:
            body = await self._body(headers, receive)
            content_type = headers.get(b"content-type", b"application/json").decode("latin-1")
            request = scoring.parse(body, content_type)
            # A model that looks up features takes named request columns, not its signature's.
            prediction = await self.service.infer(
                router, slot, deployment, scoring.model_input(request, None if deployment.features
                                                              else deployment.signature),
                request_id=request_id, started=started,
                shadow_input=lambda d: scoring.model_input(request, None if d.features else d.signature))
        finally:
            self._release(router, deployment)
        return 200, scoring.encode(prediction.outputs), _JSON

    async def _v2_model(self, method: str, rest: list[str], headers: dict[bytes, bytes], receive: Receive,
                        started: float, request_id: str, labels: list[str],
                        extra: list[tuple[bytes, bytes]]) -> tuple[int, bytes, bytes]:
        router = self.service.router(rest[0])
        labels[0] = router.name
        version = None
        tail = rest[1:]
        if len(tail) >= 2 and tail[0] == "versions":
            version, tail = tail[1], tail[2:]
        if tail == ["infer"]:
            _allow(method, "POST")
            if b"inference-header-content-length" in headers:
                raise MalformedRequest("the binary tensor data extension is not supported; send JSON",
                                       field="inference-header-content-length")
            slot, deployment = self._admit(router, headers, labels, extra, version)
            try:
                body = await self._body(headers, receive)
                request = v2.decode(body)

                def adapt(d: Any) -> Any:  # a model that looks up features takes request columns by tensor name
                    return dict(request.inputs) if d.features else v2.model_input(request.inputs, d.signature)

                prediction = await self.service.infer(
                    router, slot, deployment, adapt(deployment), request_id=request_id, started=started,
                    proba=v2.check_outputs(request.outputs, deployment.has_proba), shadow_input=adapt)
            finally:
                self._release(router, deployment)
            return 200, v2.encode(router.name, prediction.version, request.id, prediction.outputs,
                                  request.outputs), _JSON
        _allow(method, "GET")
        if tail == ["ready"]:
            ready = router.ready if version is None else router.by_version(version).deployment is not None
            body = orjson.dumps({"name": router.name, "ready": ready})
            return (200 if ready else 503), body, _JSON
        if tail == []:
            return 200, orjson.dumps(_model_metadata(router, version)), _JSON
        raise NotFound(f"no route {'/'.join(['/v2/models', *rest])}", resource="route")

    def _admit(self, router: ModelRouter, headers: dict[bytes, bytes], labels: list[str],
               extra: list[tuple[bytes, bytes]], version: str | None = None) -> tuple[Slot, Deployment]:
        """Choose the request's target from its headers alone and take a place in its queue:
        a refusal (``Overloaded``) comes before the body is read. Pair with :meth:`_release`."""
        slot, deployment = self.service.choose(router, key=headers.get(router.sticky_header), version=version)
        labels[1], labels[2] = deployment.version, slot.label
        extra.append((b"shipyard-model-version", deployment.version.encode()))
        deployment.batcher.admit()
        in_progress = self.metrics.in_progress
        in_progress[router.name] = in_progress.get(router.name, 0) + 1
        return slot, deployment

    def _release(self, router: ModelRouter, deployment: Deployment) -> None:
        deployment.batcher.release()
        self.metrics.in_progress[router.name] -= 1

    # -- operations ------------------------------------------------------------------------

    async def _reload(self) -> dict[str, Any]:
        described = await self.service.reload()
        if self.on_reload is not None:
            self.on_reload()
        return described

    async def _feedback(self, headers: dict[bytes, bytes], receive: Receive) -> tuple[int, bytes, bytes]:
        body = await self._body(headers, receive)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise MalformedRequest(f"the body is not valid JSON: {exc}") from None
        if not isinstance(payload, dict):
            raise MalformedRequest("the body must be an object with request_id and label, or labels")
        items = payload.get("labels", [payload] if "request_id" in payload else None)
        if not isinstance(items, list) or not items:
            raise MalformedRequest("give request_id and label, or 'labels': [{request_id, label}, ...]",
                                   field="labels")
        labels: list[tuple[str, Any]] = []
        for item in items:
            if not isinstance(item, dict) or "label" not in item:
                raise MalformedRequest("each label needs request_id and label", field="labels")
            rid, label = item.get("request_id"), item["label"]
            if not isinstance(rid, str) or not _REQUEST_ID.match(rid.encode("utf-8", "replace")):
                raise InvalidInput(f"request_id must be 1-128 letters, digits or ._:- (got {rid!r})",
                                   field="request_id")
            if not (label is None or isinstance(label, str | int | float | bool)):
                raise InvalidInput("label must be a number, string, boolean or null", field="label")
            labels.append((rid, label))
        model = payload.get("model")
        if model is None:
            if len(self.service.routers) > 1:
                raise InvalidInput("several models are served here: say which one with 'model'", field="model")
            router = self.service.default
        elif isinstance(model, str):
            router = self.service.router(model)
        else:
            raise InvalidInput("model must be a string", field="model")
        if self.service.log is None or not self.config.inference_log.enabled:
            raise Conflict("the inference log is off on this server, so feedback cannot be kept")
        self.service.log.feedback(router.name, labels)
        return 202, orjson.dumps({"accepted": len(labels), "model": router.name}), _JSON

    def _metrics(self) -> tuple[int, bytes, bytes]:
        if self.metrics_dir is not None:
            self._publish()  # what this scrape shows is on disk first: counters never go back
            merged = self.metrics_dir.collect()
        else:
            merged = self.metrics.snapshot()
        return 200, render(merged), b"text/plain; version=0.0.4; charset=utf-8"

    def _ready(self) -> tuple[int, bytes, bytes]:
        ready = self.service.ready
        return (200 if ready else 503), orjson.dumps({"ready": ready}), _JSON

    def _ping(self) -> tuple[int, bytes, bytes]:
        return (200 if self.service.ready else 503), b"\n", b"text/plain"

    def _models(self) -> tuple[int, bytes, bytes]:
        return 200, orjson.dumps({"models": self.service.describe()}), _JSON


def _allow(method: str, allowed: str) -> None:
    if method != allowed and not (allowed == "GET" and method == "HEAD"):
        raise _Done(405, orjson.dumps({"error": f"method {method} not allowed; use {allowed}"}),
                    headers=[(b"allow", allowed.encode())])


def _model_metadata(router: ModelRouter, version: str | None) -> dict[str, Any]:
    slots = [router.by_version(version)] if version is not None else router.all_slots
    live = [s.deployment for s in slots if s.deployment is not None]
    if not live:
        raise Unavailable(f"model {router.name!r} is not loaded yet", model=router.name)
    first = live[0]
    inputs, outputs = v2.tensor_metadata(first.signature, first.has_proba)
    versions = sorted({d.version for d in live}, key=lambda v: (not v.isdigit(), v.zfill(12)))
    metadata: dict[str, Any] = {"name": router.name, "versions": versions,
                                "platform": f"shipyard_{first.model.flavor}", "inputs": inputs, "outputs": outputs}
    if first.features is not None:  # the model's inputs above are looked up; a request carries these
        metadata["parameters"] = {"request_columns": first.features.request_columns,
                                  "entity_keys": first.features.entity_keys, "features": first.features.refs}
    return metadata


def _error_body(exc: ShipyardError, status: int, mlflow: bool) -> bytes:
    if mlflow:
        return orjson.dumps({"error_code": scoring_code(status), "message": exc.message})
    return orjson.dumps({"error": exc.message})


_GET_ROUTES: dict[str, Callable[[ServingApp], tuple[int, bytes, bytes]]] = {
    "/v2/health/live": lambda app: (200, b'{"live":true}', _JSON),
    "/v2/health/ready": ServingApp._ready,
    "/v2": lambda app: (200, orjson.dumps({"name": "shipyard", "version": _VERSION, "extensions": []}), _JSON),
    "/ping": ServingApp._ping,
    "/health": ServingApp._ping,
    "/version": lambda app: (200, _VERSION.encode(), b"text/plain"),
    "/metrics": ServingApp._metrics,
    "/v1/models": ServingApp._models,
    "/openapi.json": lambda app: (200, app._openapi, _JSON),
}
_POST_ROUTES = frozenset({"/admin/reload", "/v1/feedback", "/invocations"})
