"""How an MLflow RPC becomes a call on Shipyard's stores: request message in, JSON out.

MLflow's client sends a GET's message as query parameters (repeated fields as repeated
keys, booleans as ``True``/``False``) and every other method's message as a JSON body;
field names are the protobuf names. :class:`Message` reads either form with typed
getters that raise :class:`~shipyard.errors.InvalidInput` naming the field, so a
malformed request is a 400, never a 500.

:class:`Routes` is a dispatch table, not a FastAPI router: an exact ``(method, path)``
lookup, then the few paths with parameters. MLflow's client makes one request per
logged point, so what a request costs before it reaches the store is what it costs
(FastAPI's routing and request machinery took about as long as the SQL write). Two
kinds of handler: :meth:`Routes.rpc` registers a plain sync function
``(message, stores) -> dict`` that runs in the thread pool (the stores block) and
whose dict is the 200 body; :meth:`Routes.raw` an async ``(request, stores) ->
Response`` for streamed bodies.

>>> routes = Routes("/api/2.0/mlflow")
>>> @routes.rpc("GET", "/experiments/get")
... def get_experiment(msg: Message, stores: Stores) -> dict:
...     return {"experiment": {"experiment_id": msg.text("experiment_id", required=True)}}
>>> routes.match("GET", "/api/2.0/mlflow/experiments/get")[1]
{}
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from shipyard.errors import InvalidInput
from shipyard.registry import RegistryStore
from shipyard.store.artifacts import ArtifactStore
from shipyard.tracking import TrackingStore

__all__ = ["Handler", "Message", "RawHandler", "Routes", "Stores", "json_response", "number", "read_message",
           "stores_of"]

_NON_FINITE = {"nan": math.nan, "infinity": math.inf, "inf": math.inf, "-infinity": -math.inf, "-inf": -math.inf}


@dataclass(frozen=True)
class Stores:
    """The stores ``shipyard server`` opened, as the MLflow handlers see them."""

    tracking: TrackingStore
    registry: RegistryStore
    artifacts: ArtifactStore


def stores_of(request: Request) -> Stores:
    state = request.app.state
    return Stores(state.tracking, state.registry, state.artifacts)


class Message:
    """One request message: the JSON body, or the query parameters of a GET."""

    __slots__ = ("_body", "_path", "_query")

    def __init__(self, body: dict[str, Any] | None = None, query: QueryParams | None = None,
                 path: dict[str, Any] | None = None) -> None:
        self._body = body if body is not None else {}
        self._query = query
        self._path = path or {}

    def raw(self, name: str) -> Any:
        """The field as sent (a string for a GET), or None when absent; path parameters win."""
        if name in self._path:
            return self._path[name]
        if self._query is not None:
            return self._query.get(name)
        return self._body.get(name)

    def has(self, name: str) -> bool:
        return self.raw(name) is not None

    def text(self, name: str, *, required: bool = False, default: str | None = None) -> str | None:
        """A string field; ``required`` refuses an absent or empty one."""
        value = self.raw(name)
        if value is None or value == "":
            if required:
                raise InvalidInput(f"Missing value for required parameter '{name}'", field=name)
            return default
        if not isinstance(value, str):
            raise InvalidInput(f"Invalid value {value!r} for parameter '{name}': expected a string", field=name)
        return value

    def integer(self, name: str, *, default: int | None = None, required: bool = False) -> int | None:
        """An int64 field, given as a number or a string of digits (protobuf JSON allows both)."""
        value = self.raw(name)
        if value is None or value == "":
            if required:
                raise InvalidInput(f"Missing value for required parameter '{name}'", field=name)
            return default
        if isinstance(value, bool):
            raise InvalidInput(f"Invalid value {value!r} for parameter '{name}': expected an integer", field=name)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return int(value)
        except (TypeError, ValueError):
            raise InvalidInput(
                f"Invalid value {value!r} for parameter '{name}': expected an integer", field=name
            ) from None

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise InvalidInput(f"Invalid value {value!r} for parameter '{name}': expected true or false", field=name)

    def strings(self, name: str) -> list[str]:
        """A repeated string field (absent: empty)."""
        if self._query is not None:
            return list(self._query.getlist(name))
        value = self._body.get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidInput(f"Invalid value {value!r} for parameter '{name}': expected a list of strings",
                               field=name)
        return value

    def objects(self, name: str) -> list[dict[str, Any]]:
        """A repeated message field, e.g. ``tags`` (absent: empty). Never in a GET."""
        value = self._body.get(name) if self._query is None else None
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise InvalidInput(f"Invalid value for parameter '{name}': expected a list of objects", field=name)
        return value

    def pairs(self, name: str) -> dict[str, str]:
        """A repeated ``{key, value}`` field (tags, params) as a dict; later keys win."""
        out: dict[str, str] = {}
        for i, item in enumerate(self.objects(name)):
            key, value = item.get("key"), item.get("value", "")
            if not isinstance(key, str) or not key:
                raise InvalidInput(f"{name}[{i}] needs a non-empty string 'key'", field=name)
            out[key] = value if isinstance(value, str) else _as_text(value)
        return out


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def number(value: Any, field: str) -> float:
    """A double as protobuf JSON carries it: a number, or "NaN"/"Infinity"/"-Infinity"."""
    if isinstance(value, bool):
        raise InvalidInput(f"Invalid value {value!r} for parameter '{field}': expected a number", field=field)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        special = _NON_FINITE.get(value.lower())
        if special is not None:
            return special
        try:
            return float(value)
        except ValueError:
            pass  # not a number: refused below, with the same message as any other type
    raise InvalidInput(f"Invalid value {value!r} for parameter '{field}': expected a number", field=field)


async def read_message(request: Request) -> Message:
    """The request's message: its query parameters for a GET, else its JSON body."""
    if request.method == "GET":
        return Message(query=request.query_params, path=request.path_params)
    raw = await request.body()
    if not raw.strip():
        return Message({}, path=request.path_params)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"request body is not valid JSON: {exc}", field="body") from None
    if not isinstance(body, dict):
        raise InvalidInput("request body must be a JSON object", field="body")
    return Message(body, path=request.path_params)


