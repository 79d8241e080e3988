"""The one error tree of Shipyard.

Every error Shipyard raises on purpose derives from :class:`ShipyardError`::

    ShipyardError
    ├── ConfigError          bad or contradictory configuration
    ├── NotFound             an experiment, run, model, artifact… does not exist
    ├── AlreadyExists        a create would duplicate a unique name
    ├── InvalidInput         a value the caller passed is malformed (names the field)
    │   └── TooLarge         a value or request body is over a size limit (``limit``)
    ├── PermissionDenied     the caller's role and grants do not allow the action
    ├── Conflict             the request is valid but clashes with current state
    │   └── PromotionRefused a guarded alias's policy failed (``report`` lists the checks)
    ├── IntegrityError       stored bytes do not match their recorded hash
    ├── StorageError         a backend (database, object store) failed
    │   └── Unavailable      a backend or server could not be reached
    └── MissingExtra         an optional dependency is not installed

Exceptions carry the objects they concern as attributes (``field``, ``resource``,
``key``) rather than string codes. Foreign exceptions (SQLAlchemy, fsspec, httpx)
are translated into this tree where they enter Shipyard; only the HTTP faces map
these classes to status codes.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AlreadyExists",
    "ConfigError",
    "Conflict",
    "IntegrityError",
    "InvalidInput",
    "MissingExtra",
    "NotFound",
    "PermissionDenied",
    "PromotionRefused",
    "ShipyardError",
    "StorageError",
    "TooLarge",
    "Unavailable",
    "error_from_name",
]


class ShipyardError(Exception):
    """Base of every error Shipyard raises on purpose."""

    def __init__(self, message: str, /, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context = context
        for key, value in context.items():
            setattr(self, key, value)

    def __str__(self) -> str:
        return self.message


class ConfigError(ShipyardError):
    """The configuration is malformed or contradictory."""


class NotFound(ShipyardError):
    """The named resource does not exist. ``resource`` says what was looked up."""


class AlreadyExists(ShipyardError):
    """Creating the resource would duplicate a unique name."""


class InvalidInput(ShipyardError):
    """A caller-supplied value is malformed. ``field`` names it when known."""


class TooLarge(InvalidInput):
    """A value or request body is over a configured size limit; ``limit`` holds the limit.

    ``field`` names what is too large (a param key, ``body``); the HTTP faces answer 413.
    """


class PermissionDenied(ShipyardError):
    """The caller is known, but their role and grants do not allow the action (HTTP 403).

    The message names the user, the action, the resource and the role that would allow it.
    """


class Conflict(ShipyardError):
    """The request is well-formed but clashes with the current state."""


class PromotionRefused(Conflict):
    """Moving a guarded alias failed its promotion policy; ``report`` holds every check."""

    report: dict[str, Any]  # set from the context: {"checks": [...], ...}


class IntegrityError(ShipyardError):
    """Stored bytes do not match the hash recorded for them."""


class StorageError(ShipyardError):
    """A storage backend failed for a reason other than the caller's input."""


class Unavailable(StorageError):
    """A backend or server could not be reached; retrying later may succeed."""


class MissingExtra(ShipyardError):
    """An optional dependency is missing; the message names the ``pip install``."""

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(
            f"{module!r} is not installed; run: pip install 'shipyard[{extra}]'",
            module=module,
            extra=extra,
        )


_BY_NAME: dict[str, type[ShipyardError]] = {
    cls.__name__: cls
    for cls in (
        ShipyardError,
        ConfigError,
        NotFound,
        AlreadyExists,
        InvalidInput,
        TooLarge,
        PermissionDenied,
        Conflict,
        PromotionRefused,
        IntegrityError,
        StorageError,
        Unavailable,
    )
}


def error_from_name(name: str, message: str, /, **context: Any) -> ShipyardError:
    """Rebuild an error that crossed the wire by its class name (unknown names → base)."""
    if name == "MissingExtra" and "module" in context and "extra" in context:
        error: ShipyardError = MissingExtra(context.pop("module"), context.pop("extra"))
        error.context.update(context)
        for key, value in context.items():
            setattr(error, key, value)
        return error
    return _BY_NAME.get(name, ShipyardError)(message, **context)
