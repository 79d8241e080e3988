"""The frameworks autologging knows, each with what switches it on.

scikit-learn is patched at once (its classes are listed by scikit-learn itself);
every other framework through :mod:`shipyard.autolog._hooks`, when its module is
imported. Each framework's own module is imported only here, inside its installer,
because it imports the framework at its top.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType, ModuleType

from shipyard.autolog._hooks import Patch
from shipyard.autolog._record import Settings

__all__ = ["FRAMEWORKS", "Framework", "installed"]


def _xgboost(settings: Settings, module: ModuleType) -> list[Patch]:
    from shipyard.autolog import _xgboost

    return _xgboost.patch(settings, module)


def _lightgbm(settings: Settings, module: ModuleType) -> list[Patch]:
    from shipyard.autolog import _lightgbm

    return _lightgbm.patch(settings, module)


def _lightning(settings: Settings, module: ModuleType) -> list[Patch]:
    from shipyard.autolog import _lightning

    return _lightning.patch(settings, module)


def _keras(settings: Settings, module: ModuleType) -> list[Patch]:
    from shipyard.autolog import _keras

    return _keras.patch(settings, module)


@dataclass(frozen=True)
class Framework:
    """``module`` is patched by ``install`` once imported; ``extra`` names its ``pip install``."""

    name: str
    module: str
    extra: str
    install: Callable[[Settings, ModuleType], list[Patch]] | None  # None: scikit-learn, patched at once

    @property
    def top(self) -> str:
        return self.module.partition(".")[0]


FRAMEWORKS: MappingProxyType[str, Framework] = MappingProxyType({
    "sklearn": Framework("sklearn", "sklearn", "sklearn", None),
    "xgboost": Framework("xgboost", "xgboost", "xgboost", _xgboost),
    "lightgbm": Framework("lightgbm", "lightgbm", "lightgbm", _lightgbm),
    # Hooked on the subpackage: `import lightning` runs it, and so does `import lightning.pytorch`.
    "lightning": Framework("lightning", "lightning.pytorch", "lightning", _lightning),
    "keras": Framework("keras", "keras", "keras", _keras),
})


def installed(framework: Framework) -> bool:
    """Whether the framework's top package is installed (found without importing it)."""
    return importlib.util.find_spec(framework.top) is not None
