"""Patching frameworks when they are imported: XGBoost, LightGBM, Lightning, Keras.

``shipyard.autolog()`` must not import four heavy frameworks a script may never use
(Keras and Lightning bring PyTorch with them). A framework already imported is
patched at once; any other gets a finder at the front of ``sys.meta_path`` that finds
nothing itself but, once the framework's module has run, applies its patches. So
``shipyard.autolog()`` may come before or after ``import xgboost``.

A patched call records only when it is the outermost autologged fit in its context,
the same flag scikit-learn's wrappers use (:mod:`shipyard.autolog._patch`): an
``XGBClassifier`` fitted by a recorded ``Pipeline`` belongs to the Pipeline's run, and
``LGBMClassifier.fit`` calling ``LGBMModel.fit`` is one call.

The patches and finders are the only module state, so that ``autolog(disable=True)``
puts back exactly what was there.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import sys
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from shipyard.autolog._patch import ORIGINAL, _in_fit

__all__ = ["CallRecorder", "Installer", "Patch", "install", "outermost", "replace", "uninstall"]

CallRecorder = Callable[[Callable[..., Any], tuple[Any, ...], dict[str, Any]], Any]
"""Runs an outermost call and records it: ``recorder(original, args, kwargs)``."""

Installer = Callable[[ModuleType], list["Patch"]]
"""Patches a framework whose top module has just been imported; returns what it replaced."""

_MISSING = object()


@dataclass(frozen=True)
class Patch:
    """One attribute replaced on ``target``; :meth:`undo` puts back what it held."""

    target: Any
    name: str
    previous: Any  # what the target itself held under ``name``, or _MISSING

    def undo(self) -> None:
        if self.previous is _MISSING:
            delattr(self.target, self.name)
        else:
            setattr(self.target, self.name, self.previous)


def outermost(original: Callable[..., Any], recorder: CallRecorder) -> Callable[..., Any]:
    """``original``, recorded by ``recorder`` when no autologged fit is already running."""

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if _in_fit.get():
            return original(*args, **kwargs)
        token = _in_fit.set(True)
        try:
            return recorder(original, args, kwargs)
        finally:
            _in_fit.reset(token)

    setattr(wrapper, ORIGINAL, original)
    return wrapper


def replace(target: Any, name: str, recorder: CallRecorder) -> Patch:
    """Wrap ``target.name`` (a function, or a method defined or inherited) with :func:`outermost`."""
    current = getattr(target, name)
    original = getattr(current, ORIGINAL, current)  # a base class patched already: wrap what it wraps
    previous = target.__dict__.get(name, _MISSING) if isinstance(target, type) else getattr(target, name)
    setattr(target, name, outermost(original, recorder))
    return Patch(target, name, previous)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Lets the other finders find ``module``, then runs ``on_import`` once it has executed."""

    def __init__(self, module: str, on_import: Callable[[ModuleType], None]) -> None:
        self.module = module
        self.on_import = on_import

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None) -> Any:
        if fullname != self.module:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _ThenPatch(spec.loader, self.on_import)
                return spec
        return None


class _ThenPatch(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader, on_import: Callable[[ModuleType], None]) -> None:
        self.loader = loader
        self.on_import = on_import

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.loader.exec_module(module)
        self.on_import(module)

    def __getattr__(self, name: str) -> Any:  # get_resource_reader, is_package…: the real loader's
        return getattr(self.loader, name)


_patches: list[Patch] = []
_finders: list[_AfterImport] = []
_lock = threading.RLock()  # an import inside an installer may trigger another framework's


def install(installers: Mapping[str, Installer]) -> None:
    """Patch each module of ``installers`` now if imported, else when it is (replacing earlier ones)."""
    with _lock:
        _undo_all()
        for module, installer in installers.items():
            on_import = functools.partial(_apply, installer)
            if module in sys.modules:
                on_import(sys.modules[module])
            else:
                finder = _AfterImport(module, on_import)
                sys.meta_path.insert(0, finder)
                _finders.append(finder)


def uninstall() -> None:
    """Remove every finder and put back every attribute :func:`install` replaced."""
    with _lock:
        _undo_all()


def _apply(installer: Installer, module: ModuleType) -> None:
    with _lock:
        try:
            patches = installer(module)
        except Exception as error:  # the user's import must succeed even if autologging cannot
            warnings.warn(f"autolog: {module.__name__} is not autologged: {error}", RuntimeWarning, stacklevel=2)
            return
        _patches.extend(patches)


def _undo_all() -> None:
    while _finders:
        finder = _finders.pop()
        if finder in sys.meta_path:
            sys.meta_path.remove(finder)
    while _patches:
        _patches.pop().undo()
