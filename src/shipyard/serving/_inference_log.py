"""The inference log: what each request sent and got, as rolling Parquet segments.

The request path only appends a tuple to a thread-safe deque (after a sampling coin
flip); a background thread turns what has gathered into Parquet every
``flush_interval_s`` (or sooner at ``segment_rows``) and hands the bytes to a
:class:`SegmentSink`. A full buffer drops rows and counts them; a failing sink is
logged and counted. Neither ever blocks or fails a request. Every quarter second the
writer turns what has queued into columnar chunks, so the garbage collector never has
tens of thousands of pending entries to walk.

Segment layout (names from :mod:`shipyard.serving._log_layout`, which monitoring reads
too), one row per input row (a request of 5 rows gives 5 rows)::

    request_id   string     the request's id (the ``x-request-id`` header)
    timestamp    timestamp[ms, UTC]   when the request arrived
    model, version, route   string   who answered (route: the target's label, or "shadow")
    latency_ms   float64    server-side time of the request
    status       int16      HTTP status (200, or 500/504 for failures that reached the model)
    error        string     the failure, else null
    row          int32      the row's index within its request
    in_<column>  …          one column per signature column (tensors: a fixed-size list)
    prediction   …          the model's ``predict`` output for the row
    probabilities list<float64>   ``predict_proba``'s row, when it was computed (else null)

:class:`RunSink` stores segments as artifacts of one tracking run per served model
and serving process, in experiment ``serving:<model>``:
``inference/<YYYY-MM-DD>/<worker>-<seq>.parquet``; ground-truth labels posted to
``/v1/feedback`` go beside them as ``feedback/<YYYY-MM-DD>/<worker>-<seq>.parquet``
(request_id, timestamp, model, label). The run's artifact list is the segment index.
"""

from __future__ import annotations

import io
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

import numpy as np
import pandas as pd

from shipyard.serving import _log_layout as layout
from shipyard.serving._batcher import concat_inputs
from shipyard.serving._config import InferenceLogConfig
from shipyard.serving._metrics import Metrics

__all__ = ["Entry", "InferenceLog", "RunSink", "SegmentSink"]

logger = logging.getLogger("shipyard.serving")

_COMPACT_EVERY_S = 0.25


class SegmentSink(Protocol):
    """Where segments go: ``write`` stores one file's bytes for a model."""

    def write(self, model: str, path: str, data: bytes) -> None: ...

    def close(self) -> None: ...


class RunBackend(Protocol):
    """The tracking calls :class:`RunSink` needs (a :class:`shipyard.Client` has them)."""

    def create_run(self, experiment: str | None = None, *, name: str | None = None,
                   tags: dict[str, str] | None = None, capture_env: bool = True,
                   system_metrics: bool | None = None) -> Any: ...

    def log_bytes(self, run_id: str, data: bytes, artifact_path: str) -> Any: ...

    def end_run(self, run_id: str) -> Any: ...


class RunSink:
    """Segments as artifacts of a tracking run per model (experiment ``serving:<model>``)."""

    def __init__(self, backend: RunBackend, *, run_name: str, tags: dict[str, str] | None = None) -> None:
        self.backend = backend
        self.run_name = run_name
        self.tags = dict(tags or {})
        self._runs: dict[str, str] = {}
        self._lock = threading.Lock()

    def run_id(self, model: str) -> str:
        with self._lock:
            run_id = self._runs.get(model)
            if run_id is None:
                # A worker's system metrics are gauges on /metrics, never points of its log's runs.
                run = self.backend.create_run(layout.experiment_name(model), name=self.run_name, capture_env=False,
                                              tags={**self.tags, layout.MODEL_TAG: model}, system_metrics=False)
                run_id = self._runs[model] = run.id
            return run_id

    def write(self, model: str, path: str, data: bytes) -> None:
        self.backend.log_bytes(self.run_id(model), data, path)

    def close(self) -> None:
        with self._lock:
            runs, self._runs = list(self._runs.values()), {}
        for run_id in runs:
            self.backend.end_run(run_id)


class Entry(NamedTuple):
    timestamp_ms: int
    request_id: str
    model: str
    version: str
    route: str
    latency_ms: float
    status: int
    rows: int
    inputs: Any
    outputs: dict[str, Any] | None
    names: tuple[str, ...] | None
    error: str | None


