"""Whether a pipeline is being started by a script's top-level code outside the main guard.

A worker process started with ``spawn`` or ``forkserver`` imports the parent's
``__main__`` script again before it runs anything. A script that runs a pipeline at
its top level, not under ``if __name__ == "__main__":``, would start the pipeline
again in every worker, and multiprocessing refuses that. :func:`unguarded_main_line`
finds such a call, so the local executor can start its workers in a way that does
not re-import the script.

>>> unguarded_main_line() is None   # doctest: +SKIP
True
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from types import FrameType

__all__ = ["unguarded_main_line"]


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
