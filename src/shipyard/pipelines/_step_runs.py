"""What a finished step's tracked run holds, built for the recorder's next batch.

:class:`StepRunBuilder` turns a step's final status into the fields of its
:class:`~shipyard.tracking.RunRecord` — constant inputs as params, upstream inputs
by reference, the duration, what the step logged as metrics and its worker's system
metrics (``system/...``, when sampled), ``logs.txt``, the
output under ``outputs/`` (a model as its package's files), and for a failure
``traceback.txt`` and the inputs under ``inputs/`` — plus the work that must wait
until the record is written: streaming a big output, registering a model, recording
dataset lineage.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shipyard.errors import ShipyardError
from shipyard.pipelines._hooks import RunInfo, StepState, StepStatus
from shipyard.pipelines._serializers import SerializerRegistry
from shipyard.pipelines._task import OutputRef

__all__ = ["FINAL_STATUS", "StepRunBuilder", "epoch_ms", "param_text", "safe_key"]

#: The run status of each final step state that has a run.
FINAL_STATUS = {StepState.DONE: "FINISHED", StepState.FAILED: "FAILED", StepState.CANCELLED: "FAILED"}
# Outputs up to this size travel inside the batch's records; bigger ones are streamed after it.
_MAX_RECORDED_ARTIFACT = 8 << 20
_ILLEGAL_KEY = re.compile(r"[^A-Za-z0-9_\-. /:]")

After = list[Callable[[], None]]


def safe_key(name: str) -> str:
    """A legal param/tag/metric key for a name (``xs[0]`` → ``xs.0``; other odd characters → ``_``)."""
    out = _ILLEGAL_KEY.sub("_", name.replace("[", ".").replace("]", ""))[:250]
    return out if out and not out.startswith("/") else f"_{out}"[:250]


def param_text(value: Any, limit: int) -> str:
    """A param value: the string itself, or the value's repr, cut to ``limit`` characters (the
    tracking store's param limit) with ``...`` marking the cut."""
    out = value if isinstance(value, str) else repr(value)
    return out if len(out) <= limit else out[:limit - 3] + "..."


def epoch_ms(seconds: float | None) -> int:
    """Epoch seconds (now if None) as integer milliseconds."""
    return int((seconds if seconds is not None else time.time()) * 1000)


