"""The DAG: nodes (one call of a step each), their arguments, and the checks run before anything runs.

An argument of a node is a constant (:class:`Const`), the output of another node
(:class:`Upstream`, optionally one element of a tuple output), a pipeline parameter
not given yet (:class:`ParamRef`) or a list/tuple/dict mixing those (:class:`Items`).
Edges are exactly the :class:`Upstream` references: the DAG is the data flow.

:meth:`Dag.validate` rejects a reference to a node that does not exist, an unbound
parameter (both "missing input") and a cycle, naming the steps concerned.

While a pipeline function is being traced, calling a step records a node here
and returns a :class:`StepOutput` placeholder; the active tracer is held in a
:class:`~contextvars.ContextVar`, so tracing is per thread and per task.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

from shipyard.pipelines._errors import PipelineDefinitionError

if TYPE_CHECKING:
    from shipyard.pipelines._step import Step

__all__ = ["Const", "Dag", "Items", "Node", "ParamRef", "StepOutput", "Tracer", "Upstream", "current_tracer"]


@dataclass(frozen=True)
class Const:
    value: Any


@dataclass(frozen=True)
class Upstream:
    node: str
    index: int | None = None


@dataclass(frozen=True)
class ParamRef:
    name: str


@dataclass(frozen=True)
class Items:
    kind: str  # "list", "tuple" or "dict"
    parts: tuple[Arg, ...]
    keys: tuple[str, ...] | None = None


Arg = Union[Const, Upstream, ParamRef, Items]  # noqa: UP007 - a runtime alias


def upstream_of(arg: Arg) -> Iterator[Upstream]:
    if isinstance(arg, Upstream):
        yield arg
    elif isinstance(arg, Items):
        for part in arg.parts:
            yield from upstream_of(part)


def params_of(arg: Arg) -> Iterator[str]:
    if isinstance(arg, ParamRef):
        yield arg.name
    elif isinstance(arg, Items):
        for part in arg.parts:
            yield from params_of(part)


@dataclass
class Node:
    """One call of a step in the pipeline: its unique name and its arguments."""

    name: str
    step: Step[Any, Any]
    args: dict[str, Arg] = field(default_factory=dict)

    @property
    def upstream(self) -> list[str]:
        seen: dict[str, None] = {}
        for arg in self.args.values():
            for ref in upstream_of(arg):
                seen[ref.node] = None
        return list(seen)


class Dag:
    """Nodes by name, in the order they were defined, and the pipeline's output structure.

    Call :meth:`validate` before running; :attr:`order` is a topological order.
    """

    def __init__(self, pipeline: str, nodes: Mapping[str, Node], output: Any = None) -> None:
        self.pipeline = pipeline
        self.nodes = dict(nodes)
        self.output = output
        self.dependents: dict[str, list[str]] = {name: [] for name in self.nodes}
        for node in self.nodes.values():
            for up in node.upstream:
                if up in self.dependents:
                    self.dependents[up].append(node.name)
        self.order: list[str] = []

    def __len__(self) -> int:
        return len(self.nodes)

    def validate(self) -> Dag:
        """Check for missing inputs and cycles; raise :class:`PipelineDefinitionError` naming the steps."""
        for node in self.nodes.values():
            for name, arg in node.args.items():
                for ref in upstream_of(arg):
                    if ref.node not in self.nodes:
                        raise PipelineDefinitionError(
                            f"pipeline {self.pipeline!r}: step {node.name!r} needs input {name!r} from "
                            f"{ref.node!r}, which is not a step of this pipeline",
                            steps=[node.name], field=name)
        missing: dict[str, list[str]] = {}
        for node in self.nodes.values():
            for arg in node.args.values():
                for param in params_of(arg):
                    missing.setdefault(param, []).append(node.name)
        if missing:
            param, users = next(iter(missing.items()))
            raise PipelineDefinitionError(
                f"pipeline {self.pipeline!r}: input {param!r} is missing (needed by step"
                f"{'s' if len(users) > 1 else ''} {', '.join(map(repr, users))}); pass it as a parameter",
                steps=users, field=param)
        self.order = self._toposort()
        return self

    def _toposort(self) -> list[str]:
        indegree = {name: len(node.upstream) for name, node in self.nodes.items()}
        ready = [name for name, d in indegree.items() if d == 0]
        order: list[str] = []
        while ready:
            name = ready.pop(0)
            order.append(name)
            for child in self.dependents[name]:
                indegree[child] -= 1
                if indegree[child] == 0:
                    ready.append(child)
        if len(order) < len(self.nodes):
            cycle = self._find_cycle(set(self.nodes) - set(order))
            raise PipelineDefinitionError(
                f"pipeline {self.pipeline!r} has a cycle: {' -> '.join(cycle + cycle[:1])}",
                steps=cycle)
        return order

    def _find_cycle(self, candidates: set[str]) -> list[str]:
        # Walk upstream from any node left over: every one of them is on or behind a cycle.
        path: list[str] = []
        node = min(candidates)
        while node not in path:
            path.append(node)
            node = next(up for up in self.nodes[node].upstream if up in candidates)
        return path[path.index(node):]

    def descendants(self, name: str) -> set[str]:
        out: set[str] = set()
        stack = list(self.dependents[name])
        while stack:
            child = stack.pop()
            if child not in out:
                out.add(child)
                stack.extend(self.dependents[child])
        return out

    def to_json(self) -> dict[str, Any]:
        """The structure for display and for the pipeline's stored definition."""
        return {"pipeline": self.pipeline, "steps": [
            {"name": n.name, "step": n.step.name, "upstream": n.upstream,
             "params": sorted(k for k, a in n.args.items() if isinstance(a, Const))}
            for n in (self.nodes[name] for name in (self.order or list(self.nodes)))]}


