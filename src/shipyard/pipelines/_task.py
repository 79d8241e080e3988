"""One attempt of one step, as a worker runs it: load inputs, call, store the output.

A :class:`Task` is everything a worker needs, and it pickles: the function by
reference, constants by value, inputs as digests in the artifact store (so any
process or node that can reach the store can run it), and the serializer
registry. :func:`execute_task` never raises for a failure of the step itself: the
error travels back in the :class:`TaskResult` with its traceback as text, which
survives any process boundary. Only ``KeyboardInterrupt`` and ``SystemExit`` pass.
With ``system_metrics_interval`` set, the worker's CPU, memory, disk, network and GPU
use during the attempt travel back too, as points for the step's run (see
:class:`~shipyard.tracking.SystemMetricsSampler`; an attempt shorter than a second has none).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import signal
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from shipyard.pipelines._errors import NoSerializer, StepTimeout
from shipyard.pipelines._graph import Const, Items
from shipyard.pipelines._serializers import SerializerRegistry
from shipyard.pipelines._step import FunctionRef, Resources, StepContext
from shipyard.store.artifacts import ArtifactStore, open_artifact_store

__all__ = ["AttemptSampling", "InputRef", "OutputRef", "StepError", "Task", "TaskResult", "execute_task"]

_MAX_LOG_CHARS = 1_000_000


@dataclass(frozen=True)
class OutputRef:
    """A stored output: its digest in the artifact store, size and serializer name.

    ``content`` is set when the bytes hold volatile metadata (a model package's
    creation time): the digest of what the value is, which cache keys use instead
    of ``digest`` so an identical model recomputed upstream still hits downstream.
    """

    digest: str
    size: int
    serializer: str
    content: str | None = None

    @property
    def key(self) -> str:
        """What a cache key takes from this output: its content digest, else its bytes' digest."""
        return self.content or self.digest

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"digest": self.digest, "size": self.size, "serializer": self.serializer}
        if self.content:
            out["content"] = self.content
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OutputRef:
        return cls(data["digest"], int(data["size"]), data["serializer"], data.get("content"))


@dataclass(frozen=True)
class InputRef:
    """An input read from the store: an upstream output (``index``: one element of a tuple)."""

    output: OutputRef
    index: int | None = None
    node: str | None = None


@dataclass(frozen=True)
class Task:
    """One attempt of one node. ``args`` hold Const / InputRef / Items of those."""

    id: str
    node: str
    function: FunctionRef
    args: dict[str, Any]
    store_uri: str
    serializers: SerializerRegistry
    attempt: int = 1
    timeout: float | None = None
    resources: Resources = field(default_factory=Resources)
    positional: tuple[str, ...] = ()
    context_param: str | None = None
    s3_endpoint_url: str | None = None
    system_metrics_interval: float | None = None  # seconds between readings; None: none taken


@dataclass(frozen=True)
class StepError:
    """Why an attempt failed: the exception's type and message, and the traceback text."""

    type: str
    message: str
    traceback: str
    retryable: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "message": self.message, "traceback": self.traceback,
                "retryable": self.retryable}


@dataclass
class TaskResult:
    """What an attempt produced: the output (or the error), timing, logs and what it logged."""

    node: str
    output: OutputRef | None = None
    error: StepError | None = None
    started_at: float = 0.0
    duration_s: float = 0.0
    logs: str = ""
    metrics: list[tuple[str, float, int]] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    host: str = ""
    system_metrics: list[tuple[str, float, int, int]] = field(default_factory=list)  # key, value, ms, step


class _Capture(logging.Handler):
    def __init__(self, sink: io.StringIO) -> None:
        super().__init__()
        self.sink = sink
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.write(self.format(record) + "\n")


@contextlib.contextmanager
def _captured(sink: io.StringIO) -> Iterator[None]:
    handler = _Capture(sink)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            yield
    finally:
        root.removeHandler(handler)


