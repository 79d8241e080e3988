"""The runner: drives one pipeline run over an executor.

For each node whose inputs are ready it computes the cache key, reuses a cached
(or, when resuming, previously computed) output whose bytes are still in the
artifact store, and otherwise submits a task. It retries a failed attempt after
the step's backoff, retries at once when the worker died (up to
``max_worker_losses`` times, whatever the step's ``retries``), and when a step
fails for good it skips everything downstream while independent branches finish.
Ctrl-C cancels the work in flight and ends the run FAILED; outputs already
computed stay cached, so a resumed run recomputes only what did not finish.

Hooks see every state change; the runner itself knows nothing of tracking.
"""

from __future__ import annotations

import hashlib
import heapq
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Mapping, MutableMapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any

from shipyard.pipelines._cache import CacheEntry, cache_key
from shipyard.pipelines._errors import PipelineFailed, StepTimeout, WorkerLost
from shipyard.pipelines._executor import Executor, InlineExecutor
from shipyard.pipelines._graph import Const, Dag, Items, Upstream
from shipyard.pipelines._hooks import PipelineHooks, RunInfo, StepState, StepStatus
from shipyard.pipelines._serializers import SerializerRegistry
from shipyard.pipelines._task import (
    AttemptSampling,
    InputRef,
    OutputRef,
    StepError,
    Task,
    TaskResult,
    execute_task,
)
from shipyard.store.artifacts import ArtifactStore

__all__ = ["PipelineRunner"]

_POLL_S = 0.5


class BlobCache(MutableMapping[str, bytes]):
    """Recently written outputs by digest, bounded in bytes: inline steps read their inputs
    from here instead of the store (still deserialized, so no step sees another's object)."""

    def __init__(self, max_bytes: int = 64 << 20) -> None:
        self.max_bytes = max_bytes
        self._data: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0

    def __getitem__(self, key: str) -> bytes:
        value = self._data[key]
        self._data.move_to_end(key)
        return value

    def __setitem__(self, key: str, value: bytes) -> None:
        if len(value) > self.max_bytes // 4 or key in self._data:
            return
        self._data[key] = value
        self._size += len(value)
        while self._size > self.max_bytes:
            _, dropped = self._data.popitem(last=False)
            self._size -= len(dropped)

    def __delitem__(self, key: str) -> None:
        self._size -= len(self._data.pop(key))

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


