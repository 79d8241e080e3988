"""Loading user code: pipeline files for the CLI and the scheduler, modules for workers.

A pipeline file is imported, by the CLI and again by every worker, so it must only
define its pipeline. :func:`load_pipeline` refuses a file whose source runs a pipeline
it defines when imported, before executing any of it; a run started some other way
while a file executes (a ``main()`` called at its top level) is refused by
:func:`refuse_run_while_importing` before it starts.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import linecache
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from shipyard.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from shipyard.pipelines._pipeline import Pipeline

__all__ = ["import_module_at", "load_module", "load_pipeline", "refuse_run_while_importing"]

# The modules load_module is executing now (in any thread), innermost last.
_IMPORTING: list[ModuleType] = []


def _runs_when_imported(path: str | Path, line: int, call: str) -> InvalidInput:
    return InvalidInput(f"{Path(path).name} runs a pipeline when imported (line {line}: {call}); put that call "
                        f'under `if __name__ == "__main__":` so the file can be imported without running it',
                        field="path")


def refuse_import_time_runs(path: Path, source: bytes) -> None:
    """``InvalidInput`` naming the first line of ``source`` that runs a pipeline the file
    defines when imported (see :func:`~shipyard.pipelines._main_guard.import_time_runs`)."""
    from shipyard.pipelines._main_guard import import_time_runs

    runs = import_time_runs(source, str(path))
    if runs:
        raise _runs_when_imported(path, *runs[0])


def refuse_run_while_importing() -> None:
    """``InvalidInput`` when the caller runs inside the top-level code of a file that
    :func:`load_module` is executing: a pipeline started there would start again in
    every worker that imports the file."""
    if not _IMPORTING:
        return
    loading = {id(vars(m)): m for m in list(_IMPORTING)}
    frame = sys._getframe(1)
    found: tuple[ModuleType, int] | None = None
    while frame is not None:
        module = loading.get(id(frame.f_globals))
        if module is not None and frame.f_code.co_name == "<module>" and frame.f_globals is vars(module):
            found = (module, frame.f_lineno)  # the outermost such frame: the file's own line
        frame = frame.f_back  # type: ignore[assignment]
    if found is not None:
        module, line = found
        path = getattr(module, "__file__", None) or module.__name__
        call = linecache.getline(str(path), line).strip() or "a pipeline run"
        raise _runs_when_imported(path, line, call)


def _same_file(module: ModuleType, path: str) -> bool:
    file = getattr(module, "__file__", None)
    return bool(file) and Path(file).resolve() == Path(path).resolve()  # type: ignore[arg-type]


def import_module_at(name: str, path: str | None, root: str | None) -> ModuleType:
    """The module ``name`` whose source is ``path``: already loaded, importable from ``root``,
    or executed from ``path`` under that name (scripts and files loaded by path)."""
    module = sys.modules.get(name)
    if module is not None and (path is None or _same_file(module, path)):
        return module
    if name == "__main__":
        # A worker's __main__ is not the user's script; load the script under another name
        # (its ``if __name__ == "__main__":`` block does not run again).
        main = sys.modules.get("__mp_main__")
        if main is not None and path and _same_file(main, path):
            return main
        return load_module(Path(path or ""), "__shipyard_main__")
    if root and root not in sys.path:
        sys.path.insert(0, root)
    try:
        module = importlib.import_module(name)
        if path is None or _same_file(module, path):
            return module
    except ImportError:
        if path is None:
            raise
    return load_module(Path(path), name)  # type: ignore[arg-type]


def load_module(path: Path, name: str | None = None) -> ModuleType:
    """Execute the Python file ``path`` as module ``name`` (default: derived from the path).

    The file's folder goes on ``sys.path`` so it can import its neighbours.
    """
    path = Path(path).resolve()
    if not path.is_file():
        raise NotFound(f"no pipeline file at {str(path)!r}", resource="file", path=str(path))
    name = name or f"{path.stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InvalidInput(f"{str(path)!r} is not a Python file", field="path")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    _IMPORTING.append(module)
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    finally:
        _IMPORTING.remove(module)
    return module


def load_pipeline(target: str) -> Pipeline:
    """The pipeline named by ``file.py``, ``file.py:name`` or ``package.module:name``.

    A file holding exactly one pipeline needs no ``:name``. The file is executed
    afresh on every call, so a long-running scheduler sees edits. A file that runs a
    pipeline it defines when imported (``train.run(...)`` outside
    ``if __name__ == "__main__":``) is refused with ``InvalidInput`` before it executes.
    """
    from shipyard.pipelines._pipeline import Pipeline

    where, _, attr = target.partition(":")
    if where.endswith(".py") or Path(where).is_file():
        path = Path(where).resolve()
        source = path.read_bytes() if path.is_file() else b""
        # A name per content: workers (and later loads) never run a stale copy of an edited file.
        name = f"{path.stem}_{hashlib.sha256(str(path).encode() + source).hexdigest()[:8]}"
        module = sys.modules.get(name)
        if module is None:
            refuse_import_time_runs(path, source)
            module = load_module(path, name)
    else:
        module = importlib.import_module(where)
    found = {k: v for k, v in vars(module).items() if isinstance(v, Pipeline)}
    if attr:
        if attr not in found:
            raise NotFound(f"{where!r} has no pipeline {attr!r} (found: {sorted(found) or 'none'})",
                           resource="pipeline", name=attr)
        pipeline = found[attr]
    elif len(found) == 1:
        pipeline = next(iter(found.values()))
    else:
        raise InvalidInput(f"{where!r} defines {len(found)} pipelines ({sorted(found)}); name one as "
                           f"{where}:NAME", field="target")
    pipeline.target = f"{getattr(module, '__file__', where)}:{next(k for k, v in found.items() if v is pipeline)}"
    return pipeline
