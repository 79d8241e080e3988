"""MLflow's error wire format: ``{"error_code": CODE, "message": text}`` with MLflow's statuses.

The MLflow client treats only status 200 as success and decides what went wrong by
``error_code`` (``set_experiment`` creates an experiment on ``RESOURCE_DOES_NOT_EXIST``,
``register_model`` carries on past ``RESOURCE_ALREADY_EXISTS``, ``call_endpoints`` tries
the next route on ``ENDPOINT_NOT_FOUND``). The status of each code is MLflow's own
(``mlflow.exceptions.ERROR_CODE_TO_HTTP_STATUS``). The client retries 429, 5xx and 408,
so a caller's mistake must never map to a 5xx: every Shipyard error that describes bad
input maps to a 4xx here. A busy store (:class:`~shipyard.errors.Unavailable`) answers
503 ``TEMPORARILY_UNAVAILABLE`` with ``Retry-After``.

The MLflow dispatcher (:class:`shipyard.server.mlflow.MlflowApi`) applies this to its
own paths only, leaving Shipyard's ``/api/v1`` error format untouched.
"""

from __future__ import annotations

import logging

import orjson
from starlette.responses import Response

from shipyard.errors import (
    AlreadyExists,
    ConfigError,
    Conflict,
    IntegrityError,
    InvalidInput,
    MissingExtra,
    NotFound,
    ShipyardError,
    StorageError,
    TooLarge,
    Unavailable,
)
from shipyard.server._errors import retry_after

__all__ = [
    "CODE_BY_ERROR",
    "STATUS_BY_CODE",
    "code_for",
    "endpoint_not_found",
    "error_response",
    "response_for",
]

_log = logging.getLogger(__name__)

# MLflow's status for each code this face emits (mlflow/exceptions.py).
STATUS_BY_CODE: dict[str, int] = {
    "RESOURCE_DOES_NOT_EXIST": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "RESOURCE_ALREADY_EXISTS": 400,
    "INVALID_PARAMETER_VALUE": 400,
    "INTERNAL_ERROR": 500,
    "DATA_LOSS": 500,
    "NOT_IMPLEMENTED": 501,
    "TEMPORARILY_UNAVAILABLE": 503,
}

# Most specific first: the first matching class wins. A Conflict (a param logged
# again with another value, a finished run, a refused promotion) is what MLflow
# reports as INVALID_PARAMETER_VALUE; its INVALID_STATE would be a retried 500.
CODE_BY_ERROR: tuple[tuple[type[ShipyardError], str], ...] = (
    (NotFound, "RESOURCE_DOES_NOT_EXIST"),
    (AlreadyExists, "RESOURCE_ALREADY_EXISTS"),
    (InvalidInput, "INVALID_PARAMETER_VALUE"),
    (Conflict, "INVALID_PARAMETER_VALUE"),
    (IntegrityError, "DATA_LOSS"),
    (Unavailable, "TEMPORARILY_UNAVAILABLE"),
    (MissingExtra, "NOT_IMPLEMENTED"),
    (StorageError, "INTERNAL_ERROR"),
    (ConfigError, "INTERNAL_ERROR"),
    (ShipyardError, "INTERNAL_ERROR"),
)


def code_for(exc: ShipyardError) -> str:
    """The MLflow error code of a Shipyard error."""
    return next(code for cls, code in CODE_BY_ERROR if isinstance(exc, cls))


# A value or body over a size limit keeps MLflow's code for the refusal, INVALID_PARAMETER_VALUE
# (what MLflow's own server raises for a too-long param or tag), but answers 413, not the code's
# 400. The MLflow client builds its exception from ``error_code`` whatever the status and retries
# neither status; its artifact upload reports only the status line, and "413 ... Too Large" names
# the problem where "400 Bad Request" would not.
TOO_LARGE_STATUS = 413


def error_response(code: str, message: str, status: int | None = None) -> Response:
    """``{"error_code", "message"}`` with ``status``, by default the status MLflow gives ``code``."""
    body = orjson.dumps({"error_code": code, "message": message})
    return Response(body, status_code=status or STATUS_BY_CODE.get(code, 500), media_type="application/json")


def endpoint_not_found(method: str, path: str) -> Response:
    """What any path or method under an MLflow prefix that no route serves gets (never a redirect)."""
    return error_response("ENDPOINT_NOT_FOUND", f"no {method} endpoint at {path} in Shipyard's MLflow API")


def response_for(exc: Exception, method: str, path: str) -> Response:
    """The MLflow error body for an exception raised while serving ``method path``."""
    if isinstance(exc, ShipyardError):
        status = TOO_LARGE_STATUS if isinstance(exc, TooLarge) else None
        response = error_response(code_for(exc), exc.message, status)
        if isinstance(exc, Unavailable):
            response.headers["retry-after"] = retry_after(exc)
        return response
    # A bug: say so in MLflow's words and keep the traceback in the server log.
    _log.error("unhandled error in %s %s", method, path, exc_info=exc)
    return error_response("INTERNAL_ERROR", "internal error in Shipyard's MLflow API; see the server log")
