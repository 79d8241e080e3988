"""Serving's branches of the error tree (all rooted at :class:`~shipyard.errors.ShipyardError`)::

    InvalidInput
    ├── MalformedRequest   the body is not valid for its protocol (bad JSON, shape ≠ data)
    └── PayloadTooLarge    the body is larger than ``max_request_bytes``
    Unavailable
    ├── Overloaded         the model's queue is full: retry after ``retry_after`` seconds
    └── InferenceTimeout   the request waited longer than the model's ``timeout_s``
    ShipyardError
    └── ModelFailed        the model raised while predicting (``cause`` holds the error)

Only the HTTP face (:mod:`shipyard.serving._app`) turns these into status codes.
"""

from __future__ import annotations

from shipyard.errors import InvalidInput, ShipyardError, Unavailable

__all__ = ["InferenceTimeout", "MalformedRequest", "ModelFailed", "Overloaded", "PayloadTooLarge"]


class MalformedRequest(InvalidInput):
    """The body does not follow the protocol; ``field`` names the part at fault."""


class PayloadTooLarge(InvalidInput):
    """The body exceeds the configured ``max_request_bytes`` (``limit``)."""


class Overloaded(Unavailable):
    """The model's queue is full; ``retry_after`` says when to try again (seconds)."""


class InferenceTimeout(Unavailable):
    """The request was not answered within the model's ``timeout_s``."""


class ModelFailed(ShipyardError):
    """The model raised on this request's rows; ``cause`` is the model's own error."""
