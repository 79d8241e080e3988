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
the pipeline never waits on them (they are batched while steps finish in quick
succession; a crash loses at most a couple of seconds of records, as with the
tracking writer); the run ends only after all are written.
"""

from __future__ import annotations

import copy
import json
import queue
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from shipyard.errors import NotFound, ShipyardError
from shipyard.pipelines.cache import CacheEntry
from shipyard.pipelines.hooks import PipelineHooks, RunInfo, StepState, StepStatus
from shipyard.pipelines.serializers import SerializerRegistry
from shipyard.pipelines.task import OutputRef

__all__ = ["CACHE_TAG", "PARAMS_TAG", "STEP_TAG", "TrackedCacheIndex", "TrackingClient", "TrackingRecorder"]

CACHE_TAG = "shipyard.cache."
STEP_TAG = "shipyard.step."
PARAMS_TAG = "shipyard.pipeline.params"
_MAX_PARAM = 6000
_MAX_INLINE_ARTIFACT = 64 << 20
_QUIET_S = 0.02
_MAX_BATCH_AGE_S = 2.0
_MAX_BATCH = 5000
_FINAL_STATUS = {StepState.DONE: "FINISHED", StepState.FAILED: "FAILED", StepState.CANCELLED: "FAILED"}


class TrackingClient(Protocol):
    """What the recorder needs of a client (:class:`shipyard.Client` has it all)."""

    config: Any
    tracking_store: Any

    def set_experiment(self, name: str) -> Any: ...
    def create_run(self, experiment: str | None = None, *, experiment_id: str | None = None,
                   name: str | None = None, tags: dict[str, str] | None = None,
                   parent_run_id: str | None = None, capture_env: bool = True) -> Any: ...
    def get_run(self, run_id: str) -> Any: ...
    def end_run(self, run_id: str, status: Any = ...) -> Any: ...
    def log_params(self, run_id: str, params: dict[str, Any]) -> None: ...
    def log_metrics(self, run_id: str, metrics: dict[str, float], step: int = 0) -> None: ...
    def log_metric(self, run_id: str, key: str, value: float, step: int = 0, timestamp: int | None = None) -> None: ...
    def set_tags(self, run_id: str, tags: dict[str, Any]) -> None: ...
    def log_bytes(self, run_id: str, data: bytes, artifact_path: str) -> Any: ...
    def log_artifacts(self, run_id: str, local_dir: Any, artifact_path: str | None = None) -> Any: ...
    def flush(self) -> None: ...


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= _MAX_PARAM else text[:_MAX_PARAM - 3] + "..."


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


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
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._exp_id = ""
        self._parent = ""
        self._run: RunInfo | None = None
        self._node_runs: dict[str, str] = {}
        self._store: Any = None
        self._batches = 0

    # -- resuming ------------------------------------------------------------------------

    def load_resume(self, run_id: str) -> tuple[dict[str, Any], dict[str, CacheEntry]]:
        """The parameters of run ``run_id`` and every output it completed, by cache key."""
        run = self.client.get_run(run_id)
        raw = run.tags.get(PARAMS_TAG)
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
        self._queue.put(item)

    def on_pipeline_start(self, run: RunInfo) -> None:
        from shipyard.store.artifacts import open_artifact_store

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
        if self.adopt_run_id:
            self._parent = client.get_run(self.adopt_run_id).id
            client.set_tags(self._parent, tags)
        else:
            self._parent = client.create_run(experiment_id=experiment.id, name=run.pipeline, tags=tags,
                                             capture_env=self.capture_env).id
        run.run_id = self._parent
        client.log_params(self._parent, {k: _text(v) for k, v in run.params.items()})
        if _jsonable(run.params):
            client.set_tags(self._parent, {PARAMS_TAG: json.dumps(run.params)})
        run.cache = TrackedCacheIndex(self, experiment.tags)
        self._run = run
        self._store = open_artifact_store(client.config.artifacts_uri, s3_endpoint_url=client.config.s3_endpoint_url)
        self._thread = threading.Thread(target=self._work, name="shipyard-pipeline-recorder", daemon=True)
        self._thread.start()

    def on_step(self, run: RunInfo, status: StepStatus) -> None:
        snapshot = copy.copy(status)
        snapshot.errors = list(status.errors)
        self._queue.put(("step", snapshot, status))

    def on_pipeline_end(self, run: RunInfo) -> None:
        self._queue.put(("end", run.status))
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            if run.error is None:
                raise self._error
            run.error.add_note(f"recording the run also failed: {self._error!r}")

    # -- the recorder's thread -----------------------------------------------------------

    def _collect(self) -> list[Any]:
        """The next batch: events until the queue has been quiet for a moment.

        While steps finish in quick succession the recorder only listens, so it never
        holds the interpreter lock the runner needs to start the next step; it writes
        in the pauses (a step running), at the end, and at least every few seconds.
        """
        batch = [self._queue.get()]
        started = time.monotonic()
        while batch[-1][0] != "end" and len(batch) < _MAX_BATCH and time.monotonic() - started < _MAX_BATCH_AGE_S:
            try:
                batch.append(self._queue.get(timeout=_QUIET_S))
            except queue.Empty:
                break
        return batch

    def _work(self) -> None:
        finished = False
        while not finished:
            batch = self._collect()
            to_end: list[tuple[str, str]] = []
            cache: dict[str, Any] = {}
            for item in batch:
                try:
                    if item[0] == "step":
                        self._record_step(item[1], item[2], to_end)
                    elif item[0] == "cache":
                        entry = item[2]
                        cache[item[1]] = CacheEntry(entry.output, entry.step, self._node_runs.get(entry.step)).to_json()
                    elif item[0] == "end":
                        finished = True
                        to_end.append((self._parent, item[1]))
                except BaseException as exc:  # kept for on_pipeline_end to report; keep recording the rest
                    self._error = self._error or exc
            try:
                if cache:
                    self._batches += 1
                    name = f"{CACHE_TAG}{int(time.time() * 1000):013d}.{self._parent}.{self._batches}"
                    self.client.tracking_store.set_experiment_tag(self._exp_id, name,
                                                                  json.dumps(cache, separators=(",", ":")))
                self.client.flush()
                for run_id, status in to_end:
                    if run_id == self._parent:
                        self.client.end_run(run_id, status)
                    else:
                        self.client.tracking_store.update_run(run_id, status=status, end_time=int(time.time() * 1000))
            except BaseException as exc:
                self._error = self._error or exc

    def _child(self, snap: StepStatus, live: StepStatus) -> str:
        run_id = self._node_runs.get(snap.node)
        if run_id is None:
            run_id = self.client.create_run(
                experiment_id=self._exp_id, name=snap.node, parent_run_id=self._parent, capture_env=False,
                tags={"shipyard.pipeline": self._run.pipeline if self._run else "", "shipyard.kind": "step",
                      "shipyard.step": snap.step, "shipyard.pipeline_run": self._parent}).id
            self._node_runs[snap.node] = run_id
            live.run_id = run_id
        snap.run_id = run_id
        return run_id

    def _record_step(self, snap: StepStatus, live: StepStatus, to_end: list[tuple[str, str]]) -> None:
        client = self.client
        if snap.state in (StepState.RUNNING, StepState.DONE, StepState.FAILED) or \
                (snap.state is StepState.CANCELLED and snap.node in self._node_runs):
            run_id = self._child(snap, live)
            if snap.state in _FINAL_STATUS:
                self._finish_step(run_id, snap)
                to_end.append((run_id, _FINAL_STATUS[snap.state]))
        client.set_tags(self._parent, {f"{STEP_TAG}{snap.node}": json.dumps(step_record(snap))})

    def _finish_step(self, run_id: str, snap: StepStatus) -> None:
        client, result = self.client, snap.result
        client.log_params(run_id, {k: _text(v) for k, v in snap.params.items()})
        tags = {"shipyard.state": snap.state.value, "shipyard.attempts": snap.attempt,
                "shipyard.inputs": json.dumps({k: {"node": r.node, "index": r.index, **r.output.to_json()}
                                               for k, r in snap.inputs.items()})}
        if snap.cache_key:
            tags["shipyard.cache_key"] = snap.cache_key
        if result is not None:
            tags["shipyard.host"] = result.host
            tags.update({f"step.{k}": v for k, v in result.tags.items()})
            client.log_params(run_id, {f"step.{k}": v for k, v in result.params.items()})
            client.log_metric(run_id, "duration_s", result.duration_s)
            for key, value, step in result.metrics:
                client.log_metric(run_id, key, value, step)
            if result.logs:
                client.log_bytes(run_id, result.logs.encode(), "logs.txt")
        if snap.output is not None:
            tags["shipyard.output"] = json.dumps(snap.output.to_json())
            self._log_output(run_id, snap)
        if snap.errors:
            text = "\n".join(f"--- attempt {i}: {e.type}: {e.message}\n{e.traceback}"
                             for i, e in enumerate(snap.errors, 1))
            client.log_bytes(run_id, text.encode(), "traceback.txt")
        if snap.state is StepState.FAILED:
            for name, ref in snap.inputs.items():
                self._log_blob(run_id, ref.output, f"inputs/{name.replace('[', '_').replace(']', '')}")
        self._record_lineage(run_id, snap)
        client.set_tags(run_id, tags)

    def _extension(self, serializer: str) -> str:
        try:
            return self.serializers.get(serializer).extension if self.serializers else "bin"
        except ShipyardError:
            return "bin"

    def _log_blob(self, run_id: str, ref: OutputRef, path: str) -> None:
        if ref.size <= _MAX_INLINE_ARTIFACT:
            data = self._store.get_bytes(ref.digest)
            self.client.log_bytes(run_id, data, f"{path}.{self._extension(ref.serializer)}")
            return
        with tempfile.TemporaryDirectory(prefix="shipyard-artifact-") as tmp:
            file = self._store.get_file(ref.digest, Path(tmp) / f"{Path(path).name}.{self._extension(ref.serializer)}")
            self.client.tracking_store.log_artifact(run_id, f"{path}.{file.suffix.lstrip('.')}", file)

    def _log_output(self, run_id: str, snap: StepStatus) -> None:
        assert snap.output is not None
        if snap.output.serializer != "model":
            self._log_blob(run_id, snap.output, f"outputs/{snap.node}")
            return
        from shipyard.pipelines.serializers import untar

        with tempfile.TemporaryDirectory(prefix="shipyard-model-") as tmp:
            untar(self._store.get_bytes(snap.output.digest), Path(tmp))
            self.client.log_artifacts(run_id, tmp, artifact_path=f"outputs/{snap.node}")
        uri = f"runs:/{run_id}/outputs/{snap.node}"
        tags = {"shipyard.model_uri": uri}
        name = self._run.dag.nodes[snap.node].step.register_model if self._run else None
        if name:
            version = self.client.register_model(uri, name)  # type: ignore[attr-defined]
            tags["shipyard.registered_model"] = f"{version.name}/{version.version}"
        self.client.set_tags(run_id, tags)

    def _record_lineage(self, run_id: str, snap: StepStatus) -> None:
        log_input = getattr(self.client, "log_input", None)
        log_output = getattr(self.client, "log_output", None)
        if log_input is None:
            return
        for ref in snap.inputs.values():
            if ref.output.serializer == "dataset":
                data = json.loads(self._store.get_bytes(ref.output.digest))
                log_input(run_id, f"{data['name']}@{data['version']}")
        for value in snap.params.values():
            if type(value).__module__.startswith("shipyard.datasets."):
                log_input(run_id, value)
        if snap.output is not None and snap.output.serializer == "dataset" and log_output is not None:
            data = json.loads(self._store.get_bytes(snap.output.digest))
            log_output(run_id, f"{data['name']}@{data['version']}")
