"""Where an on-demand function lives, and how it is found again without unpickling.

The registry never stores a function's bytes. It stores a :class:`FunctionRef`:
the module and qualified name, the file it was defined in, and the sha256 of its
source text. Loading (in another process, on the server, in a serving worker):

1. import the module by name; if that fails and the recorded file exists, execute
   that file as a module (definitions applied from ``shipyard features apply defs.py``);
2. take the attribute named by the qualified name;
3. hash that function's source and compare with the stored sha256: a mismatch
   raises :class:`~shipyard.errors.Conflict` — the code changed since it was
   applied; apply the definitions again.

So the code that runs is always code on the machine, checked to be the code that
was applied.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.errors import Conflict, InvalidInput, NotFound

__all__ = ["FunctionRef", "source_hash"]


def source_hash(fn: Callable[..., Any]) -> str:
    """sha256 of the function's dedented source text."""
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError) as exc:
        raise InvalidInput(f"cannot read the source of {fn!r} ({exc}): an on-demand function must be defined "
                           "in a file", field="fn") from None
    return hashlib.sha256(textwrap.dedent(source).encode()).hexdigest()


@dataclass(frozen=True)
class FunctionRef:
    """A module-level function by location and source hash."""

    module: str
    qualname: str
    sha256: str
    file: str | None = None

    @classmethod
    def of(cls, fn: Callable[..., Any]) -> FunctionRef:
        if not callable(fn):
            raise InvalidInput(f"fn must be a function, got {type(fn).__name__}", field="fn")
        qualname = getattr(fn, "__qualname__", "")
        module = getattr(fn, "__module__", None)
        if not module or not qualname or "<" in qualname:
            raise InvalidInput(f"fn must be a module-level function (not a lambda or nested function), "
                               f"got {qualname or fn!r}", field="fn")
        file = inspect.getsourcefile(fn)
        return cls(module, qualname, source_hash(fn), str(Path(file).resolve()) if file else None)

    def to_spec(self) -> dict[str, Any]:
        return {"module": self.module, "qualname": self.qualname, "sha256": self.sha256, "file": self.file}

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> FunctionRef:
        return cls(spec["module"], spec["qualname"], spec["sha256"], spec.get("file"))

    def load(self) -> Callable[..., Any]:
        """Import the function and check its source hash (see the module docstring)."""
        module = self._module()
        target: Any = module
        for part in self.qualname.split("."):
            target = getattr(target, part, None)
            if target is None:
                raise NotFound(f"function {self.module}.{self.qualname} not found", resource="function",
                               function=f"{self.module}:{self.qualname}")
        actual = source_hash(target)
        if actual != self.sha256:
            raise Conflict(f"the source of {self.module}.{self.qualname} changed since it was applied "
                           f"(sha256 {actual[:12]} != {self.sha256[:12]}): apply the definitions again",
                           function=f"{self.module}:{self.qualname}")
        return target  # type: ignore[no-any-return]

    def _module(self) -> Any:
        loaded = sys.modules.get(self.module)
        if loaded is not None:
            return loaded
        try:
            return importlib.import_module(self.module)
        except ImportError:
            if not self.file or not Path(self.file).is_file():
                raise NotFound(f"module {self.module!r} of an on-demand function cannot be imported",
                               resource="module", module=self.module) from None
        spec = importlib.util.spec_from_file_location(self.module, self.file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[self.module] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(self.module, None)
            raise
        return module
