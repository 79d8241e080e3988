"""The one place where Shipyard errors become HTTP status codes."""

from __future__ import annotations

import math
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from shipyard.errors import (
    AlreadyExists,
    ConfigError,
    Conflict,
    IntegrityError,
    InvalidInput,
    MissingExtra,
    NotFound,
    PermissionDenied,
    ShipyardError,
    StorageError,
    TooLarge,
    Unavailable,
)

__all__ = ["STATUS_BY_ERROR", "error_response", "install_error_handlers", "retry_after"]

# Most specific first: the first matching class wins.
STATUS_BY_ERROR: tuple[tuple[type[ShipyardError], int], ...] = (
    (NotFound, 404),
    (PermissionDenied, 403),
    (AlreadyExists, 409),
    (Conflict, 409),
    (TooLarge, 413),
    (InvalidInput, 422),
    (IntegrityError, 500),
    (Unavailable, 503),
    (StorageError, 500),
    (MissingExtra, 501),
    (ConfigError, 500),
    (ShipyardError, 500),
)


def _jsonable(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool, type(None), dict, list))


def error_response(status: int, type_: str, message: str, **context: Any) -> Response:
    """``{"error": {"code", "message", "field"?, ...context}}`` with ``status``.

    ``code`` names the error's class in Shipyard's tree (``NotFound``, ``InvalidInput``…), so a
    client can raise the same class; ``field``, when present, names the part of the request at fault.
    """
    body = {"code": type_, "message": message, **{k: v for k, v in context.items() if _jsonable(v)}}
    return Response(orjson.dumps({"error": body}), status_code=status, media_type="application/json")


def retry_after(exc: Unavailable) -> str:
    """The ``Retry-After`` of a 503: the error's ``retry_after`` seconds, whole and at least 1."""
    seconds = exc.context.get("retry_after")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds):
        seconds = 1
    return str(max(1, math.ceil(seconds)))


def _status_for(exc: ShipyardError) -> int:
    return next(code for cls, code in STATUS_BY_ERROR if isinstance(exc, cls))


def install_error_handlers(app: FastAPI) -> None:
    """Map Shipyard errors, request-validation errors and HTTP errors to JSON bodies."""

    @app.exception_handler(ShipyardError)
    async def _shipyard(_: Request, exc: ShipyardError) -> Response:
        response = error_response(_status_for(exc), type(exc).__name__, exc.message, **exc.context)
        if isinstance(exc, Unavailable):
            response.headers["retry-after"] = retry_after(exc)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
        field = ".".join(loc) or "body"
        return error_response(422, "InvalidInput", f"{field}: {first.get('msg', 'invalid')}", field=field)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        type_ = "NotFound" if exc.status_code == 404 else "HTTPError"
        return error_response(exc.status_code, type_, str(exc.detail))
