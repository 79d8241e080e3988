"""The inference log: rolling segments, sampling, and never failing or blocking a request."""

from __future__ import annotations

import io
import time

import numpy as np
import pandas as pd

from shipyard.serving import InferenceLogConfig
from shipyard.serving._inference_log import Entry, InferenceLog
from shipyard.serving._metrics import Metrics


class MemorySink:
    def __init__(self, fail: bool = False) -> None:
        self.files: dict[str, bytes] = {}
        self.fail = fail
        self.closed = False

    def write(self, model: str, path: str, data: bytes) -> None:
        if self.fail:
            raise OSError("disk full")
        self.files[f"{model}/{path}"] = data

    def close(self) -> None:
        self.closed = True

    def frames(self) -> list[pd.DataFrame]:
        return [pd.read_parquet(io.BytesIO(data)) for _, data in sorted(self.files.items())]


def entry(i: int, rows: int = 1) -> Entry:
    inputs = np.full((rows, 2), float(i))
    return Entry(1_700_000_000_000 + i, f"r{i}", "m", "1", "production", 0.5, 200, rows, inputs,
                 {"predict": inputs.sum(axis=1), "predict_proba": np.column_stack([inputs[:, 0], inputs[:, 1]])},
                 ("a", "b"), None)


def rows_written(metrics: Metrics, outcome: str) -> float:
    return metrics.snapshot()["shipyard_inference_log_rows_total"].get(f"m\x1f{outcome}", 0)


def test_segments_roll_at_segment_rows_with_one_row_per_input_row() -> None:
    sink, metrics = MemorySink(), Metrics()
    log = InferenceLog(InferenceLogConfig(segment_rows=10, flush_interval_s=60), sink, worker="w1", metrics=metrics)
    log.start()
    for i in range(6):
        log.record(entry(i, rows=2))
    deadline = time.monotonic() + 10
    while not sink.files and time.monotonic() < deadline:
        time.sleep(0.01)
    log.close()
    assert sink.closed and all(p.startswith("m/inference/") and "/w1-" in p for p in sink.files)
    frame = pd.concat(sink.frames(), ignore_index=True)
    assert len(frame) == 12 and rows_written(metrics, "written") == 12
    first = frame[frame.request_id == "r1"]
    assert first.row.tolist() == [0, 1] and first.in_a.tolist() == [1.0, 1.0]
    assert first.prediction.tolist() == [2.0, 2.0] and list(first.probabilities.iloc[0]) == [1.0, 1.0]
    assert str(frame.timestamp.dtype).startswith("datetime64") and frame.status.tolist() == [200] * 12


def test_sampling_keeps_about_the_configured_share() -> None:
    sink = MemorySink()
    log = InferenceLog(InferenceLogConfig(sample_rate=0.25), sink)
    for i in range(4000):
        log.record(entry(i))
    log.close()
    kept = sum(len(f) for f in sink.frames())
    assert 800 < kept < 1200


def test_a_full_buffer_drops_and_counts_instead_of_waiting() -> None:
    metrics = Metrics()
    log = InferenceLog(InferenceLogConfig(max_buffer_rows=5), MemorySink(), metrics=metrics)
    started = time.perf_counter()
    for i in range(20):
        log.record(entry(i))
    assert time.perf_counter() - started < 0.05
    assert rows_written(metrics, "dropped") == 15


def test_a_failing_sink_is_counted_and_never_raises() -> None:
    metrics = Metrics()
    log = InferenceLog(InferenceLogConfig(), MemorySink(fail=True), metrics=metrics)
    log.record(entry(1, rows=3))
    log.feedback("m", [("r1", 1.0)])
    log.close()
    assert rows_written(metrics, "failed") == 3


def test_segments_follow_the_layout_monitoring_reads() -> None:
    from shipyard.serving import _log_layout as layout

    sink = MemorySink()
    log = InferenceLog(InferenceLogConfig(flush_interval_s=60), sink, worker="w1")
    log.record(entry(1, rows=2))
    log.feedback("m", [("r1", 1)])
    log.close()
    paths = sorted(path.removeprefix("m/") for path in sink.files)
    assert all(layout.is_segment(p) for p in paths)
    assert {p.split("/")[0] for p in paths} == {layout.INFERENCE, layout.FEEDBACK}
    day = layout.day_of(int(time.time() * 1000))
    assert {layout.segment_day(p) for p in paths} <= {day, layout.day_of(int(time.time() * 1000) - 60_000)}
    inference = pd.read_parquet(io.BytesIO(sink.files[f"m/{next(p for p in paths if p.startswith('inference'))}"]))
    expected = {layout.REQUEST_ID, layout.TIMESTAMP, layout.MODEL, layout.VERSION, layout.ROUTE, layout.LATENCY_MS,
                layout.STATUS, layout.ERROR, layout.ROW, layout.PREDICTION, layout.PROBABILITIES}
    assert expected <= set(inference.columns)
    assert [layout.input_name(c) for c in inference.columns if layout.input_name(c)] == ["a", "b"]
    feedback = pd.read_parquet(io.BytesIO(sink.files[f"m/{next(p for p in paths if p.startswith('feedback'))}"]))
    assert tuple(feedback.columns) == layout.FEEDBACK_COLUMNS