def json_response(data: dict[str, Any]) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


Handler = Callable[[Message, Stores], dict[str, Any]]
RawHandler = Callable[[Request, Stores], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]
_PARAM = re.compile(r"\{(\w+)(:path)?\}")


class Routes:
    """A table of MLflow endpoints under ``prefix``; several tables merge with :meth:`extend`."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self._exact: dict[tuple[str, str], Endpoint] = {}
        self._patterns: list[tuple[str, re.Pattern[str], Endpoint]] = []

    def _add(self, method: str, path: str, endpoint: Endpoint) -> None:
        full = self.prefix + path
        if "{" not in full:
            self._exact[(method, full)] = endpoint
            return
        regex = _PARAM.sub(lambda m: f"(?P<{m.group(1)}>{'.*' if m.group(2) else '[^/]+'})", re.escape(full)
                           .replace(r"\{", "{").replace(r"\}", "}"))
        self._patterns.append((method, re.compile(regex + "$"), endpoint))

    def rpc(self, method: str, path: str) -> Callable[[Handler], Handler]:
        """Serve ``handler`` at ``method path``: message in, dict out, run in the thread pool.

        Every handler runs there, one-row writes too: a write that waits for a database
        lock (up to the busy timeout) must hold one pool thread, never the event loop and
        with it every other request. Reading the message stays on the loop.
        """

        def register(handler: Handler) -> Handler:
            async def endpoint(request: Request) -> Response:
                msg = await read_message(request)
                return json_response(await run_in_threadpool(handler, msg, stores_of(request)))

            self._add(method, path, endpoint)
            return handler

        return register

    def raw(self, method: str, path: str) -> Callable[[RawHandler], RawHandler]:
        """Serve an async ``handler(request, stores)`` that builds its own response."""

        def register(handler: RawHandler) -> RawHandler:
            async def endpoint(request: Request) -> Response:
                return await handler(request, stores_of(request))

            self._add(method, path, endpoint)
            return handler

        return register

    def extend(self, other: Routes) -> None:
        self._exact.update(other._exact)
        self._patterns.extend(other._patterns)

    def match(self, method: str, path: str) -> tuple[Endpoint, dict[str, str]] | None:
        """The endpoint for ``method path`` and its path parameters, or None."""
        endpoint = self._exact.get((method, path))
        if endpoint is not None:
            return endpoint, {}
        for want, regex, endpoint in self._patterns:
            if want == method and (m := regex.match(path)):
                return endpoint, m.groupdict()
        return None