class InferenceLog:
    """Buffers entries and feedback; a background thread writes them as Parquet segments."""

    def __init__(self, config: InferenceLogConfig, sink: SegmentSink, *, worker: str = "0",
                 metrics: Metrics | None = None) -> None:
        self.config = config
        self.sink = sink
        self.worker = worker
        self.metrics = metrics
        self._entries: deque[Entry] = deque()
        self._feedback: deque[tuple[int, str, str, Any]] = deque()
        self._rows = 0  # rows buffered; updated by both threads, under _count_lock
        self._count_lock = threading.Lock()
        self._seq = 0
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._flush_lock = threading.Lock()
        self._chunks: dict[tuple[Any, ...], list[pd.DataFrame]] = {}  # compacted rows, by segment
        self._chunk_rows = 0

    # -- the request path ----------------------------------------------------------------

    def record(self, entry: Entry) -> None:
        """Keep ``entry`` if sampled and there is room; never raises, never blocks."""
        rate = self.config.sample_rate
        if not self.config.enabled or (rate < 1.0 and random.random() >= rate):
            return
        if self._rows + entry.rows > self.config.max_buffer_rows:
            self._count(entry.model, "dropped", entry.rows)
            return
        self._entries.append(entry)
        with self._count_lock:
            self._rows += entry.rows
        if self._rows >= self.config.segment_rows:
            self._wake.set()

    def feedback(self, model: str, labels: Sequence[tuple[str, Any]]) -> None:
        """Keep ground-truth labels ``(request_id, label)`` for the next segment."""
        now = _now_ms()
        for request_id, label in labels:
            self._feedback.append((now, request_id, model, label))
        self._wake.set()

    # -- the background writer -------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="shipyard-inference-log", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop the writer, write what is left, and close the sink."""
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None
        self.flush()
        try:
            self.sink.close()
        except Exception:  # noqa: BLE001 - shutdown must go on
            logger.exception("closing the inference log sink failed")

    def _loop(self) -> None:
        last_write = time.monotonic()
        while not self._stop:
            self._wake.wait(_COMPACT_EVERY_S)
            self._wake.clear()
            if self._stop:
                break
            with self._flush_lock:
                self._compact()
                due = time.monotonic() - last_write >= self.config.flush_interval_s
                if due or self._chunk_rows >= self.config.segment_rows or self._feedback:
                    self._write_all()
                    last_write = time.monotonic()

    def flush(self) -> None:
        """Write everything buffered now (called by the writer thread and at close)."""
        with self._flush_lock:
            self._compact()
            self._write_all()

    def _compact(self) -> None:
        """Turn queued entries into columnar chunks: few objects for the garbage collector
        to walk, and the work done in small slices rather than one long one."""
        entries: list[Entry] = []
        while self._entries:
            entries.append(self._entries.popleft())
        if not entries:
            return
        with self._count_lock:
            self._rows -= sum(e.rows for e in entries)
        groups: dict[tuple[Any, ...], list[Entry]] = {}
        for entry in entries:
            groups.setdefault(_group_key(entry), []).append(entry)
        for key, group in groups.items():
            rows = sum(e.rows for e in group)
            try:
                self._chunks.setdefault(key, []).append(_entries_table(group))
                self._chunk_rows += rows
            except Exception:  # noqa: BLE001 - logging must never take serving down
                logger.exception("preparing inference log rows for %r failed", group[0].model)
                self._count(group[0].model, "failed", rows)

    def _write_all(self) -> None:
        chunks, self._chunks, self._chunk_rows = self._chunks, {}, 0
        for key, frames in chunks.items():
            model = key[0]
            rows = sum(len(f) for f in frames)
            self._write(model, layout.INFERENCE, lambda fs: pd.concat(fs, ignore_index=True), frames, rows)
        feedback = []
        while self._feedback:
            feedback.append(self._feedback.popleft())
        by_model: dict[str, list[tuple[int, str, str, Any]]] = {}
        for item in feedback:
            by_model.setdefault(item[2], []).append(item)
        for model, items in by_model.items():
            self._write(model, layout.FEEDBACK, _feedback_table, items, 0)

    def _write(self, model: str, kind: str, build: Any, items: Any, rows: int) -> None:
        try:
            frame = build(items)
            buffer = io.BytesIO()
            frame.to_parquet(buffer, index=False, compression="zstd")
            self._seq += 1
            day = layout.day_of(_now_ms())
            self.sink.write(model, layout.segment_path(kind, day, self.worker, self._seq), buffer.getvalue())
            if rows:
                self._count(model, "written", rows)
        except Exception:  # noqa: BLE001 - logging must never take serving down
            logger.exception("writing an inference log segment for %r failed", model)
            if rows:
                self._count(model, "failed", rows)

    def _count(self, model: str, outcome: str, rows: int) -> None:
        if self.metrics is not None:
            self.metrics.inc("shipyard_inference_log_rows_total", (model, outcome), rows)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _shape_key(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return ("a", value.dtype.str, value.shape[1:])
    if isinstance(value, pd.DataFrame):
        return ("f", tuple(value.columns))
    if isinstance(value, dict):
        return ("d", tuple((k, _shape_key(v)) for k, v in value.items()))
    return ("o", type(value).__name__)


def _group_key(entry: Entry) -> tuple[Any, ...]:
    """Entries that can share a segment: same model, version, route and array layouts."""
    inputs, outputs = entry.inputs, entry.outputs
    layout = (inputs.dtype.str, inputs.shape[1:]) if type(inputs) is np.ndarray else _shape_key(inputs)
    answer = None if outputs is None else (_shape_key(outputs.get("predict")), "predict_proba" in outputs)
    return entry.model, entry.version, entry.route, entry.names, layout, answer


def _columns(prefix: str, value: Any, names: tuple[str, ...] | None, out: dict[str, Any]) -> None:
    """Flatten joined inputs or outputs into columns: one per feature, lists for tensors."""
    if isinstance(value, pd.DataFrame):
        for column in value.columns:
            out[f"{prefix}{column}"] = value[column].to_numpy()
    elif isinstance(value, dict):
        for key, array in value.items():
            _columns(f"{prefix}{key}_" if prefix.startswith(layout.INPUT_PREFIX) else prefix, array, None, out)
    elif isinstance(value, np.ndarray):
        if value.ndim == 2 and names is not None and len(names) == value.shape[1]:
            for j, name in enumerate(names):
                out[f"{prefix}{name}"] = value[:, j]
        elif value.ndim == 1:
            out[prefix.rstrip("_") if not prefix.startswith(layout.INPUT_PREFIX) else f"{prefix}input"] = value
        else:
            key = prefix.rstrip("_") if not prefix.startswith(layout.INPUT_PREFIX) else f"{prefix}input"
            out[key] = list(value.reshape(value.shape[0], -1))
    else:
        out[prefix.rstrip("_")] = [repr(value)]


def _entries_table(entries: list[Entry]) -> pd.DataFrame:
    counts = np.fromiter((e.rows for e in entries), dtype=np.int64, count=len(entries))
    total = int(counts.sum())
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    first = entries[0]

    def repeat(values: list[Any], dtype: Any = object) -> np.ndarray:
        return np.repeat(np.asarray(values, dtype=dtype), counts)

    columns: dict[str, Any] = {
        layout.REQUEST_ID: repeat([e.request_id for e in entries]),
        layout.TIMESTAMP: pd.to_datetime(repeat([e.timestamp_ms for e in entries], np.int64), unit="ms", utc=True),
        layout.MODEL: repeat([e.model for e in entries]),
        layout.VERSION: repeat([e.version for e in entries]),
        layout.ROUTE: repeat([e.route for e in entries]),
        layout.LATENCY_MS: repeat([e.latency_ms for e in entries], np.float64),
        layout.STATUS: repeat([e.status for e in entries], np.int16),
        layout.ERROR: repeat([e.error for e in entries]),
        layout.ROW: (np.arange(total) - starts).astype(np.int32),
    }
    _columns(layout.INPUT_PREFIX, concat_inputs([e.inputs for e in entries]), first.names, columns)
    if first.outputs is not None:
        predict = concat_inputs([e.outputs["predict"] for e in entries])  # type: ignore[index]
        _columns(f"{layout.PREDICTION}_", predict, None, columns)
        if "predict_proba" in first.outputs:
            proba = concat_inputs([e.outputs["predict_proba"] for e in entries])  # type: ignore[index]
            columns[layout.PROBABILITIES] = list(np.asarray(proba, dtype=np.float64).reshape(total, -1))
        else:
            columns[layout.PROBABILITIES] = [None] * total
    else:
        columns[layout.PREDICTION] = [None] * total
        columns[layout.PROBABILITIES] = [None] * total
    return pd.DataFrame(columns)


def _feedback_table(items: list[tuple[int, str, str, Any]]) -> pd.DataFrame:
    labels = [label for _, _, _, label in items]
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in labels)
    return pd.DataFrame({
        layout.REQUEST_ID: [rid for _, rid, _, _ in items],
        layout.TIMESTAMP: pd.to_datetime([ts for ts, _, _, _ in items], unit="ms", utc=True),
        layout.MODEL: [model for _, _, model, _ in items],
        layout.LABEL: np.asarray(labels, dtype=np.float64) if numeric else [None if v is None else str(v)
                                                                            for v in labels],
    })
