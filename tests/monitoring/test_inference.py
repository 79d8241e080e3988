"""Reading the inference log over a time range: only the right days, rows, routes and versions."""

from __future__ import annotations

import pandas as pd

from shipyard import Client
from shipyard.monitoring._entities import parse_model_ref
from shipyard.monitoring._inference import InferenceLogReader
from tests.monitoring.conftest import T0, H, feedback_frame, log_frame, truth, write_segments


class CountingTracking:
    """A tracking store that counts the segments opened (downloaded through its API)."""

    artifacts = None  # no in-place reads: every segment goes through open_artifact

    def __init__(self, store: object) -> None:
        self.store = store
        self.opened: list[str] = []

    def open_artifact(self, run_id: str, path: str):  # type: ignore[no-untyped-def]
        self.opened.append(path)
        return self.store.open_artifact(run_id, path)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)


def test_a_range_gives_exactly_its_rows_and_opens_only_its_days(client: Client) -> None:
    days = [log_frame(T0 + d * 24 * H, 300, seed=d, span_ms=24 * H) for d in range(3)]
    write_segments(client, pd.concat(days, ignore_index=True), rows_per_segment=100)
    counting = CountingTracking(client.tracking_store)
    reader = InferenceLogReader(counting, parse_model_ref("churn"), slack_ms=60_000)  # type: ignore[arg-type]
    start, end = T0 + 24 * H + 5 * H, T0 + 24 * H + 9 * H
    rows = reader.read(start, end)
    expected = days[1][(days[1].timestamp >= pd.Timestamp(start, unit="ms", tz="UTC"))
                       & (days[1].timestamp < pd.Timestamp(end, unit="ms", tz="UTC"))]
    assert sorted(rows["request_id"]) == sorted(expected["request_id"]) and len(rows) > 0
    assert all("2026-01-02" in path for path in counting.opened)  # day 1 only: day 0 and day 2 untouched
    assert set(rows.columns) >= {"in_age", "in_plan", "prediction", "probabilities", "latency_ms"}


def test_routes_versions_and_shadow_rows_are_told_apart(client: Client) -> None:
    frames = [log_frame(T0, 50, seed=1, route="production", version="1"),
              log_frame(T0, 30, seed=2, route="candidate", version="2"),
              log_frame(T0, 20, seed=3, route="shadow", version="3")]
    write_segments(client, pd.concat(frames, ignore_index=True))

    def count(ref: str, **kw: object) -> int:
        return len(InferenceLogReader(client.tracking_store, parse_model_ref(ref), **kw).read(T0, T0 + H))  # type: ignore[arg-type]

    assert count("churn@production") == 50
    assert count("churn@candidate") == 30
    assert count("churn") == 80  # every route but shadow
    assert count("churn/2") == 30
    assert count("churn@production", route="*") == 80


def test_an_unserved_model_has_an_empty_log(client: Client) -> None:
    reader = InferenceLogReader(client.tracking_store, parse_model_ref("nobody@production"))
    assert reader.read(T0, T0 + H).empty
    assert len(reader.feedback(None)) == 0


def test_columns_are_read_only_as_asked(client: Client) -> None:
    write_segments(client, log_frame(T0, 40))
    reader = InferenceLogReader(client.tracking_store, parse_model_ref("churn@production"))
    tables = list(reader.tables(T0, T0 + H, columns=["request_id"]))
    assert sum(t.num_rows for t in tables) == 40
    assert set(tables[0].column_names) == {"request_id", "timestamp", "route", "version"}


def test_feedback_is_read_after_a_watermark_as_whole_request_labels(client: Client) -> None:
    frame = log_frame(T0, 10)
    labels = truth(frame)
    write_segments(client, feedback_frame(labels.iloc[:4], T0 + H), kind="feedback")
    write_segments(client, feedback_frame(labels.iloc[4:], T0 + 3 * H), kind="feedback")
    reader = InferenceLogReader(client.tracking_store, parse_model_ref("churn@production"))
    everything = reader.feedback(None)
    assert len(everything) == 10 and (everything["row"] == -1).all()
    assert sorted(everything["label"].tolist()) == sorted(labels["label"].astype(float).tolist())
    later = reader.feedback(T0 + 2 * H)
    assert sorted(later["request_id"]) == sorted(labels["request_id"].iloc[4:])
    assert (later["arrived_at"] == T0 + 3 * H).all()


def test_an_indexed_segment_outside_the_range_is_not_fetched_again(client: Client) -> None:
    hours = [log_frame(T0 + h * H, 100, seed=h) for h in range(4)]
    write_segments(client, pd.concat(hours, ignore_index=True), rows_per_segment=100)  # one segment an hour
    counting = CountingTracking(client.tracking_store)

    def reader() -> InferenceLogReader:
        return InferenceLogReader(counting, parse_model_ref("churn"), index=client.monitor_store)  # type: ignore[arg-type]

    assert len(reader().read(T0, T0 + H)) == 100
    assert len(counting.opened) == 4  # first look: every segment of the day, now indexed
    counting.opened.clear()
    assert len(reader().read(T0 + 2 * H, T0 + 3 * H)) == 100
    assert len(counting.opened) == 1


def test_an_unreadable_segment_is_skipped_and_named(client: Client) -> None:
    sink = write_segments(client, log_frame(T0, 30))
    sink.write("churn", "inference/2026-01-01/w9-000001.parquet", b"PAR1 not really parquet")
    for tracking in (client.tracking_store, CountingTracking(client.tracking_store)):
        reader = InferenceLogReader(tracking, parse_model_ref("churn"))  # type: ignore[arg-type]
        assert len(reader.read(T0, T0 + H)) == 30
        assert reader.unreadable == ["inference/2026-01-01/w9-000001.parquet"]
