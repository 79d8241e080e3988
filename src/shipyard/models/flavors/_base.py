"""The flavor interface: how one framework's models are saved and loaded.

A flavor writes a model into a package folder and reads it back as a
:class:`Predictor`. Flavors import their framework only inside ``save`` and
``load`` (through :func:`require`), so listing them, and matching a model against
them, costs nothing: ``matches`` looks at the names of the model's classes.

What a predictor receives is what :meth:`Signature.validate` returns: a 2-D ndarray
(uniform columns, or one tensor), a DataFrame (mixed columns) or a dict of arrays
(named tensors); without a signature, what the caller passed (records become a
DataFrame). Each flavor converts only when its framework needs something else.

>>> class Doubler:
...     name = "doubler"
...     framework = "numpy"
...     def matches(self, model): return False
...     def requirements(self, model): return pinned("numpy")
...     def save(self, model, directory, *, input_example=None, **options): return {}
...     def load(self, directory, manifest): return Predictor(native=None, predict=lambda x: 2 * x)
>>> isinstance(Doubler(), Flavor)
True
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from shipyard.errors import InvalidInput, MissingExtra

if TYPE_CHECKING:
    from shipyard.models._manifest import ModelManifest

__all__ = ["Flavor", "Predictor", "defined_in", "pinned", "reject_options", "require"]


@dataclass(frozen=True)
class Predictor:
    """A loaded model, reduced to the calls serving needs.

    ``predict`` and ``predict_proba`` take validated input and return numpy arrays
    (or a dict of them). They are plain callables, often the framework's own bound
    method, so a call adds nothing on the way. ``native`` is the framework object
    (estimator, Booster, module, session) for callers who need it.
    """

    native: Any
    predict: Callable[[Any], Any]
    predict_proba: Callable[[Any], Any] | None = None


@runtime_checkable
class Flavor(Protocol):
    """Saves and loads the models of one framework.

    ``name`` is recorded in ``model.yaml``; ``framework`` is the distribution whose
    version is recorded (``"python"`` for the custom flavor). ``save`` writes into an
    empty folder and returns the options to record (JSON-able); ``load`` receives the
    manifest back and must only read the folder.
    """

    name: str
    framework: str

    def matches(self, model: Any) -> bool:
        """Whether this flavor saves ``model``; must not import the framework."""
        ...

    def requirements(self, model: Any) -> list[str]:
        """Pinned ``name==version`` requirements of the libraries the package needs."""
        ...

    def save(
        self, model: Any, directory: Path, *, input_example: Any = None, **options: Any
    ) -> dict[str, Any]:
        """Write ``model`` into ``directory``; return the options to record."""
        ...

    def load(self, directory: Path, manifest: ModelManifest) -> Predictor:
        """Read the model back from a verified package folder."""
        ...


def require(module: str, extra: str) -> ModuleType:
    """Import an optional framework, or raise ``MissingExtra`` naming the pip install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(module, extra) from None


def defined_in(model: Any, package: str) -> bool:
    """Whether ``model``'s class, or one of its bases, comes from ``package``.

    Reads module names only, so testing a scikit-learn model against the XGBoost
    flavor does not import XGBoost.
    """
    prefix = package + "."
    return any(cls.__module__ == package or cls.__module__.startswith(prefix) for cls in type(model).__mro__)


def pinned(*distributions: str) -> list[str]:
    """``name==version`` for each installed distribution (absent ones are skipped)."""
    pins = []
    for name in distributions:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return pins


def reject_options(flavor: str, options: Mapping[str, Any]) -> None:
    """Refuse options a flavor does not know, rather than silently ignoring a typo."""
    if options:
        name = next(iter(options))
        raise InvalidInput(f"the {flavor} flavor has no option {name!r}", field=name)
