"""Installing and removing the wrappers around scikit-learn's fit methods.

Each estimator class gets ``fit``, ``fit_transform`` and ``fit_predict`` wrapped on
the class itself, inherited or not: ``RandomForestClassifier`` defines no ``fit`` of
its own (it inherits a private base's), and it is still recorded. A wrapper asks
:data:`_in_fit` whether an autologged fit is already running in this context; only
the outermost one records, so the trees a forest grows, the steps a Pipeline fits
and the candidates a search tries belong to it. A context variable (not a flag in
the module) keeps threads and asyncio tasks apart; scikit-learn's own worker threads
(``n_jobs`` with a thread pool) are handed the context of the fit that started them.

The installed patches are the only module state, so that ``autolog(disable=True)``
puts back exactly what was there.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable, Iterable
from contextvars import Context, ContextVar, copy_context
from dataclasses import dataclass
from typing import Any

__all__ = ["ORIGINAL", "Recorder", "install", "uninstall"]

METHODS = ("fit", "fit_transform", "fit_predict")
ORIGINAL = "_shipyard_original_fit"
"""The attribute of a wrapper that holds the function it wraps."""

Recorder = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]
"""Runs an outermost fit and records it: ``recorder(original, estimator, args, kwargs)``."""

_in_fit: ContextVar[bool] = ContextVar("shipyard_autolog_in_fit", default=False)
_MISSING = object()


@dataclass(frozen=True)
class _Patch:
    target: Any  # a class, or a descriptor such as scikit-learn's available_if
    name: str
    previous: Any  # what the target itself held under ``name``, or _MISSING

    def undo(self) -> None:
        if self.previous is _MISSING:
            delattr(self.target, self.name)
        else:
            setattr(self.target, self.name, self.previous)


_installed: list[_Patch] = []
_lock = threading.Lock()  # enabling is several steps; two threads must not interleave them


def install(classes: Iterable[type], recorder: Recorder) -> None:
    """Wrap the fit methods of ``classes`` (replacing any earlier installation)."""
    with _lock:
        _undo_all()
        patches: list[_Patch] = []
        try:
            for cls in classes:
                for name in METHODS:
                    patches.extend(_patch_method(cls, name, recorder))
            patches.extend(_patch_parallel())
        except BaseException:
            for patch in reversed(patches):
                patch.undo()
            raise
        _installed.extend(patches)


def uninstall() -> None:
    """Put back every method :func:`install` replaced."""
    with _lock:
        _undo_all()


def _undo_all() -> None:
    while _installed:
        _installed.pop().undo()


def _wrap(original: Callable[..., Any], recorder: Recorder) -> Callable[..., Any]:
    @functools.wraps(original)  # keeps the signature scikit-learn inspects (sample_weight support)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _in_fit.get():
            return original(self, *args, **kwargs)
        token = _in_fit.set(True)
        try:
            return recorder(original, self, args, kwargs)
        finally:
            _in_fit.reset(token)

    setattr(method, ORIGINAL, original)
    return method


def _raw_attribute(cls: type, name: str) -> Any:
    """What ``cls.name`` resolves to, before the descriptor protocol runs (None if absent)."""
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return klass.__dict__[name]
    return None


def _patch_method(cls: type, name: str, recorder: Recorder) -> list[_Patch]:
    raw = _raw_attribute(cls, name)
    # A base class in the list may have been wrapped already: wrap what it wraps.
    raw = getattr(raw, ORIGINAL, raw)
    if inspect.isfunction(raw):
        previous = cls.__dict__.get(name, _MISSING)
        setattr(cls, name, _wrap(raw, recorder))
        return [_Patch(cls, name, previous)]
    guarded = getattr(raw, "fn", None)
    if inspect.isfunction(guarded) and hasattr(raw, "check"):
        # scikit-learn's available_if (Pipeline.fit_predict): wrap the function it guards,
        # so the method still exists only when the estimator supports it.
        if hasattr(guarded, ORIGINAL):  # the descriptor is shared with a class done earlier
            return []
        raw.fn = _wrap(guarded, recorder)
        return [_Patch(raw, "fn", guarded)]
    return []  # a property or another descriptor: not a fit method we can wrap


class _InContext:
    """A task that runs in a copy of the context its ``Parallel`` call was made in."""

    __slots__ = ("context", "function")

    def __init__(self, context: Context, function: Callable[..., Any]) -> None:
        self.context = context
        self.function = function

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.context.copy().run(self.function, *args, **kwargs)

    def __reduce__(self) -> tuple[Any, ...]:
        # A worker process has its own interpreter (without autologging): the task runs as is.
        return functools.partial, (self.function,)


def _patch_parallel() -> list[_Patch]:
    """Hand the fit's context to the tasks scikit-learn dispatches to worker threads.

    A new thread starts with an empty context, so without this a forest grown with
    ``n_jobs=2`` on a thread pool would record each tree as a run of its own.
    """
    try:
        from sklearn.utils import parallel
    except ImportError:  # scikit-learn < 1.3 dispatches through joblib directly
        return []
    original = parallel.Parallel.__dict__.get("__call__")
    if not inspect.isfunction(original):
        return []
    func_wrapper = getattr(parallel, "_FuncWrapper", None)

    def in_context(task: Any, context: Context) -> Any:
        function, args, kwargs = task
        if func_wrapper is not None and isinstance(function, func_wrapper):
            # Rebuilt rather than wrapped, so scikit-learn still attaches its config to it.
            return func_wrapper(_InContext(context, function.function)), args, kwargs
        return _InContext(context, function), args, kwargs

    @functools.wraps(original)
    def __call__(self: Any, iterable: Iterable[Any]) -> Any:
        if not _in_fit.get():
            return original(self, iterable)
        context = copy_context()  # now, in the calling thread: tasks may be dispatched from others
        return original(self, (in_context(task, context) for task in iterable))

    setattr(__call__, ORIGINAL, original)
    parallel.Parallel.__call__ = __call__  # type: ignore[method-assign]
    return [_Patch(parallel.Parallel, "__call__", original)]
