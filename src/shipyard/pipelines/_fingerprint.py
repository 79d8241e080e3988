"""Code fingerprints: what a step's cache key knows about its code.

A step's fingerprint hashes its own source and, transitively, the source of every
*project* function or class it refers to (through a global name, a closure, or an
attribute of a project module: ``utils.clean``), plus the values of simple module
constants it reads (``THRESHOLD = 0.5``). Project code is any module whose file
lies outside the standard library and site-packages; Shipyard's own code is left
out. Third-party code is covered by the environment, not by the key.

Sources are compared as syntax trees, so comments, blank lines and formatting
don't change a fingerprint, and decorators are left out (changing ``retries=``
does not invalidate the cache). Code without source (``python -c``) is hashed by
its bytecode.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import sys
import sysconfig
import textwrap
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["code_fingerprint", "is_project_module"]

_SIMPLE = (int, float, str, bytes, bool, type(None))


def _library_roots() -> tuple[str, ...]:
    paths = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    paths |= {sys.prefix, sys.base_prefix, sys.exec_prefix}
    return tuple(str(Path(p).resolve()) for p in paths if p)


def is_project_module(module: types.ModuleType | None, roots: tuple[str, ...] | None = None) -> bool:
    """Whether ``module`` is the user's code (not stdlib, site-packages or Shipyard)."""
    if module is None or module.__name__.partition(".")[0] == "shipyard":
        return False
    path = getattr(module, "__file__", None)
    if not path:
        return False
    resolved = str(Path(path).resolve())
    return not resolved.startswith(roots if roots is not None else _library_roots())


def _source_hash(obj: Any) -> str:
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(obj)))
        node = tree.body[0]
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            node.decorator_list = []
        text = ast.dump(node, include_attributes=False)
    except (OSError, TypeError, SyntaxError, IndexError):
        code = getattr(obj, "__code__", None)
        text = repr(_code_repr(code)) if code is not None else repr(obj)
    return hashlib.sha256(text.encode()).hexdigest()


def _code_repr(code: types.CodeType) -> tuple[Any, ...]:
    consts = tuple(_code_repr(c) if isinstance(c, types.CodeType) else repr(c) for c in code.co_consts)
    return code.co_code, consts, code.co_names


def _names(code: types.CodeType) -> Iterator[str]:
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _names(const)


def code_fingerprint(fn: Callable[..., Any]) -> str:
    """sha256 over ``fn``'s source and the project code and constants it reaches."""
    walk = _Walk(_library_roots())
    walk.visit(fn, "step")
    return hashlib.sha256("\n".join(walk.parts).encode()).hexdigest()


class _Walk:
    """A walk from a step through the project code it reaches.

    ``parts`` collects, in the order reached, ``label=hash`` for each function or
    class (once, however many names reach it) and ``name:value`` for each simple
    constant read.
    """

    def __init__(self, roots: tuple[str, ...]) -> None:
        self.roots = roots
        self.parts: list[str] = []
        self._seen: set[int] = set()

    def visit(self, obj: Any, label: str) -> None:
        """Hash ``obj`` under ``label``, then follow what its code (a class's: its methods') refers to."""
        obj = getattr(obj, "fn", obj) if type(obj).__name__ == "Step" else obj
        if id(obj) in self._seen:
            return
        self._seen.add(id(obj))
        self.parts.append(f"{label}={_source_hash(obj)}")
        if isinstance(obj, type):
            for member in vars(obj).values():
                if inspect.isfunction(member):
                    self._visit_refs(member)
        elif inspect.isfunction(obj):
            self._visit_refs(obj)

    def _visit_refs(self, func: types.FunctionType) -> None:
        names, scope = _references(func)
        for name in names:
            if name in scope:
                self._visit_name(name, scope[name], names)

    def _visit_name(self, name: str, value: Any, names: list[str]) -> None:
        if isinstance(value, types.ModuleType):
            if is_project_module(value, self.roots):
                self._visit_module(name, value, names)
        elif _is_project_code(value, self.roots):
            self.visit(value, name)  # the name the code uses, not the module's: moving code keeps hits
        elif _is_simple(value):
            self.parts.append(f"{name}:{value!r}")

    def _visit_module(self, name: str, module: types.ModuleType, names: list[str]) -> None:
        """The project code reached as ``name.attr``: the module's attributes named anywhere in the code."""
        for attr in names:
            target = getattr(module, attr, None)
            if target is not None and _is_project_code(target, self.roots):
                self.visit(target, f"{name}.{attr}")


def _references(func: types.FunctionType) -> tuple[list[str], dict[str, Any]]:
    """The names ``func``'s code uses (sorted), then those of its filled closure cells, and the
    scope they resolve in: its globals, overridden by those cells."""
    names = sorted(set(_names(func.__code__)))
    scope: dict[str, Any] = dict(func.__globals__)
    for cell_name, cell in zip(func.__code__.co_freevars, func.__closure__ or (), strict=False):
        try:
            scope[cell_name] = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        names.append(cell_name)
    return names, scope


def _is_simple(value: Any) -> bool:
    """A constant whose repr is its value: a number, string, bytes, bool, None, or a tuple of them."""
    return isinstance(value, _SIMPLE) or (isinstance(value, tuple) and all(isinstance(v, _SIMPLE) for v in value))


def _is_project_code(value: Any, roots: tuple[str, ...]) -> bool:
    value = getattr(value, "fn", value) if type(value).__name__ == "Step" else value
    if not (inspect.isfunction(value) or inspect.isclass(value)):
        return False
    return is_project_module(sys.modules.get(value.__module__), roots)