class StepOutput:
    """Placeholder for a step's output while a pipeline is being defined.

    Pass it to other steps; it has no value yet. Index it (``out[0]``) or unpack it
    when the step's return annotation is a fixed ``tuple[...]``.
    """

    __slots__ = ("arity", "index", "node")

    def __init__(self, node: str, arity: int | None, index: int | None = None) -> None:
        self.node = node
        self.arity = arity
        self.index = index

    def __repr__(self) -> str:
        return f"StepOutput({self.node!r}{'' if self.index is None else f'[{self.index}]'})"

    def __getitem__(self, index: int) -> StepOutput:
        if self.arity is None or self.index is not None:
            raise PipelineDefinitionError(
                f"the output of step {self.node!r} is one value; annotate its return as tuple[...] "
                "to take elements", steps=[self.node])
        if not isinstance(index, int) or not -self.arity <= index < self.arity:
            raise PipelineDefinitionError(
                f"step {self.node!r} returns {self.arity} values; index {index!r} is out of range",
                steps=[self.node])
        return StepOutput(self.node, None, index % self.arity)

    def __iter__(self) -> Iterator[StepOutput]:
        if self.arity is None or self.index is not None:
            raise PipelineDefinitionError(
                f"cannot unpack the output of step {self.node!r}: annotate its return as tuple[A, B, ...]",
                steps=[self.node])
        return iter([StepOutput(self.node, None, i) for i in range(self.arity)])

    def __bool__(self) -> bool:
        raise PipelineDefinitionError(
            f"the output of step {self.node!r} is a placeholder while the pipeline is being defined: "
            "pass it to other steps; decisions on its value belong inside a step", steps=[self.node])


class ParamPlaceholder:
    """Stands for a pipeline parameter that was not given, so its users can be named."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<parameter {self.name!r}>"

    def __bool__(self) -> bool:
        raise PipelineDefinitionError(f"pipeline parameter {self.name!r} is missing", field=self.name, steps=[])


_TRACER: ContextVar[Tracer | None] = ContextVar("shipyard_pipeline_tracer", default=None)


def current_tracer() -> Tracer | None:
    return _TRACER.get()


class Tracer:
    """Records the step calls a pipeline function makes; use as a context manager."""

    def __init__(self, pipeline: str) -> None:
        self.pipeline = pipeline
        self.nodes: dict[str, Node] = {}
        self._token: Any = None

    def __enter__(self) -> Tracer:
        self._token = _TRACER.set(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _TRACER.reset(self._token)

    def add(self, step: Step[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> StepOutput:
        name = step.name
        n = 2
        while name in self.nodes:
            name, n = f"{step.name}_{n}", n + 1
        sig = step.signature
        names = sig.params
        if len(args) > len(names):
            raise PipelineDefinitionError(
                f"step {step.name!r} takes {len(names)} inputs but {len(args)} were given", steps=[name])
        bound = dict(zip(names, args, strict=False))
        for key, value in kwargs.items():
            if key not in names:
                raise PipelineDefinitionError(
                    f"step {step.name!r} has no input {key!r} (inputs: {', '.join(names) or 'none'})",
                    steps=[name], field=key)
            if key in bound:
                raise PipelineDefinitionError(f"step {step.name!r} got input {key!r} twice", steps=[name], field=key)
            bound[key] = value
        missing = sorted(sig.required - set(bound))
        if missing:
            raise PipelineDefinitionError(
                f"pipeline {self.pipeline!r}: step {name!r} is missing input"
                f"{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}",
                steps=[name], field=missing[0])
        self.nodes[name] = Node(name, step, {k: to_arg(v) for k, v in bound.items()})
        return StepOutput(name, sig.arity)


def to_arg(value: Any) -> Arg:
    """The argument a traced value becomes (placeholders inside containers included)."""
    if isinstance(value, StepOutput):
        return Upstream(value.node, value.index)
    if isinstance(value, ParamPlaceholder):
        return ParamRef(value.name)
    if type(value) in (list, tuple) and _has_placeholder(value):
        return Items(type(value).__name__, tuple(to_arg(v) for v in value))
    if type(value) is dict and _has_placeholder(value) and all(isinstance(k, str) for k in value):
        return Items("dict", tuple(to_arg(v) for v in value.values()), tuple(value))
    return Const(value)


def _has_placeholder(value: Any) -> bool:
    items = value.values() if isinstance(value, dict) else value
    return any(isinstance(v, StepOutput | ParamPlaceholder) or (type(v) in (list, tuple, dict) and _has_placeholder(v))
               for v in items)
