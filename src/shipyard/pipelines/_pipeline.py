"""Pipelines: a function composing steps, traced into a DAG, and how to run it.

Two ways to define one, both deriving the DAG from data flow:

* ``@pipeline`` on a function that calls steps and passes their outputs on. The
  function runs once per run with the run's parameters, each step call recording
  a node (no step runs while it is traced).
* :meth:`Pipeline.from_steps` (Hamilton's convention): each step's name is its
  output, and a parameter named like another step is fed by it.

>>> from shipyard.pipelines import step, pipeline
>>> @step
... def load(n: int) -> list[int]:
...     return list(range(n))
>>> @step
... def total(xs: list[int]) -> int:
...     return sum(xs)
>>> @pipeline
... def count(n: int = 3):
...     return total(load(n))
>>> [node.name for node in count.build().nodes.values()]
['load', 'total']
>>> count.run(executor="inline", artifacts=tempfile.mkdtemp()).output   # doctest: +SKIP
3
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidInput
from shipyard.pipelines._errors import PipelineDefinitionError
from shipyard.pipelines._graph import Const, Dag, Node, ParamPlaceholder, ParamRef, StepOutput, Tracer, Upstream
from shipyard.pipelines._hooks import PipelineHooks, RunInfo, StepState, StepStatus
from shipyard.pipelines._serializers import SerializerRegistry
from shipyard.pipelines._step import Step

if TYPE_CHECKING:
    from shipyard.pipelines._executor import Executor
    from shipyard.pipelines._task import OutputRef
    from shipyard.store.artifacts import ArtifactStore

__all__ = ["Pipeline", "PipelineResult", "pipeline"]


class Pipeline:
    """A named composition of steps. Construction only stores its arguments.

    ``experiment`` (default: the pipeline's name) is where its runs are tracked.
    ``serializers`` is this pipeline's own registry (defaults included); register
    more with ``pipeline.serializers.register(...)``. ``client_factory`` builds the
    client a run uses when none is passed; ``@shipyard.pipeline`` sets it to the
    fluent API's default client (``shipyard.get_client``).
    """

    def __init__(self, fn: Callable[..., Any] | None = None, *, name: str | None = None,
                 steps: Sequence[Step[Any, Any]] | None = None, experiment: str | None = None,
                 serializers: SerializerRegistry | None = None, description: str | None = None,
                 client_factory: Callable[[], Any] | None = None) -> None:
        if (fn is None) == (steps is None):
            raise PipelineDefinitionError("a pipeline needs either a function or steps=[...]", steps=[])
        self.fn = fn
        self.name = name or (fn.__name__ if fn is not None else "")
        if not self.name:
            raise PipelineDefinitionError("a pipeline built from steps needs a name", field="name", steps=[])
        self.steps = list(steps or [])
        self.experiment = experiment
        self.serializers = serializers if serializers is not None else SerializerRegistry()
        self.description = description or (inspect.getdoc(fn) if fn is not None else None)
        self.client_factory = client_factory
        self.target: str | None = None  # "file.py:name" once loaded from a file
        self.__doc__ = getattr(fn, "__doc__", None)
        self.__wrapped__ = fn

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r})"

    @classmethod
    def from_steps(cls, name: str, steps: Iterable[Step[Any, Any]], **options: Any) -> Pipeline:
        """A pipeline whose edges follow names: a parameter named like a step takes its output."""
        return cls(name=name, steps=list(steps), **options)

    @property
    def parameters(self) -> dict[str, Any]:
        """The pipeline's parameters and their defaults (``inspect.Parameter.empty`` if required)."""
        if self.fn is not None:
            return {p.name: p.default for p in inspect.signature(self.fn).parameters.values()}
        names = {s.name for s in self.steps}
        out: dict[str, Any] = {}
        for s in self.steps:
            defaults = {p.name: p.default for p in inspect.signature(s.fn).parameters.values()}
            for param in s.signature.params:
                if param not in names:
                    out.setdefault(param, defaults[param])
        return out

    # -- building ------------------------------------------------------------------------

    def build(self, params: Mapping[str, Any] | None = None) -> Dag:
        """The validated DAG for ``params``; a cycle or a missing input raises before anything runs."""
        params = dict(params or {})
        unknown = sorted(set(params) - set(self.parameters))
        if unknown:
            raise PipelineDefinitionError(
                f"pipeline {self.name!r} has no parameter {unknown[0]!r} (parameters: "
                f"{', '.join(self.parameters) or 'none'})", field=unknown[0], steps=[])
        dag = self._trace(params) if self.fn is not None else self._wire(params)
        return dag.validate()

    def _trace(self, params: dict[str, Any]) -> Dag:
        assert self.fn is not None
        values = {}
        for name, default in self.parameters.items():
            if name in params:
                values[name] = params[name]
            elif default is not inspect.Parameter.empty:
                values[name] = default
            else:
                values[name] = ParamPlaceholder(name)
        with Tracer(self.name) as tracer:
            returned = self.fn(**values)
        return Dag(self.name, tracer.nodes, _output_structure(returned))

    def _wire(self, params: dict[str, Any]) -> Dag:
        by_name: dict[str, Step[Any, Any]] = {}
        for s in self.steps:
            if s.name in by_name:
                raise PipelineDefinitionError(f"pipeline {self.name!r} has two steps named {s.name!r}",
                                              steps=[s.name])
            by_name[s.name] = s
        nodes: dict[str, Node] = {}
        for s in self.steps:
            args: dict[str, Any] = {}
            for param in s.signature.params:
                if param in by_name:
                    args[param] = Upstream(param)
                elif param in params:
                    args[param] = Const(params[param])
                elif param in s.signature.required:
                    args[param] = ParamRef(param)
            nodes[s.name] = Node(s.name, s, args)
        leaves = [n for n in nodes if not any(n in m.upstream for m in nodes.values())]
        return Dag(self.name, nodes, {n: Upstream(n) for n in leaves})

    # -- running -------------------------------------------------------------------------

    def __call__(self, **params: Any) -> PipelineResult:
        """Run with these parameters and the defaults (tracked by the client of ``client_factory``)."""
        return self.run(params)

    def run(self, params: Mapping[str, Any] | None = None, /, *, client: Any = None,
            executor: str | Executor | None = "local", hooks: Sequence[PipelineHooks] = (),
            cache: bool = True, resume: str | None = None, run_id: str | None = None,
            experiment: str | None = None, artifacts: str | None = None,
            tags: Mapping[str, str] | None = None, max_worker_losses: int = 2,
            system_metrics: bool = True) -> PipelineResult:
        """Run the pipeline and return its result; raise ``PipelineFailed`` if a step failed.

        ``client`` records the run (one tracked run with a child run per step) and
        holds the cache index; without one, the pipeline's ``client_factory`` makes
        it — unless ``artifacts`` (an artifact store URI) is given, which makes the run
        untracked (the cache lives in memory). With none of the three the run has
        nowhere to go: ``InvalidInput`` naming ``client``. ``executor`` is
        ``"local"`` (processes), ``"inline"``, ``"ray"``, ``"ray://host:port"`` or an
        :class:`~shipyard.pipelines._executor.Executor`. ``resume`` (a failed run's id)
        reuses that run's parameters and every output it completed. ``run_id`` adopts
        an existing run (the scheduler's claim) as this run's record. Each tracked step's
        run gets its worker's CPU, memory, disk, network and GPU use under ``system/``,
        read every ``system_metrics_interval`` seconds of the client's configuration
        (an attempt shorter than a second has none), unless ``system_metrics`` is false.
        Called from the top level of a file that ``shipyard run`` (or a worker) is
        importing, it raises ``InvalidInput`` naming the file's line instead of starting.
        """
        from shipyard.pipelines._cache import MemoryCacheIndex
        from shipyard.pipelines._executor import executor_from_spec
        from shipyard.pipelines._loader import refuse_run_while_importing
        from shipyard.pipelines._runner import PipelineRunner
        from shipyard.store.artifacts import open_artifact_store

        refuse_run_while_importing()  # a file's top level, loaded by the CLI or a worker
        if client is None and artifacts is None:
            if self.client_factory is None:
                raise InvalidInput(f"pipeline {self.name!r} has no client to record its run: pass client=, build "
                                   "it with client_factory= (@shipyard.pipeline uses the default client), or pass "
                                   "artifacts= for an untracked run", field="client")
            client = self.client_factory()
        recorder = prior = None
        if client is not None:
            from shipyard.pipelines._recording import TrackingRecorder

            recorder = TrackingRecorder(client, experiment=experiment or self.experiment or self.name,
                                        run_id=run_id, serializers=self.serializers)
            if resume is not None:
                saved, prior = recorder.load_resume(resume)
                params = {**saved, **(params or {})}
            artifacts = artifacts or client.config.artifacts_uri
            s3_endpoint = client.config.s3_endpoint_url
        else:
            s3_endpoint = None
        # An untracked run has nowhere to keep them.
        interval = getattr(client.config, "system_metrics_interval", 10.0) if client is not None else None
        assert artifacts is not None  # given, or the client's
        serializers = self.serializers
        if client is not None and getattr(client, "config", None) is not None:
            import functools

            # Workers open dataset handles with a client of the same configuration.
            client_type: Callable[..., Any] = type(client)
            serializers = serializers.bound(functools.partial(client_type, client.config))
        dag = self.build(params)
        defaults = {k: v for k, v in self.parameters.items() if v is not inspect.Parameter.empty}
        params = {**defaults, **(params or {})}
        ex, owned = executor_from_spec(executor)
        run = RunInfo(self.name, dag, dict(params or {}),
                      {n: StepStatus(n, node.step.name) for n, node in dag.nodes.items()},
                      executor=getattr(ex, "name", type(ex).__name__), target=self.target,
                      resumed_from=resume, tags=dict(tags or {}),
                      cache=None if recorder else MemoryCacheIndex())
        store = open_artifact_store(artifacts, s3_endpoint_url=s3_endpoint)
        runner = PipelineRunner(run, ex, store, artifacts, serializers,
                                hooks=[*([recorder] if recorder else []), *hooks], use_cache=cache,
                                prior=prior, s3_endpoint_url=s3_endpoint, max_worker_losses=max_worker_losses,
                                system_metrics_interval=interval if system_metrics else None)
        cancel = True
        try:
            ex.init()
            runner.execute()
            cancel = False
        finally:
            if owned:
                ex.finalize(cancel=cancel)
        return PipelineResult(run, store, serializers, runner.finished_at)


def _output_structure(value: Any) -> Any:
    if isinstance(value, StepOutput):
        return Upstream(value.node, value.index)
    if isinstance(value, tuple | list):
        return type(value)(_output_structure(v) for v in value)
    if isinstance(value, dict):
        return {k: _output_structure(v) for k, v in value.items()}
    return value


def pipeline(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Make ``fn`` a :class:`Pipeline`: ``@pipeline`` or ``@pipeline(experiment="churn")``."""
    if fn is not None:
        return Pipeline(fn, **options)
    return lambda f: Pipeline(f, **options)


class PipelineResult:
    """A finished run: its tracked run id, each step's status, and the outputs (loaded on access)."""

    def __init__(self, run: RunInfo, store: ArtifactStore, serializers: SerializerRegistry,
                 finished_at: float | None) -> None:
        self.info = run
        self.run_id = run.run_id
        self.status = run.status
        self.steps = run.steps
        self.duration_s = (finished_at or time.time()) - run.started_at
        self._store = store
        self._serializers = serializers
        self._loaded: dict[str, Any] = {}

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for status in self.steps.values():
            counts[status.state.value] = counts.get(status.state.value, 0) + 1
        return f"PipelineResult(run_id={self.run_id!r}, status={self.status!r}, steps={counts})"

    def load(self, ref: OutputRef) -> Any:
        return self._serializers.loads(ref.serializer, self._store.get_bytes(ref.digest))

    def __getitem__(self, node: str) -> Any:
        """The output of step ``node`` (loaded from the artifact store)."""
        if node not in self._loaded:
            status = self.steps[node]
            if status.output is None:
                raise InvalidInput(f"step {node!r} has no output ({status.state.value})", field="node")
            self._loaded[node] = self.load(status.output)
        return self._loaded[node]

    @property
    def output(self) -> Any:
        """What the pipeline function returned, with each step output replaced by its value."""
        return self._resolve(self.info.dag.output)

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, Upstream):
            out = self[value.node]
            return out if value.index is None else out[value.index]
        if isinstance(value, tuple | list):
            return type(value)(self._resolve(v) for v in value)
        if isinstance(value, dict):
            return {k: self._resolve(v) for k, v in value.items()}
        return value

    @property
    def cached(self) -> list[str]:
        return [n for n, s in self.steps.items() if s.state is StepState.CACHED]

    @property
    def computed(self) -> list[str]:
        return [n for n, s in self.steps.items() if s.state is StepState.DONE]