class AttemptSampling:
    """System metrics of each attempt a worker runs, on one sampling thread kept between attempts.

    A worker (a process of the local executor, the runner for inline steps) holds one
    and passes it to every :func:`execute_task`, so an attempt costs a few microseconds
    rather than a thread's start and join; :meth:`close` ends the thread. Without one,
    an attempt samples on a thread of its own (``keep_thread=False``: ended with the attempt).
    """

    def __init__(self, keep_thread: bool = True) -> None:
        self.keep_thread = keep_thread
        self._sampler: Any = None  # a SystemMetricsSampler, made on first use
        self._points: list[tuple[str, float, int, int]] | None = None

    @contextlib.contextmanager
    def attempt(self, interval: float | None, result: TaskResult) -> Iterator[None]:
        """Sample into ``result.system_metrics`` while the block runs (not at all when ``interval`` is None)."""
        if interval is None:
            yield
            return
        if self._sampler is None or self._sampler.interval != interval:
            from shipyard.tracking import SystemMetricsSampler

            self.close()
            self._sampler = SystemMetricsSampler(self._keep, interval, keep_thread=self.keep_thread)
        self._points = result.system_metrics
        self._sampler.start()
        try:
            yield
        finally:
            self._sampler.stop()
            self._points = None

    def _keep(self, key: str, value: float, timestamp: int, step: int) -> None:
        points = self._points
        if points is not None:
            points.append((key, value, timestamp, step))

    def close(self) -> None:
        """End the sampling thread (joined); a later attempt starts another."""
        sampler, self._sampler = self._sampler, None
        if sampler is not None:
            sampler.close()


@contextlib.contextmanager
def _deadline(seconds: float | None, node: str) -> Iterator[None]:
    """Raise StepTimeout inside the step after ``seconds`` (main thread only; executors
    that can kill a process also enforce it from outside)."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise StepTimeout(f"step {node!r} ran past its timeout of {seconds:g} s", step=node, timeout=seconds)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def load_input(ref: InputRef, registry: SerializerRegistry, store: ArtifactStore,
               blobs: MutableMapping[str, bytes] | None = None) -> Any:
    data = blobs.get(ref.output.digest) if blobs is not None else None
    if data is None:
        data = store.get_bytes(ref.output.digest)
    value = registry.loads(ref.output.serializer, data)
    return value if ref.index is None else value[ref.index]


def resolve_arg(arg: Any, registry: SerializerRegistry, store: ArtifactStore,
                blobs: MutableMapping[str, bytes] | None = None) -> Any:
    if isinstance(arg, Const):
        return arg.value
    if isinstance(arg, InputRef):
        return load_input(arg, registry, store, blobs)
    if isinstance(arg, Items):
        parts = [resolve_arg(p, registry, store, blobs) for p in arg.parts]
        if arg.kind == "dict":
            return dict(zip(arg.keys or (), parts, strict=True))
        return tuple(parts) if arg.kind == "tuple" else parts
    raise TypeError(f"unexpected task argument {arg!r}")


def store_output(value: Any, registry: SerializerRegistry, store: ArtifactStore,
                 blobs: MutableMapping[str, bytes] | None = None) -> OutputRef:
    name, data = registry.dumps(value)
    ref = store.put_bytes(data)
    if blobs is not None:
        blobs[ref.digest] = data
    return OutputRef(ref.digest, ref.size, name, registry.content_digest(name, data))


def execute_task(task: Task, *, fn: Callable[..., Any] | None = None, store: ArtifactStore | None = None,
                 blobs: MutableMapping[str, bytes] | None = None, host: str | None = None,
                 sampling: AttemptSampling | None = None) -> TaskResult:
    """Run one attempt; return its result (never raises for the step's own failure).

    ``fn``, ``store`` and ``blobs`` (recently written outputs by digest) let the
    pipeline's own process skip work a fresh worker would have to do; ``sampling``
    (the worker's) samples the attempt's system metrics without a thread of its own.
    """
    result = TaskResult(task.node, host=host or f"{socket.gethostname()}:{os.getpid()}")
    sink = io.StringIO()
    result.started_at = time.time()
    start = time.perf_counter()
    with (sampling or AttemptSampling(keep_thread=False)).attempt(task.system_metrics_interval, result):
        try:
            store = store or open_artifact_store(task.store_uri, s3_endpoint_url=task.s3_endpoint_url)
            func = fn or task.function.resolve()
            values = {k: resolve_arg(a, task.serializers, store, blobs) for k, a in task.args.items()}
            context = None
            if task.context_param:
                context = values[task.context_param] = StepContext(task.node, task.attempt)
            positional = [values.pop(name) for name in task.positional if name in values]
            with _captured(sink), _deadline(task.timeout, task.node):
                value = func(*positional, **values)
            result.duration_s = time.perf_counter() - start
            result.output = store_output(value, task.serializers, store, blobs)
            if context is not None:
                result.metrics, result.params, result.tags = context.metrics, context.params, context.tags
        except Exception as exc:  # the step's failure is data for the runner, not a crash of the worker
            result.duration_s = result.duration_s or time.perf_counter() - start
            result.error = StepError(type(exc).__name__, str(exc), traceback.format_exc(),
                                     retryable=not isinstance(exc, NoSerializer))
    logs = sink.getvalue()
    result.logs = logs if len(logs) <= _MAX_LOG_CHARS else "[… truncated …]\n" + logs[-_MAX_LOG_CHARS:]
    return result
