"""The tracking recorder: a hook that records pipeline runs through a Shipyard client.

What is recorded, and where (no table of its own; everything is tracking data):

* the pipeline's **experiment** (default: the pipeline's name) carries its
  definition as tags — ``shipyard.pipeline`` (name), ``shipyard.pipeline.target``
  (``file.py:name``), ``shipyard.pipeline.dag`` (steps and edges, JSON) — and the
  **cache index**: tags ``shipyard.cache.<time>.<run>.<n>``, each the JSON map
  ``{key: CacheEntry}`` of one batch of outputs, read once when a run starts;
* each **pipeline run** is a run with the parameters as params, the parameters as
  JSON in ``shipyard.pipeline.params`` (for resuming), and one tag
  ``shipyard.step.<node>`` per step holding its latest state (JSON);
* each **executed step** is a child run: constant inputs as params, upstream
  inputs by reference (``shipyard.inputs``: node, digest, serializer), duration and
  what the step logged as metrics, its captured output as ``logs.txt``, its output
  under ``outputs/`` (a model as a loadable package, registered when the step says
  ``register_model=``), and, if it failed, ``traceback.txt`` plus its inputs under
  ``inputs/``. Dataset versions read are recorded as lineage inputs of the step's
  run (``client.log_input``), datasets returned as its outputs.

A cached step gets no new run: its ``shipyard.step.<node>`` tag names the run
whose output was reused. Database writes happen on the recorder's own thread so
the pipeline never waits on them. Events of steps finishing in quick succession
are gathered into one batch, written by one ``TrackingStore.record_runs`` call —
one metadata transaction for every step run, its data and artifacts, and the
pipeline run's step tags — plus one experiment tag for the batch's cache entries.
A step still running when its batch is written is recorded as RUNNING and
completed by a later batch. A crash loses at most a couple of seconds of
records, as with the tracking writer; the run ends only after all are written.
"""

from __future__ import annotations

import contextlib
import copy
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from shipyard.errors import NotFound
from shipyard.pipelines._cache import CacheEntry
from shipyard.pipelines._hooks import PipelineHooks, RunInfo, StepState, StepStatus
from shipyard.pipelines._serializers import SerializerRegistry
from shipyard.pipelines._step_runs import FINAL_STATUS, StepRunBuilder, epoch_ms, param_text, safe_key
from shipyard.pipelines._task import OutputRef
from shipyard.tracking import new_run_id

__all__ = ["CACHE_TAG", "PARAMS_TAG", "STEP_TAG", "TrackedCacheIndex", "TrackingClient", "TrackingRecorder"]

CACHE_TAG = "shipyard.cache."
STEP_TAG = "shipyard.step."
PARAMS_TAG = "shipyard.pipeline.params"
_QUIET_S = 0.02
_MAX_BATCH_AGE_S = 2.0
_MAX_BATCH = 5000


class TrackingClient(Protocol):
    """What the recorder needs of a client (:class:`shipyard.Client` has it all; ``register_model``,
    ``log_input`` and ``log_output`` are used when present)."""

    config: Any
    tracking_store: Any

    def set_experiment(self, name: str) -> Any: ...
    def get_run(self, run_id: str) -> Any: ...
    def log_artifacts(self, run_id: str, local_dir: Any, artifact_path: str | None = None) -> Any: ...
    def flush(self) -> None: ...


def _as_json(value: Any) -> str | None:
    """``value`` as JSON, or None where it is not JSON-serializable."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return None


def step_record(status: StepStatus) -> dict[str, Any]:
    """The JSON kept in a pipeline run's ``shipyard.step.<node>`` tag."""
    error = status.errors[-1] if status.errors else None
    return {"step": status.step, "state": status.state.value, "attempt": status.attempt,
            "run_id": status.run_id, "cached_from": status.cached_from, "key": status.cache_key,
            "output": status.output.to_json() if status.output else None,
            "duration_s": round(status.result.duration_s, 6) if status.result else None,
            "error": {"type": error.type, "message": error.message[:500]} if error else None,
            "inputs": {k: r.node for k, r in status.inputs.items()}}


