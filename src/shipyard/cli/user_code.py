"""Errors raised while the CLI loads a user's Python file, reported in one line.

``shipyard run train.py`` and ``shipyard features apply defs.py`` execute the file
they are given. If that file fails to import (a syntax error, a missing module, an
exception at module level), the command reports it as one ``InvalidInput`` line that
names the file and line, like any other bad input, instead of a traceback through
Shipyard's own frames.

>>> with loading("defs.py"):  # doctest: +SKIP
...     exec_module(...)
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Iterator
from pathlib import Path

from shipyard.errors import InvalidInput, ShipyardError

__all__ = ["loading"]


def _where(exc: BaseException, path: Path | None) -> str:
    """``file, line N`` of the error: the line a syntax error points at, else the last
    frame in ``path`` (or, without a path, the innermost frame)."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{Path(exc.filename).name}, line {exc.lineno}"
    frames = list(traceback.extract_tb(exc.__traceback__))
    if path is not None:
        resolved = str(path.resolve())
        frames = [f for f in frames if str(Path(f.filename).resolve()) == resolved] or frames
    if not frames:
        return ""
    return f"{Path(frames[-1].filename).name}, line {frames[-1].lineno}"


@contextlib.contextmanager
def loading(target: str | Path) -> Iterator[None]:
    """Run the body (which executes ``target``) and turn what the user's code raises into
    ``InvalidInput(field="path")``; Shipyard's own errors pass through unchanged."""
    try:
        yield
    except ShipyardError:
        raise
    except Exception as exc:  # noqa: BLE001 - anything the user's module raised while loading
        text = str(target)
        file = text.rpartition(":")[0] if text.rpartition(":")[0].endswith(".py") else text
        path = Path(file) if file.endswith(".py") else None
        where = _where(exc, path)
        message = " ".join(str(exc).split()) if not isinstance(exc, SyntaxError) else exc.msg
        raise InvalidInput(f"loading {text} failed: {type(exc).__name__}: {message}"
                           + (f" ({where})" if where else ""), field="path") from exc
