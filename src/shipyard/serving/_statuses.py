"""The HTTP status of each error on serving's wire: the one table, read by the face and the log.

Serving speaks the Open Inference Protocol v2 (``/v2/...``) and MLflow's scoring
protocol (``/invocations``); both answer an error with the status :func:`status_for`
gives, and the scoring protocol adds the MLflow error code of that status
(:func:`scoring_code`). The HTTP face (:mod:`shipyard.serving._app`) answers with it,
and the inference log records the same status for the request
(:mod:`shipyard.serving._service`), so a row of the log says what the caller got.

>>> from shipyard.serving._errors import Overloaded
>>> status_for(Overloaded("queue full")), scoring_code(503)
(503, 'TEMPORARILY_UNAVAILABLE')
"""

from __future__ import annotations

from shipyard.errors import Conflict, InvalidInput, NotFound, ShipyardError, Unavailable
from shipyard.serving._errors import InferenceTimeout, MalformedRequest, ModelFailed, Overloaded, PayloadTooLarge

__all__ = ["SCORING_CODES", "STATUS", "scoring_code", "status_for"]

# Most specific first: the first matching class wins.
STATUS: tuple[tuple[type[ShipyardError], int], ...] = (
    (PayloadTooLarge, 413),
    (MalformedRequest, 400),
    (InvalidInput, 422),
    (NotFound, 404),
    (Conflict, 409),
    (Overloaded, 503),
    (InferenceTimeout, 504),
    (Unavailable, 503),
    (ModelFailed, 500),
    (ShipyardError, 500),
)

#: MLflow's scoring-protocol error code of each status (others: ``INTERNAL_ERROR``).
SCORING_CODES: dict[int, str] = {400: "BAD_REQUEST", 413: "BAD_REQUEST", 422: "BAD_REQUEST",
                                 404: "RESOURCE_DOES_NOT_EXIST", 503: "TEMPORARILY_UNAVAILABLE",
                                 504: "TEMPORARILY_UNAVAILABLE"}


def status_for(exc: ShipyardError) -> int:
    """The HTTP status serving answers ``exc`` with."""
    return next(code for cls, code in STATUS if isinstance(exc, cls))


def scoring_code(status: int) -> str:
    """The ``error_code`` of an error answered with ``status`` on ``/invocations``."""
    return SCORING_CODES.get(status, "INTERNAL_ERROR")
