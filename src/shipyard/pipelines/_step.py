"""Steps: plain typed functions that Shipyard can run, cache, retry and record.

``@step`` returns a :class:`Step`, which stays callable as the plain function
outside a pipeline (so steps are unit-tested like any function). Inside a
pipeline's definition a call records a node of the DAG instead of running.

>>> @step(retries=2, cpus=2)
... def double(x: int) -> int:
...     return 2 * x
>>> double(21)
42
>>> double.retries, double.resources.cpus
(2, 2.0)
"""

from __future__ import annotations

import inspect
import re
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, ParamSpec, TypeVar, overload

from shipyard.pipelines._errors import PipelineDefinitionError

__all__ = ["FunctionRef", "Resources", "Step", "StepContext", "step"]

P = ParamSpec("P")
R = TypeVar("R")

_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
          "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}


def _bad(step_name: str, param: str, need: str, got: object) -> PipelineDefinitionError:
    return PipelineDefinitionError(
        f"The {param!r} parameter of step {step_name!r} must be {need}. Got {got!r} instead.",
        field=param, steps=[step_name],
    )


def parse_memory(value: int | str | None, step_name: str = "?") -> int | None:
    """Bytes from an int or a string such as ``"512MB"`` or ``"2GiB"`` (None stays None)."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str) and (m := _MEMORY.match(value)):
        unit = (m.group(2) or "").lower().removesuffix("b")
        return int(float(m.group(1)) * _UNITS[unit])
    raise _bad(step_name, "memory", "a positive number of bytes or a size such as '512MB'", value)


@dataclass(frozen=True)
class Resources:
    """What one attempt of a step needs: CPUs, GPUs and memory in bytes.

    The Ray executor reserves them on a node; the local executor counts CPUs
    against its worker slots and treats the rest as hints.
    """

    cpus: float = 1.0
    gpus: float = 0.0
    memory: int | None = None


@dataclass(frozen=True)
class FunctionRef:
    """Where a worker process finds a step's function: module, qualified name, source file.

    Functions travel to workers by reference, never pickled by value, so a worker
    runs exactly the code in the file. ``root`` is the folder to put on ``sys.path``
    so that ``module`` imports (a script's folder, or the parent of a package).
    """

    module: str
    qualname: str
    path: str | None = None
    root: str | None = None

    @classmethod
    def of(cls, fn: Callable[..., Any]) -> FunctionRef:
        module = sys.modules.get(fn.__module__)
        path = getattr(module, "__file__", None)
        root = None
        if path:
            parts = fn.__module__.split(".")
            depth = len(parts) - 1 + (Path(path).name == "__init__.py")
            root = str(Path(path).resolve().parents[depth]) if fn.__module__ != "__main__" else \
                str(Path(path).resolve().parent)
        return cls(fn.__module__, fn.__qualname__, str(Path(path).resolve()) if path else None, root)

    def resolve(self) -> Callable[..., Any]:
        """The function itself, importing (or loading from ``path``) its module if needed."""
        from shipyard.pipelines._loader import import_module_at

        obj: Any = import_module_at(self.module, self.path, self.root)
        for part in self.qualname.split("."):
            if part == "<locals>":
                raise PipelineDefinitionError(
                    f"step {self.qualname!r} is defined inside a function, so a worker process cannot "
                    "import it; define steps at module level (or run with executor='inline')",
                    steps=[self.qualname],
                )
            obj = getattr(obj, part)
        return obj.fn if isinstance(obj, Step) else obj


class StepContext:
    """Given to a step that declares a parameter annotated ``StepContext``.

    What the step logs here is recorded on the step's run once it finishes.

    >>> @step
    ... def fit(x: int, ctx: StepContext) -> int:
    ...     ctx.log_metric("x", x)
    ...     return x
    """

    def __init__(self, step: str, attempt: int) -> None:
        self.step = step
        self.attempt = attempt
        self.metrics: list[tuple[str, float, int]] = []
        self.params: dict[str, str] = {}
        self.tags: dict[str, str] = {}

    def log_metric(self, key: str, value: float, step: int = 0) -> None:
        self.metrics.append((key, float(value), int(step)))

    def log_param(self, key: str, value: Any) -> None:
        self.params[key] = str(value)

    def set_tag(self, key: str, value: Any) -> None:
        self.tags[key] = str(value)


@dataclass(frozen=True)
class _Signature:
    """What the runner needs from a step's signature, computed once."""

    params: tuple[str, ...]
    positional_only: tuple[str, ...]
    required: frozenset[str]
    context_param: str | None
    arity: int | None  # outputs when the return annotation is a fixed tuple[...]
    annotations: dict[str, Any] = field(default_factory=dict)


def _inspect(fn: Callable[..., Any], name: str) -> _Signature:
    sig = inspect.signature(fn)
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # unresolvable forward references: fall back to the raw annotations
        hints = dict(getattr(fn, "__annotations__", {}))
    params, positional, required, context = [], [], set(), None
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise PipelineDefinitionError(
                f"step {name!r} takes *{p.name}; a step's inputs must be named parameters", steps=[name])
        hint = hints.get(p.name, p.annotation)
        if hint is StepContext or hint == "StepContext":
            context = p.name
            continue
        params.append(p.name)
        if p.kind is p.POSITIONAL_ONLY:
            positional.append(p.name)
        if p.default is p.empty:
            required.add(p.name)
    ret = hints.get("return")
    arity = None
    if typing.get_origin(ret) is tuple:
        args = typing.get_args(ret)
        if args and Ellipsis not in args:
            arity = len(args)
    return _Signature(tuple(params), tuple(positional), frozenset(required), context, arity,
                      {k: v for k, v in hints.items() if k != "return"})


class Step(Generic[P, R]):
    """A step: its function and how to run it (resources, retries, timeout, caching).

    Construction checks every option and the signature (no I/O). ``name`` defaults
    to the function's name. ``retries`` extra attempts follow a failure after
    ``retry_delay * backoff**(attempt-1)`` seconds (capped at ``max_delay``).
    ``timeout`` (seconds) fails an attempt that runs longer. ``cache=False`` always
    recomputes. ``inline=True`` runs the step in the pipeline's own process, which
    suits steps too cheap to be worth a process hop. ``register_model`` registers
    the step's output (a model) as a new version of that name.
    """

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        cpus: float = 1.0,
        gpus: float = 0.0,
        memory: int | str | None = None,
        retries: int = 0,
        retry_delay: float = 1.0,
        backoff: float = 2.0,
        max_delay: float = 60.0,
        timeout: float | None = None,
        cache: bool = True,
        inline: bool = False,
        register_model: str | None = None,
    ) -> None:
        if not inspect.isfunction(fn):
            raise PipelineDefinitionError(f"@step needs a plain function, got {fn!r}", steps=[str(fn)])
        self.fn = fn
        self.name = name or fn.__name__
        if not self.name.isidentifier():
            raise _bad(self.name, "name", "a Python identifier", self.name)
        for key, value, low in (("cpus", cpus, 0), ("gpus", gpus, 0), ("retry_delay", retry_delay, 0),
                                ("max_delay", max_delay, 0)):
            if isinstance(value, bool) or not isinstance(value, int | float) or value < low:
                raise _bad(self.name, key, f"a number >= {low}", value)
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise _bad(self.name, "retries", "an int >= 0", retries)
        if isinstance(backoff, bool) or not isinstance(backoff, int | float) or backoff < 1:
            raise _bad(self.name, "backoff", "a number >= 1", backoff)
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float)
                                    or timeout <= 0):
            raise _bad(self.name, "timeout", "a positive number of seconds or None", timeout)
        self.resources = Resources(float(cpus), float(gpus), parse_memory(memory, self.name))
        self.retries = retries
        self.retry_delay = float(retry_delay)
        self.backoff = float(backoff)
        self.max_delay = float(max_delay)
        self.timeout = float(timeout) if timeout is not None else None
        self.cache = bool(cache)
        self.inline = bool(inline)
        self.register_model = register_model
        self.signature = _inspect(fn, self.name)
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__
        self.__qualname__ = fn.__qualname__
        self.__module__ = fn.__module__
        self.__wrapped__ = fn
        self._ref: FunctionRef | None = None
        self._fingerprint: str | None = None

    def __repr__(self) -> str:
        return f"Step({self.name!r})"

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        from shipyard.pipelines._graph import current_tracer

        tracer = current_tracer()
        if tracer is None:
            return self.fn(*args, **kwargs)
        return tracer.add(self, args, kwargs)  # type: ignore[return-value]

    @property
    def ref(self) -> FunctionRef:
        """How a worker process finds this step's function."""
        if self._ref is None:
            self._ref = FunctionRef.of(self.fn)
        return self._ref

    @property
    def fingerprint(self) -> str:
        """Hash of the step's code and of the project code it calls (computed once)."""
        if self._fingerprint is None:
            from shipyard.pipelines._fingerprint import code_fingerprint

            self._fingerprint = code_fingerprint(self.fn)
        return self._fingerprint

    def delay_for(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1`` after attempt ``attempt`` failed."""
        return min(self.max_delay, self.retry_delay * self.backoff ** max(0, attempt - 1))


@overload
def step(fn: Callable[P, R], /) -> Step[P, R]: ...


@overload
def step(fn: None = None, /, **options: Any) -> Callable[[Callable[P, R]], Step[P, R]]: ...


def step(fn: Callable[P, R] | None = None, /, **options: Any) -> Any:
    """Make ``fn`` a :class:`Step`: ``@step`` or ``@step(retries=3, cpus=2, timeout=600)``."""
    if fn is not None:
        return Step(fn, **options)
    return lambda f: Step(f, **options)