class TrackedCacheIndex:
    """The cache index in the experiment's ``shipyard.cache.<time>.<run>.<n>`` tags.

    Each tag holds the entries one recorder batch wrote (JSON ``{key: entry}``): one
    write per batch, not per step. Tags are merged in name order, so the newest
    entry for a key wins. Writes go through the recorder's thread.
    """

    def __init__(self, recorder: TrackingRecorder, tags: Mapping[str, str]) -> None:
        self._recorder = recorder
        self._raw: dict[str, Any] = {}
        for name in sorted(k for k in tags if k.startswith(CACHE_TAG)):
            try:
                self._raw.update(json.loads(tags[name]))
            except (ValueError, TypeError):
                continue  # an unreadable tag is a set of misses, never an error
        self._written: dict[str, CacheEntry] = {}

    def __len__(self) -> int:
        return len(self._raw)

    def get(self, key: str) -> CacheEntry | None:
        if key in self._written:
            return self._written[key]
        raw = self._raw.get(key)
        if raw is None:
            return None
        try:
            return CacheEntry.from_json(raw)
        except (ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, entry: CacheEntry) -> None:
        self._written[key] = entry
        self._recorder.enqueue(("cache", key, entry))


class _Flush:
    """What one batch of events becomes: run records, the parent's tags, cache entries, and work
    that needs the records written first (big artifacts, model registration, dataset lineage)."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.steps: dict[str, StepStatus] = {}  # the latest state of each node, for the parent's tags
        self.cache: dict[str, Any] = {}
        self.after: list[Callable[[], None]] = []
        self.end: str | None = None


class TrackingRecorder(PipelineHooks):
    """Records a pipeline run with ``client`` (see the module docstring).

    ``run_id`` adopts an existing run as the pipeline's run instead of creating one.
    """

    def __init__(self, client: TrackingClient, *, experiment: str, run_id: str | None = None,
                 capture_env: bool = True, serializers: SerializerRegistry | None = None) -> None:
        self.client = client
        self.serializers = serializers
        self.experiment = experiment
        self.adopt_run_id = run_id
        self.capture_env = capture_env
        # Events are appended without waking the recorder (a deque append is atomic): a
        # wake-up per event would make the two threads trade the interpreter lock per step.
        self._events: deque[Any] = deque()
        self._ended = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._exp_id = ""
        self._parent = ""
        self._parent_exp = ""
        self._run: RunInfo | None = None
        self._node_runs: dict[str, str] = {}
        self._running: set[str] = set()  # child runs written as RUNNING, to be completed
        self._store: Any = None
        self._builder: StepRunBuilder | None = None
        self._batches = 0

    # -- resuming ------------------------------------------------------------------------

    def load_resume(self, run_id: str) -> tuple[dict[str, Any], dict[str, CacheEntry]]:
        """The parameters of run ``run_id`` and every output it completed, by cache key."""
        run = self.client.get_run(run_id)
        raw = run.tags.get(PARAMS_TAG)
        if raw is None and run.tags.get("shipyard.kind") == "pipeline":
            raise NotFound(f"pipeline run {run_id!r} cannot be resumed: its parameters were not recorded (they are "
                           "not JSON, or their JSON is longer than max_tag_length); run the pipeline anew",
                           resource="run", run_id=run_id)
        if raw is None:
            raise NotFound(f"run {run_id!r} is not a pipeline run (no {PARAMS_TAG} tag)", resource="run",
                           run_id=run_id)
        prior: dict[str, CacheEntry] = {}
        for key, value in run.tags.items():
            if not key.startswith(STEP_TAG):
                continue
            record = json.loads(value)
            if record.get("state") in ("done", "cached") and record.get("output") and record.get("key"):
                prior[record["key"]] = CacheEntry(OutputRef.from_json(record["output"]), key[len(STEP_TAG):],
                                                  record.get("run_id") or record.get("cached_from"))
        return json.loads(raw), prior

    # -- hooks ---------------------------------------------------------------------------

    def enqueue(self, item: Any) -> None:
        self._events.append(item)

    def on_pipeline_start(self, run: RunInfo) -> None:
        from shipyard.store.artifacts import open_artifact_store
        from shipyard.tracking import RunRecord, RunStatus, capture_environment

        client = self.client
        experiment = client.set_experiment(self.experiment)
        self._exp_id, run.experiment = experiment.id, experiment.name
        definition = {"shipyard.pipeline": run.pipeline,
                      "shipyard.pipeline.dag": json.dumps(run.dag.to_json(), separators=(",", ":"))}
        if run.target:
            definition["shipyard.pipeline.target"] = run.target
        for key, value in definition.items():
            if experiment.tags.get(key) != value:
                client.tracking_store.set_experiment_tag(experiment.id, key, value)
        tags = {"shipyard.pipeline": run.pipeline, "shipyard.kind": "pipeline", "shipyard.executor": run.executor,
                **({"shipyard.resumed_from": run.resumed_from} if run.resumed_from else {}), **run.tags}
        recorded = _as_json(run.params)
        if recorded is not None and len(recorded) <= client.tracking_store.limits.tag:  # else it cannot be resumed
            tags[PARAMS_TAG] = recorded
        params = {safe_key(k): param_text(v, client.tracking_store.limits.param) for k, v in run.params.items()}
        # The pipeline's run, its params and tags: one transaction (an adopted run is updated).
        if self.adopt_run_id:
            adopted = client.get_run(self.adopt_run_id)
            record = RunRecord(adopted.experiment_id, id=adopted.id, status=RunStatus.RUNNING, params=params,
                               tags=tags)
        else:
            record = RunRecord(experiment.id, name=run.pipeline, status=RunStatus.RUNNING, params=params, tags=tags,
                               environment=capture_environment() if self.capture_env else None)
        client.tracking_store.record_runs([record])
        self._parent, self._parent_exp = record.id, record.experiment_id
        run.run_id = self._parent
        run.cache = TrackedCacheIndex(self, experiment.tags)
        self._run = run
        self._store = open_artifact_store(client.config.artifacts_uri, s3_endpoint_url=client.config.s3_endpoint_url)
        # Embedded, the tracking store keeps its artifacts in this very store: outputs are
        # linked by digest, never read back. Through a server their bytes travel.
        self._builder = StepRunBuilder(client, self._store, self.serializers, run,
                                       link=not getattr(client.config, "url", None))
        self._thread = threading.Thread(target=self._work, name="shipyard-pipeline-recorder", daemon=True)
        self._thread.start()

    def on_step(self, run: RunInfo, status: StepStatus) -> None:
        snapshot = copy.copy(status)
        snapshot.errors = list(status.errors)
        self._events.append(("step", snapshot, status))

    def on_pipeline_end(self, run: RunInfo) -> None:
        self._events.append(("end", run.status))
        self._ended.set()
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            if run.error is None:
                raise self._error
            run.error.add_note(f"recording the run also failed: {self._error!r}")

    # -- the recorder's thread -----------------------------------------------------------

    def _collect(self) -> list[Any]:
        """The next batch: the events gathered once steps pause for a moment.

        The recorder looks every ``_QUIET_S``; while new events keep arriving it only
        looks, so it never holds the interpreter lock the runner needs to start the
        next step. It takes the batch when a look finds nothing new (a step running),
        at the end, and at least every ``_MAX_BATCH_AGE_S``.
        """
        seen, first = 0, None
        while True:
            self._ended.wait(_QUIET_S)
            count, now = len(self._events), time.monotonic()
            if count and first is None:
                first = now
            if count and (self._ended.is_set() or count == seen or count >= _MAX_BATCH
                          or now - first >= _MAX_BATCH_AGE_S):  # type: ignore[operator]
                batch = [self._events.popleft() for _ in range(count)]
                while self._ended.is_set() and batch[-1][0] != "end":
                    batch.append(self._events.popleft())  # the end arrived meanwhile: take it too
                return batch
            seen = count

    def _keep(self, exc: BaseException) -> None:
        """Remember the first failure for on_pipeline_end; recording goes on with the rest."""
        self._error = self._error or exc

    def _work(self) -> None:
        finished = False
        while not finished:
            flush = _Flush()
            for item in self._collect():
                try:
                    if item[0] == "step":
                        self._record_step(item[1], item[2], flush)
                    elif item[0] == "cache":
                        entry = item[2]
                        flush.cache[item[1]] = CacheEntry(entry.output, entry.step,
                                                          self._node_runs.get(entry.step)).to_json()
                    elif item[0] == "end":
                        finished, flush.end = True, item[1]
                except BaseException as exc:
                    self._keep(exc)
            self._write(flush)

    def _write(self, flush: _Flush) -> None:
        """One ``record_runs`` call for every run of the batch, then what needs them written."""
        from shipyard.tracking import RunRecord, RunStatus

        store = self.client.tracking_store
        records = [RunRecord(**fields) for fields in flush.records.values()]
        if flush.steps or flush.end:
            tags = {f"{STEP_TAG}{node}": json.dumps(step_record(snap)) for node, snap in flush.steps.items()}
            records.append(RunRecord(self._parent_exp, id=self._parent, tags=tags,
                                     status=RunStatus(flush.end) if flush.end else RunStatus.RUNNING))
        try:
            self.client.flush()  # anything a hook logged to these runs through the client goes first
            store.record_runs(records)
        except BaseException as exc:
            self._keep(exc)
            if flush.end:  # never leave the pipeline's run RUNNING because its last records failed
                with contextlib.suppress(Exception):
                    store.update_run(self._parent, status=RunStatus(flush.end))
            return
        for record in records:
            if record.status is RunStatus.RUNNING and record.id != self._parent:
                self._running.add(record.id)
            else:
                self._running.discard(record.id)
        for action in flush.after:
            try:
                action()
            except BaseException as exc:
                self._keep(exc)
        if flush.cache:
            try:
                self._batches += 1
                name = f"{CACHE_TAG}{int(time.time() * 1000):013d}.{self._parent}.{self._batches}"
                store.set_experiment_tag(self._exp_id, name, json.dumps(flush.cache, separators=(",", ":")))
            except BaseException as exc:
                self._keep(exc)

    def _child(self, snap: StepStatus, live: StepStatus, flush: _Flush) -> dict[str, Any]:
        """The record of the step's run in this batch (its run id is chosen at once, written later)."""
        run_id = self._node_runs.get(snap.node)
        if run_id is None:
            run_id = self._node_runs[snap.node] = new_run_id()
            live.run_id = run_id
        snap.run_id = run_id
        fields = flush.records.get(run_id)
        if fields is None:
            fields = flush.records[run_id] = {"experiment_id": self._exp_id, "id": run_id, "status": "RUNNING",
                                              "parent_run_id": self._parent}
            if run_id not in self._running:
                fields.update(name=snap.node, start_time=epoch_ms(snap.started_at), tags={
                    "shipyard.pipeline": self._run.pipeline if self._run else "", "shipyard.kind": "step",
                    "shipyard.step": snap.step, "shipyard.pipeline_run": self._parent})
        return fields

    def _record_step(self, snap: StepStatus, live: StepStatus, flush: _Flush) -> None:
        if snap.state in (StepState.RUNNING, StepState.DONE, StepState.FAILED) or \
                (snap.state is StepState.CANCELLED and snap.node in self._node_runs):
            fields = self._child(snap, live, flush)
            if snap.state in FINAL_STATUS:
                assert self._builder is not None
                self._builder.finish(fields, snap, flush.after)
        snap.run_id = snap.run_id or self._node_runs.get(snap.node)
        flush.steps[snap.node] = snap
