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
    roots = _library_roots()
    parts: list[str] = []
    seen: set[int] = set()

    def visit(obj: Any, label: str) -> None:
        obj = getattr(obj, "fn", obj) if type(obj).__name__ == "Step" else obj
        if id(obj) in seen:
            return
        seen.add(id(obj))
        parts.append(f"{label}={_source_hash(obj)}")
        if isinstance(obj, type):
            for member in vars(obj).values():
                if inspect.isfunction(member):
                    visit_refs(member)
        elif inspect.isfunction(obj):
            visit_refs(obj)

    def visit_refs(func: types.FunctionType) -> None:
        names = sorted(set(_names(func.__code__)))
        scope: dict[str, Any] = dict(func.__globals__)
        for cell_name, cell in zip(func.__code__.co_freevars, func.__closure__ or (), strict=False):
            try:
                scope[cell_name] = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            names.append(cell_name)
        for name in names:
            if name not in scope:
                continue
            value = scope[name]
            if isinstance(value, types.ModuleType):
                if is_project_module(value, roots):
                    for attr in names:
                        target = getattr(value, attr, None)
                        if target is not None and _is_project_code(target, roots):
                            visit(target, f"{name}.{attr}")
            elif _is_project_code(value, roots):
                visit(value, name)  # the name the code uses, not the module's: moving code keeps hits
            elif isinstance(value, _SIMPLE) or (isinstance(value, tuple)
                                                 and all(isinstance(v, _SIMPLE) for v in value)):
                parts.append(f"{name}:{value!r}")

    visit(fn, "step")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _is_project_code(value: Any, roots: tuple[str, ...]) -> bool:
    value = getattr(value, "fn", value) if type(value).__name__ == "Step" else value
    if not (inspect.isfunction(value) or inspect.isclass(value)):
        return False
    return is_project_module(sys.modules.get(value.__module__), roots)
