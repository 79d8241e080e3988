"""Whether a pipeline is being started by a script's top-level code outside the main guard.

A worker process started with ``spawn`` or ``forkserver`` imports the parent's
``__main__`` script again before it runs anything. A script that runs a pipeline at
its top level, not under ``if __name__ == "__main__":``, would start the pipeline
again in every worker, and multiprocessing refuses that. :func:`unguarded_main_line`
finds such a call, so the local executor can start its workers in a way that does
not re-import the script.

``shipyard run`` imports a pipeline file, in its own process and in every worker, so
a file that runs its pipeline when imported cannot be run that way at all:
:func:`import_time_runs` reads such a call from the source, before anything runs.

>>> unguarded_main_line() is None   # doctest: +SKIP
True
>>> import_time_runs("train = pipeline(fit)\\ntrain.run()\\n")
[(2, 'train.run(...)')]
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from types import FrameType

__all__ = ["import_time_runs", "unguarded_main_line"]


def unguarded_main_line(frame: FrameType | None = None) -> int | None:
    """The line of the ``__main__`` script whose top-level code, outside
    ``if __name__ == "__main__":``, led to ``frame`` (default: the caller's); ``None``
    when no script's top level is on the stack (an interactive session, a notebook,
    ``python -c``, an imported module), or when the call sits under the guard.

    A script whose source cannot be read or parsed counts as guarded: nothing changes for it.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or not path:
        return None
    line = None
    current: FrameType | None = frame or sys._getframe(1)
    while current is not None:
        if current.f_code.co_name == "<module>" and current.f_globals is vars(main):
            line = current.f_lineno
        current = current.f_back
    if line is None:
        return None
    try:
        tree = ast.parse(Path(path).read_bytes(), filename=path)
    except (OSError, SyntaxError, ValueError):
        return None
    for statement in tree.body:
        if statement.lineno <= line <= (statement.end_lineno or statement.lineno):
            guarded = _is_main_guard(statement) and \
                statement.body[0].lineno <= line <= (statement.body[-1].end_lineno or line)  # type: ignore[attr-defined]
            return None if guarded else line
    return line


def _is_main_guard(statement: ast.stmt) -> bool:
    """``if __name__ == "__main__":`` (either side of the ``==``)."""
    if not isinstance(statement, ast.If) or not isinstance(statement.test, ast.Compare):
        return False
    test = statement.test
    if len(test.ops) != 1 or not isinstance(test.ops[0], ast.Eq):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    constants = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return len(names) == 1 and len(constants) == 1


_PIPELINE_MAKERS = {"pipeline", "Pipeline", "from_steps"}


def _terminal_name(node: ast.expr) -> str | None:
    """``pipeline`` for ``pipeline``, ``shipyard.pipeline`` and ``shipyard.pipeline(...)``."""
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _pipeline_names(tree: ast.Module) -> set[str]:
    """The module-level names the source binds to a pipeline it defines: a function
    decorated with ``@pipeline`` (any spelling), or ``NAME = pipeline(...)``,
    ``Pipeline(...)`` or ``Pipeline.from_steps(...)``."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and \
                any(_terminal_name(d) == "pipeline" for d in node.decorator_list):
            names.add(node.name)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and \
                _terminal_name(node.value) in _PIPELINE_MAKERS:
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _executed_on_import(statements: list[ast.stmt]) -> list[ast.AST]:
    """The statements of ``statements`` that importing the module runs: everything but
    the body of ``if __name__ == "__main__":`` (its ``else`` runs)."""
    out: list[ast.AST] = []
    for statement in statements:
        if _is_main_guard(statement):
            out += _executed_on_import(statement.orelse)  # type: ignore[attr-defined]
        else:
            out.append(statement)
    return out


def _calls(node: ast.AST) -> list[ast.Call]:
    """The calls in ``node`` that run when it runs: not those in a function's body."""
    out: list[ast.Call] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Call):
            out.append(current)
        if isinstance(current, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue  # its body runs when called, not when defined
        stack.extend(ast.iter_child_nodes(current))
    return out


def import_time_runs(source: str | bytes, filename: str = "<file>") -> list[tuple[int, str]]:
    """The calls in ``source`` that run a pipeline it defines when the module is imported,
    as ``(line, "train.run(...)")``, first line first: ``NAME.run(...)`` or ``NAME(...)``
    outside ``if __name__ == "__main__":`` and outside any function.

    Only pipelines the file defines are known; a source that does not parse has none
    (importing it reports the syntax error).
    """
    try:
        tree = ast.parse(source, filename=filename)
    except (SyntaxError, ValueError):
        return []
    names = _pipeline_names(tree)
    if not names:
        return []
    found: set[tuple[int, str]] = set()
    for statement in _executed_on_import(tree.body):
        for call in _calls(statement):
            func = call.func
            if isinstance(func, ast.Name) and func.id in names or \
                    isinstance(func, ast.Attribute) and func.attr == "run" and \
                    isinstance(func.value, ast.Name) and func.value.id in names:
                found.add((call.lineno, f"{ast.unparse(func)}(...)"))
    return sorted(found)