class PipelineRunner:
    """One run of ``run.dag`` on ``executor`` (see the module docstring).

    ``cache`` is the index to read and write (None: never cache); ``prior`` maps
    cache keys to outputs a resumed run may reuse even for steps with ``cache=False``.
    ``system_metrics_interval`` (seconds; None: off) has each attempt sample system metrics.
    """

    def __init__(self, run: RunInfo, executor: Executor, store: ArtifactStore, store_uri: str,
                 serializers: SerializerRegistry, *, hooks: Sequence[PipelineHooks] = (),
                 use_cache: bool = True, prior: Mapping[str, CacheEntry] | None = None,
                 s3_endpoint_url: str | None = None, max_worker_losses: int = 2,
                 system_metrics_interval: float | None = None) -> None:
        self.run = run
        self.dag: Dag = run.dag
        self.executor = executor
        self.store = store
        self.store_uri = store_uri
        self.s3_endpoint_url = s3_endpoint_url
        self.serializers = serializers
        self.hooks = list(hooks)
        self.use_cache = use_cache
        self.prior = dict(prior or {})
        self.max_worker_losses = max_worker_losses
        self.system_metrics_interval = system_metrics_interval
        self.sampling = AttemptSampling()  # of inline steps (workers sample their own)
        self.blobs = BlobCache()
        self._const_refs: dict[int, OutputRef] = {}
        self._args: dict[str, dict[str, Any]] = {}
        self._losses: dict[str, int] = {}
        self._in_flight: dict[Future[TaskResult], str] = {}
        self._sleeping: list[tuple[float, str]] = []
        self._ready: deque[str] = deque()
        self._waiting: dict[str, set[str]] = {}
        self.failed: str | None = None
        self.finished_at: float | None = None

    # -- the loop ------------------------------------------------------------------------

    def execute(self) -> None:
        """Run every node; raise PipelineFailed if a step failed, KeyboardInterrupt if interrupted."""
        run = self.run
        run.started_at = time.time()
        for hook in self.hooks:
            hook.on_pipeline_start(run)
        try:
            self._loop()
        except KeyboardInterrupt as exc:
            self._cancel_in_flight()
            run.status, run.error = "FAILED", exc
            self._end()
            raise
        except BaseException as exc:
            self._cancel_in_flight()
            run.status, run.error = "FAILED", exc
            self._end()
            raise
        if self.failed is None:
            run.status = "FINISHED"
            self._end()
            return
        status = run.steps[self.failed]
        error = status.errors[-1] if status.errors else None
        run.status = "FAILED"
        run.error = PipelineFailed(
            f"pipeline {run.pipeline!r} failed: step {self.failed!r} raised "
            f"{error.type if error else 'an error'}: {error.message if error else ''}"
            f" (after {status.attempt} attempt{'s' if status.attempt != 1 else ''})",
            run_id=run.run_id, step=self.failed, error_type=error.type if error else None,
            traceback=error.traceback if error else None)
        self._end()
        raise run.error

    def _end(self) -> None:
        self.finished_at = time.time()
        self.sampling.close()
        for hook in self.hooks:
            hook.on_pipeline_end(self.run)

    def _loop(self) -> None:
        self._waiting = {name: set(self.dag.nodes[name].upstream) for name in self.dag.order}
        self._ready.extend(name for name in self.dag.order if not self._waiting[name])
        while True:
            while self._ready:
                self._start(self._ready.popleft())
            now = time.monotonic()
            while self._sleeping and self._sleeping[0][0] <= now:
                self._submit(heapq.heappop(self._sleeping)[1])
            if self._ready:
                continue
            if not self._in_flight and not self._sleeping:
                return
            timeout = _POLL_S if not self._sleeping else max(0.0, min(_POLL_S, self._sleeping[0][0] - now))
            if not self._in_flight:
                time.sleep(timeout)
                continue
            done, _ = wait(list(self._in_flight), timeout=timeout, return_when=FIRST_COMPLETED)
            for future in done:
                self._complete(self._in_flight.pop(future), future)

    # -- one node ------------------------------------------------------------------------

    def _notify(self, status: StepStatus) -> None:
        for hook in self.hooks:
            hook.on_step(self.run, status)

    def _task_arg(self, arg: Any, status: StepStatus, name: str) -> tuple[Any, Any]:
        """(what the task gets, what the cache key gets) for one argument."""
        if isinstance(arg, Upstream):
            output = self.run.steps[arg.node].output
            assert output is not None
            ref = InputRef(output, arg.index, arg.node)
            status.inputs[name] = ref
            return ref, {"u": output.key, "i": arg.index}
        if isinstance(arg, Items):
            pairs = [self._task_arg(p, status, f"{name}[{k}]")
                     for k, p in zip(arg.keys or range(len(arg.parts)), arg.parts, strict=True)]
            return Items(arg.kind, tuple(p[0] for p in pairs), arg.keys), \
                {"kind": arg.kind, "keys": list(arg.keys or ()), "parts": [p[1] for p in pairs]}
        assert isinstance(arg, Const)
        status.params[name] = arg.value
        stored = self._const_ref(arg)
        if stored.serializer == "json":
            return arg, {"c": f"json:{stored.digest}"}
        # Anything richer (a DataFrame, a dataset handle) travels through the artifact store,
        # like an output: nothing big is pickled into a task, and a handle is re-opened on the worker.
        return InputRef(stored), {"c": f"{stored.serializer}:{stored.key}"}

    def _const_ref(self, arg: Const) -> OutputRef:
        ref = self._const_refs.get(id(arg))
        if ref is None:
            serializer, data = self.serializers.dumps(arg.value)
            if serializer == "json":
                ref = OutputRef(hashlib.sha256(data).hexdigest(), len(data), serializer)
            else:
                stored = self.store.put_bytes(data)
                content = self.serializers.content_digest(serializer, data)
                ref = OutputRef(stored.digest, stored.size, serializer, content)
            self._const_refs[id(arg)] = ref
        return ref

    def _start(self, name: str) -> None:
        node = self.dag.nodes[name]
        status = self.run.steps[name]
        try:
            args, keys = {}, {}
            for arg_name, arg in node.args.items():
                args[arg_name], keys[arg_name] = self._task_arg(arg, status, arg_name)
        except Exception as exc:  # a constant no serializer takes: the step cannot run
            self._fail(name, StepError(type(exc).__name__, str(exc), "", retryable=False))
            return
        status.cache_key = cache_key(node.step.fingerprint, keys)
        self._args[name] = args
        hit = self.prior.get(status.cache_key) or (self.run.cache.get(status.cache_key)
                                                     if self.use_cache and node.step.cache and self.run.cache
                                                     else None)
        if hit is not None and self.store.exists(hit.output.digest):
            status.state, status.output, status.cached_from = StepState.CACHED, hit.output, hit.run_id
            status.started_at = status.ended_at = time.time()
            self._notify(status)
            self._release(name)
            return
        self._submit(name)

    def _submit(self, name: str) -> None:
        node = self.dag.nodes[name]
        status = self.run.steps[name]
        status.attempt += 1
        sig = node.step.signature
        task = Task(id=uuid.uuid4().hex, node=name, function=node.step.ref, args=self._args[name],
                    store_uri=self.store_uri, serializers=self.serializers, attempt=status.attempt,
                    timeout=node.step.timeout, resources=node.step.resources, positional=sig.positional_only,
                    context_param=sig.context_param, s3_endpoint_url=self.s3_endpoint_url,
                    system_metrics_interval=self.system_metrics_interval)
        status.state, status.started_at = StepState.RUNNING, time.time()
        self._notify(status)
        if node.step.inline or isinstance(self.executor, InlineExecutor):
            self._handle(name, execute_task(task, fn=node.step.fn, store=self.store, blobs=self.blobs,
                                            host="inline", sampling=self.sampling))
        else:
            self._in_flight[self.executor.submit(task)] = name

    def _complete(self, name: str, future: Future[TaskResult]) -> None:
        try:
            result = future.result()
        except WorkerLost as exc:
            self._losses[name] = self._losses.get(name, 0) + 1
            error = StepError("WorkerLost", str(exc), "", retryable=False)
            if self._losses[name] <= self.max_worker_losses:
                status = self.run.steps[name]
                status.errors.append(error)
                status.state = StepState.RETRYING
                self._notify(status)
                self._submit(name)
            else:
                self._fail(name, error)
            return
        except StepTimeout as exc:
            self._handle(name, TaskResult(name, error=StepError("StepTimeout", str(exc), "")))
            return
        except Exception as exc:  # an executor's own failure, already translated where it could be
            self._handle(name, TaskResult(name, error=StepError(type(exc).__name__, str(exc), "")))
            return
        self._handle(name, result)

    def _handle(self, name: str, result: TaskResult) -> None:
        status = self.run.steps[name]
        status.result = result
        status.ended_at = time.time()
        if result.error is None:
            status.state, status.output = StepState.DONE, result.output
            step = self.dag.nodes[name].step
            if self.run.cache is not None and step.cache and status.cache_key and result.output:
                self.run.cache.put(status.cache_key, CacheEntry(result.output, name, None))
            self._notify(status)
            self._release(name)
            return
        status.errors.append(result.error)
        step = self.dag.nodes[name].step
        if result.error.retryable and status.attempt <= step.retries:
            status.state = StepState.RETRYING
            self._notify(status)
            heapq.heappush(self._sleeping, (time.monotonic() + step.delay_for(status.attempt), name))
        else:
            self._fail(name, None)

    def _fail(self, name: str, error: StepError | None) -> None:
        status = self.run.steps[name]
        if error is not None:
            status.errors.append(error)
        status.state, status.ended_at = StepState.FAILED, time.time()
        self.failed = self.failed or name
        self._notify(status)
        for child in sorted(self.dag.descendants(name), key=self.dag.order.index):
            skipped = self.run.steps[child]
            if not skipped.state.is_final:
                skipped.state = StepState.SKIPPED
                self._notify(skipped)
                self._waiting.pop(child, None)

    def _release(self, name: str) -> None:
        """``name`` has its output: start every dependent whose inputs are all ready."""
        for child in self.dag.dependents[name]:
            waiting = self._waiting.get(child)
            if waiting is None:
                continue
            waiting.discard(name)
            if not waiting and self.run.steps[child].state is StepState.PENDING:
                self._ready.append(child)

    def _cancel_in_flight(self) -> None:
        for future in self._in_flight:
            future.cancel()
        for name in [*self._in_flight.values(), *(n for _, n in self._sleeping), *self._ready]:
            status = self.run.steps[name]
            if not status.state.is_final:
                status.state, status.ended_at = StepState.CANCELLED, time.time()
                self._notify(status)
        for status in self.run.steps.values():
            if status.state is StepState.PENDING:
                status.state = StepState.CANCELLED
                self._notify(status)
        self._in_flight.clear()
        self._sleeping.clear()
        self._ready.clear()
