"""Request bodies over a size limit are refused with 413, before they are read.

:class:`BodyLimit` is the outermost layer, in front of authentication (which reads the
JSON body of some requests to authorize them) and every route, Shipyard's and MLflow's. Streamed uploads
(run artifacts over either API, dataset objects) have their own, larger limit
(``Config.max_upload_bytes``); every other body has ``Config.max_request_bytes``.

A body whose ``Content-Length`` is over the limit is answered at once: the app never
runs. A chunked body, whose size is not declared, is counted as the app reads it; the
read that passes the limit raises :class:`~shipyard.errors.TooLarge`, so no handler
ever holds more than the limit and one chunk. Each API answers in its own error format:
``{"error": {"code": "TooLarge", "message", "field": "body", "limit"}}`` on ``/api/v1``,
``{"error_code": "INVALID_PARAMETER_VALUE", "message"}`` on MLflow's paths.

The answer closes the connection: the rest of a refused body is never received. A
client still sending then has its connection reset, and reads the answer that came
before (httpx, and requests, which the MLflow client uses, both do: a refused 1 GB
body is answered after about 4 MiB have crossed the loopback).

>>> app.add_middleware(BodyLimit, max_bytes=64 << 20, max_upload_bytes=10 << 30)  # doctest: +SKIP
"""

from __future__ import annotations

import re

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shipyard.errors import TooLarge
from shipyard.server.mlflow import PREFIXES, route_path

__all__ = ["BodyLimit"]

# Routes that stream their body to the artifact store (PUT only).
_UPLOADS = re.compile(r"/api/v1/runs/[^/]+/artifacts/.+|/api/v1/datasets/objects/[^/]+"
                      r"|/api/2\.0/mlflow-artifacts/artifacts/.+")
_MLFLOW_ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


def _declared_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the HTTP server refuses a malformed length before the app sees it
    return None


def _too_large(size: int, limit: int, declared: bool) -> TooLarge:
    what = f"the request body is {size} bytes" if declared else f"the request body passed {limit} bytes"
    return TooLarge(f"{what}; the limit is {limit}", field="body", limit=limit)


def _response_messages(path: str, exc: TooLarge) -> list[Message]:
    """The 413 answer to ``exc``, in the error format of the API ``path`` belongs to."""
    if path.startswith(PREFIXES) or path == _MLFLOW_ARTIFACTS:
        # The MLflow API's code for a refused value; 413 for the reason given in its errors module.
        body = orjson.dumps({"error_code": "INVALID_PARAMETER_VALUE", "message": exc.message})
    else:
        body = orjson.dumps({"error": {"code": "TooLarge", "message": exc.message, **exc.context}})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"connection", b"close")]
    return [{"type": "http.response.start", "status": 413, "headers": headers},
            {"type": "http.response.body", "body": body}]


class _Counted:
    """``receive`` and ``send`` of one request: counts the body read and refuses past the limit."""

    def __init__(self, receive: Receive, send: Send, limit: int, path: str) -> None:
        self._receive = receive
        self._send = send
        self.limit = limit
        self.path = path
        self.read = 0
        self.refused: TooLarge | None = None  # set once the limit was passed
        self.started = False  # the app began its answer
        self.answered = False  # our 413 replaced the app's answer

    async def receive(self) -> Message:
        if self.refused is not None:
            raise self.refused
        message = await self._receive()
        if message["type"] == "http.request":
            self.read += len(message.get("body", b""))
            if self.read > self.limit:
                self.refused = _too_large(self.read, self.limit, declared=False)
                raise self.refused
        return message

    async def send(self, message: Message) -> None:
        if self.answered:
            return  # the rest of an answer already replaced by ours
        if message["type"] == "http.response.start":
            if self.refused is not None and message["status"] != 413:
                # The app turned the refusal into another answer (FastAPI makes a failed body read a
                # 400): the client must learn that the body was too large.
                await self.answer()
                return
            if self.refused is not None:  # the app's own 413: the rest of the body is not received
                message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            self.started = True
        await self._send(message)

    async def answer(self) -> None:
        assert self.refused is not None
        self.answered = True
        for message in _response_messages(self.path, self.refused):
            await self._send(message)


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``max_bytes`` (``max_upload_bytes`` on the
    streamed upload routes) with 413, reading no more of one than the limit and one chunk."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes

    def limit_for(self, method: str, path: str) -> int:
        """The body limit of a request: the upload limit for a PUT to an upload route."""
        return self.max_upload_bytes if method == "PUT" and _UPLOADS.fullmatch(path) else self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        limit = self.limit_for(scope["method"], path)
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            for message in _response_messages(path, _too_large(declared, limit, declared=True)):
                await send(message)
            return
        counted = _Counted(receive, send, limit, path)
        try:
            await self.app(scope, counted.receive, counted.send)
        except TooLarge as exc:
            if exc is not counted.refused or counted.started:
                raise
            if not counted.answered:
                await counted.answer()
