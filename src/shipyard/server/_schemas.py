"""The shapes every ``/api/v1`` route shares in its OpenAPI document: errors and pages.

Handlers encode their answers with orjson and return a ``Response`` (faster than FastAPI's
validation on the way out), so FastAPI cannot infer what they send. Each route therefore
declares its answers with :func:`answers`, and each router declares the error answers any
route may give with :data:`ERROR_ANSWERS`; the document is the contract that the schemathesis
suite checks every response against.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ERROR_ANSWERS", "ErrorBody", "ErrorDetail", "Page", "answers"]

T = TypeVar("T")


class ErrorDetail(BaseModel):
    """What went wrong: ``code`` is the class in Shipyard's error tree, ``field`` the part at fault."""

    model_config = ConfigDict(extra="allow")  # errors carry their context (limit, expected, …)

    code: str = Field(description="The error's class, e.g. NotFound, InvalidInput, PermissionDenied")
    message: str
    field: str | None = Field(default=None, description="The request field at fault, when one is")


class ErrorBody(BaseModel):
    """Every error answer of ``/api/v1``: ``{"error": {"code", "message", "field"?}}``."""

    error: ErrorDetail


class Page(BaseModel, Generic[T]):
    """One page of a list. Pass ``next_page_token`` back as ``page_token`` for the next page;
    it is absent on the last page."""

    items: list[T]
    next_page_token: str | None = None


_ERROR = {"model": ErrorBody}

# The error answers any route may give: authentication and authorization (401, 403), the
# request's own faults (404 unknown resource, 409 conflict, 413 too large, 422 invalid),
# login throttling (429), and a store that is busy or down (503, with Retry-After).
ERROR_ANSWERS: dict[int | str, dict[str, Any]] = {
    400: {**_ERROR, "description": "Malformed request"},
    401: {**_ERROR, "description": "No valid credential"},
    403: {**_ERROR, "description": "The credential's user may not do this"},
    404: {**_ERROR, "description": "Not found"},
    409: {**_ERROR, "description": "Conflicts with the current state"},
    413: {**_ERROR, "description": "Request or value too large"},
    422: {**_ERROR, "description": "Invalid input; field names the part at fault"},
    429: {**_ERROR, "description": "Too many requests; retry after Retry-After seconds"},
    503: {**_ERROR, "description": "Temporarily unavailable; retry after Retry-After seconds"},
}


def answers(model: Any, status: int = 200, description: str = "OK") -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route whose success answer is ``model`` (a pydantic model or type)."""
    return {status: {"model": model, "description": description}}
