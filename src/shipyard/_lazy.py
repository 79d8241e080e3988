"""Lazy re-exports for package ``__init__`` modules.

A package that maps its public names to the submodules defining them gets a module
``__getattr__`` that imports a submodule only when one of its names is first used, so
``import shipyard`` stays light (no numpy, Arrow or DuckDB until needed), and a
``__dir__`` listing the public names.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, where: Mapping[str, str], public: Sequence[str],
                 namespace: MutableMapping[str, Any]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: ``where`` maps a name to its submodule
    (relative to ``package``; a name mapped to itself, or to its private ``_name`` that defines no such
    attribute, is that submodule); a loaded name is
    cached in ``namespace`` (the package's ``globals()``) so later lookups skip the hook.

    This is the one place Shipyard imports its own modules by name, and it can reach only
    submodules of ``package`` (the import is relative to it): no dependency between
    packages hides here.

    >>> __getattr__, __dir__ = lazy_exports(__name__, {"Thing": "things"}, __all__, globals())  # doctest: +SKIP
    """

    def __getattr__(name: str) -> Any:
        submodule = where.get(name)
        if submodule is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(f".{submodule}", package)
        is_module = submodule == name or (submodule == f"_{name}" and not hasattr(module, name))
        value = module if is_module else getattr(module, name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(public)

    return __getattr__, __dir__