class StepRunBuilder:
    """Fills in a step's run record (see the module docstring).

    ``store`` is the pipeline's artifact store; with ``link`` (the tracking store
    keeps its artifacts in that same store) outputs are referenced by digest instead
    of being read back and sent.
    """

    def __init__(self, client: Any, store: Any, serializers: SerializerRegistry | None, run: RunInfo, *,
                 link: bool) -> None:
        self.client = client
        self.store = store
        self.serializers = serializers
        self.run = run
        self.link = link

    def finish(self, fields: dict[str, Any], snap: StepStatus, after: After) -> None:
        """Complete ``fields`` (a run record's keyword arguments) for the final ``snap``; append
        to ``after`` what must run once the record is written."""
        from shipyard.tracking import Metric, RunStatus

        run_id, result = fields["id"], snap.result
        end = epoch_ms(snap.ended_at)
        limit = self.client.tracking_store.limits.param
        params = {safe_key(k): param_text(v, limit) for k, v in snap.params.items()}
        tags = fields.setdefault("tags", {})
        tags.update({"shipyard.state": snap.state.value, "shipyard.attempts": str(snap.attempt),
                     "shipyard.inputs": json.dumps({k: {"node": r.node, "index": r.index, **r.output.to_json()}
                                                    for k, r in snap.inputs.items()})})
        metrics: list[Any] = []
        artifacts: dict[str, bytes] = {}
        links: dict[str, str] = {}
        if snap.cache_key:
            tags["shipyard.cache_key"] = snap.cache_key
        if result is not None:
            tags["shipyard.host"] = result.host
            tags.update({safe_key(f"step.{k}"): str(v) for k, v in result.tags.items()})
            params.update({safe_key(f"step.{k}"): param_text(v, limit) for k, v in result.params.items()})
            metrics.append(Metric("duration_s", float(result.duration_s), 0, end))
            metrics += [Metric(safe_key(k), float(v), int(s), end) for k, v, s in result.metrics]
            metrics += [Metric(k, v, s, stamp) for k, v, stamp, s in result.system_metrics]
            if result.logs:
                artifacts["logs.txt"] = result.logs.encode()
        if snap.output is not None:
            tags["shipyard.output"] = json.dumps(snap.output.to_json())
            self._output(run_id, snap, tags, artifacts, links, after)
        if snap.errors:
            text = "\n".join(f"--- attempt {i}: {e.type}: {e.message}\n{e.traceback}"
                             for i, e in enumerate(snap.errors, 1))
            artifacts["traceback.txt"] = text.encode()
        if snap.state is StepState.FAILED:
            for name, ref in snap.inputs.items():
                self._blob(run_id, ref.output, f"inputs/{safe_key(name).replace('.', '_')}", artifacts, links, after)
        fields.update(status=RunStatus(FINAL_STATUS[snap.state]), end_time=max(end, fields.get("start_time") or 0),
                      params=params, metrics=metrics, artifacts=artifacts, links=links)
        if self._lineage_needed(snap):
            after.append(lambda: self._record_lineage(run_id, snap))

    def _extension(self, serializer: str) -> str:
        try:
            return self.serializers.get(serializer).extension if self.serializers else "bin"
        except ShipyardError:
            return "bin"

    def _blob(self, run_id: str, ref: OutputRef, path: str, artifacts: dict[str, bytes], links: dict[str, str],
              after: After) -> None:
        """A stored object as an artifact of the run: linked by digest when the tracking store
        shares the artifact store, else its bytes in the record when small, or streamed afterwards."""
        name = f"{path}.{self._extension(ref.serializer)}"
        if self.link:
            links[name] = ref.digest
            return
        if ref.size <= _MAX_RECORDED_ARTIFACT:
            artifacts[name] = self.store.get_bytes(ref.digest)
            return

        def stream() -> None:
            with tempfile.TemporaryDirectory(prefix="shipyard-artifact-") as tmp:
                file = self.store.get_file(ref.digest, Path(tmp) / Path(name).name)
                self.client.tracking_store.log_artifact(run_id, name, file)

        after.append(stream)

    def _output(self, run_id: str, snap: StepStatus, tags: dict[str, str], artifacts: dict[str, bytes],
                links: dict[str, str], after: After) -> None:
        assert snap.output is not None
        if snap.output.serializer != "model":
            self._blob(run_id, snap.output, f"outputs/{snap.node}", artifacts, links, after)
            return
        # A model is stored as its package's files, so ``runs:/<run>/outputs/<node>`` loads it.
        from shipyard.pipelines._serializers import tar_members, untar

        where = f"outputs/{snap.node}"
        if snap.output.size <= _MAX_RECORDED_ARTIFACT:
            artifacts.update({f"{where}/{k}": v for k, v in tar_members(self.store.get_bytes(snap.output.digest))})
        else:
            def package() -> None:
                with tempfile.TemporaryDirectory(prefix="shipyard-model-") as tmp:
                    untar(self.store.get_bytes(snap.output.digest), Path(tmp))  # type: ignore[union-attr]
                    self.client.log_artifacts(run_id, tmp, artifact_path=where)

            after.append(package)
        tags["shipyard.model_uri"] = f"runs:/{run_id}/{where}"
        name = self.run.dag.nodes[snap.node].step.register_model
        if name:
            after.append(lambda: self._register(run_id, f"runs:/{run_id}/{where}", name))

    def _register(self, run_id: str, uri: str, name: str) -> None:
        from shipyard.tracking import LogBatch

        version = self.client.register_model(uri, name)
        self.client.tracking_store.log_batch(
            LogBatch(tags=[(run_id, "shipyard.registered_model", f"{version.name}/{version.version}")]),
            allow_finished=True)

    @staticmethod
    def _lineage_needed(snap: StepStatus) -> bool:
        return any(r.output.serializer == "dataset" for r in snap.inputs.values()) or \
            (snap.output is not None and snap.output.serializer == "dataset") or \
            any(type(v).__module__.startswith("shipyard.datasets.") for v in snap.params.values())

    def _record_lineage(self, run_id: str, snap: StepStatus) -> None:
        log_input = getattr(self.client, "log_input", None)
        log_output = getattr(self.client, "log_output", None)
        if log_input is None:
            return
        read = []
        for ref in snap.inputs.values():
            if ref.output.serializer == "dataset":
                data = json.loads(self.store.get_bytes(ref.output.digest))
                read.append(f"{data['name']}@{data['version']}")
        read += [v for v in snap.params.values() if type(v).__module__.startswith("shipyard.datasets.")]
        for dataset in read:
            log_input(run_id, dataset)
            # The pipeline run consumed it too: what a later step makes from this step's
            # output (a model) then traces back to the data through its pipeline run.
            log_input(self.run.run_id, dataset)
        if snap.output is not None and snap.output.serializer == "dataset" and log_output is not None:
            data = json.loads(self.store.get_bytes(snap.output.digest))
            log_output(run_id, f"{data['name']}@{data['version']}")
