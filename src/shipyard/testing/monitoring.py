"""Conformance suite for :class:`~shipyard.monitoring._backend.MonitorStore` implementations.

Subclass :class:`MonitorStoreConformance` and provide a ``monitor_store`` fixture. The
suite pins the contract the monitor runner and the Prometheus exporter rely on:
monitors as stored, one commit per window guarded by the cursor, points replaced by
key, filters, the latest point per series, and labels keyed by request id.
"""

from __future__ import annotations

import math
import time

import pandas as pd
import pytest

from shipyard.alerting import Point
from shipyard.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from shipyard.monitoring._backend import MonitorStore
from shipyard.monitoring._entities import Monitor, MonitorWindow

__all__ = ["MonitorStoreConformance"]

H = 3_600_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % H


def _monitor(name: str = "churn@production", **kw: object) -> Monitor:
    return Monitor(name=name, model="churn@production", window_s=3600, reference="ds:churn@3",
                   task="classification", cursor=T0, **kw)  # type: ignore[arg-type]


def _points(name: str, start: int, drift: float | None = 0.1) -> list[Point]:
    end = start + H
    return [Point(name, "drift_share", start, end, drift),
            Point(name, "feature_drift_score", start, end, 0.5, {"feature": "age"}),
            Point(name, "feature_drift_score", start, end, 0.01, {"feature": "plan"}),
            Point(name, "accuracy", start, end, None)]


class MonitorStoreConformance:
    """Cases every monitoring backend passes. Needs a ``monitor_store`` fixture."""

    def test_a_monitor_reads_back_as_created(self, monitor_store: MonitorStore) -> None:
        created = monitor_store.create_monitor(_monitor(options={"delay_s": 5, "columns": ["age"]},
                                                        label_column="churned"))
        assert created.cursor == T0 and created.label_watermark is None and created.created_at > 0
        again = monitor_store.get_monitor("churn@production")
        assert again == created
        assert (again.model, again.reference, again.window_s, again.task) == \
            ("churn@production", "ds:churn@3", 3600, "classification")
        assert dict(again.options) == {"delay_s": 5, "columns": ["age"]} and again.label_column == "churned"
        assert [m.name for m in monitor_store.list_monitors()] == ["churn@production"]

    def test_a_new_monitor_starts_at_the_window_holding_now(self, monitor_store: MonitorStore) -> None:
        before = int(time.time() * 1000)
        created = monitor_store.create_monitor(Monitor("m1", "churn", 600))
        assert created.cursor is not None and created.cursor % 600_000 == 0
        assert before - 600_000 < created.cursor <= before

    def test_names_are_unique_and_missing_ones_are_not_found(self, monitor_store: MonitorStore) -> None:
        monitor_store.create_monitor(_monitor())
        with pytest.raises(AlreadyExists):
            monitor_store.create_monitor(_monitor())
        with pytest.raises(NotFound):
            monitor_store.get_monitor("nope")
        with pytest.raises(NotFound):
            monitor_store.delete_monitor("nope")
        with pytest.raises(NotFound):
            monitor_store.list_windows("nope")

    def test_commit_stores_windows_and_points_and_moves_the_cursor(self, monitor_store: MonitorStore) -> None:
        monitor_store.create_monitor(_monitor())
        profile = {"rows": 3, "columns": {"age": {"kind": "numeric", "counts": [1, 2]}}}
        window = MonitorWindow("churn@production", T0, T0 + H, 3, "ok", "4", None, profile, {"rows": 3})
        moved = monitor_store.commit("churn@production", expect=(T0, None), windows=[window],
                                     points=_points("churn@production", T0), cursor=T0 + H, label_watermark=T0 + 5)
        assert (moved.cursor, moved.label_watermark) == (T0 + H, T0 + 5)
        [stored] = monitor_store.list_windows("churn@production")
        assert (stored.rows, stored.status, stored.version, stored.profile) == (3, "ok", "4", None)
        [full] = monitor_store.list_windows("churn@production", profiles=True)
        assert full.profile == profile and full.prediction_profile == {"rows": 3}
        points = monitor_store.query_points("churn@production")
        assert len(points) == 4 and {p.series for p in points} == {"drift_share", "feature_drift_score", "accuracy"}
        assert next(p for p in points if p.series == "accuracy").value is None

    def test_a_stale_commit_is_a_conflict_and_changes_nothing(self, monitor_store: MonitorStore) -> None:
        monitor_store.create_monitor(_monitor())
        monitor_store.commit("churn@production", expect=(T0, None), windows=[], points=_points("churn@production", T0),
                             cursor=T0 + H, label_watermark=None)
        with pytest.raises(Conflict):
            monitor_store.commit("churn@production", expect=(T0, None), windows=[],
                                 points=_points("churn@production", T0 + H, drift=0.9), cursor=T0 + 2 * H,
                                 label_watermark=None)
        assert monitor_store.get_monitor("churn@production").cursor == T0 + H
        assert [p.value for p in monitor_store.query_points("churn@production", "drift_share")] == [0.1]

    def test_a_commit_for_another_monitor_is_refused(self, monitor_store: MonitorStore) -> None:
        monitor_store.create_monitor(_monitor())
        with pytest.raises(InvalidInput):
            monitor_store.commit("churn@production", expect=(T0, None), windows=[], points=_points("other", T0),
                                 cursor=T0 + H, label_watermark=None)

    def test_writing_a_point_again_replaces_it(self, monitor_store: MonitorStore) -> None:
        monitor_store.write_points(_points("m", T0))
        monitor_store.write_points([Point("m", "feature_drift_score", T0, T0 + H, 0.7, {"feature": "age"}),
                                    Point("m", "drift_share", T0, T0 + H, math.nan)])
        age = monitor_store.query_points("m", "feature_drift_score", labels={"feature": "age"})
        assert [p.value for p in age] == [0.7]
        assert [p.value for p in monitor_store.query_points("m", "drift_share")] == [None]
        assert len(monitor_store.query_points("m")) == 4

    def test_query_filters_by_series_time_and_labels_in_window_order(self, monitor_store: MonitorStore) -> None:
        for i in range(3):
            monitor_store.write_points(_points("m", T0 + i * H, drift=i / 10))
        monitor_store.write_points(_points("other", T0))
        shares = monitor_store.query_points("m", "drift_share")
        assert [(p.window_start, p.value) for p in shares] == [(T0, 0.0), (T0 + H, 0.1), (T0 + 2 * H, 0.2)]
        # since < window_end <= until
        assert [p.window_start for p in monitor_store.query_points("m", "drift_share", since_ms=T0 + H,
                                                                      until_ms=T0 + 2 * H)] == [T0 + H]
        plan = monitor_store.query_points("m", labels={"feature": "plan"})
        assert len(plan) == 3 and all(p.labels == {"feature": "plan"} for p in plan)
        assert len(monitor_store.query_points(series="drift_share")) == 4
        ends = [p.window_end for p in monitor_store.query_points()]
        assert ends == sorted(ends)

    def test_latest_points_hold_each_series_last_window(self, monitor_store: MonitorStore) -> None:
        for i in range(3):
            monitor_store.write_points(_points("m", T0 + i * H, drift=i / 10))
        monitor_store.write_points([Point("m", "rows", T0, T0 + H, 10.0)])  # a series that stopped early
        latest = {(p.series, p.labels.get("feature")): p for p in monitor_store.latest_points()}
        assert latest[("drift_share", None)].value == 0.2 and latest[("drift_share", None)].window_start == T0 + 2 * H
        assert latest[("rows", None)].window_start == T0
        assert len(latest) == 5
        assert monitor_store.latest_points("absent") == []

    def test_deleting_a_monitor_deletes_its_results(self, monitor_store: MonitorStore) -> None:
        monitor_store.create_monitor(_monitor())
        window = MonitorWindow("churn@production", T0, T0 + H, 0, "empty")
        monitor_store.commit("churn@production", expect=(T0, None), windows=[window],
                             points=_points("churn@production", T0), cursor=T0 + H, label_watermark=None)
        monitor_store.delete_monitor("churn@production")
        assert monitor_store.list_monitors() == []
        assert monitor_store.query_points("churn@production") == []
        monitor_store.create_monitor(_monitor())
        assert monitor_store.list_windows("churn@production") == []

    def test_bad_monitors_are_refused_naming_the_field(self, monitor_store: MonitorStore) -> None:
        with pytest.raises(InvalidInput) as info:
            monitor_store.create_monitor(Monitor("x y", "churn", 60))
        assert info.value.field == "name"  # type: ignore[attr-defined]
        with pytest.raises(InvalidInput) as info:
            Monitor("m", "churn", 60, options={"nope": 1})
        assert info.value.field == "options"  # type: ignore[attr-defined]

    def test_labels_are_keyed_by_request_and_row_and_replaced(self, monitor_store: MonitorStore) -> None:
        stored = monitor_store.put_labels(pd.DataFrame({
            "request_id": ["r1", "r2", "r3", "r3"], "row": [-1, -1, 0, 1], "label": [1, "yes", 0.5, None],
            "model": ["churn", "churn", "", "churn"]}))
        assert stored == 4
        got = monitor_store.get_labels("churn").sort_values(["request_id", "row"]).reset_index(drop=True)
        assert got["request_id"].tolist() == ["r1", "r2", "r3", "r3"]
        assert got["label"].tolist() == [1, "yes", 0.5, None] and got["row"].tolist() == [-1, -1, 0, 1]
        assert (got["arrived_at"] > 0).all()
        first = int(got["arrived_at"].max())
        assert monitor_store.get_labels("other")["request_id"].tolist() == ["r3"]  # the model-less label
        time.sleep(0.01)
        monitor_store.put_labels(pd.DataFrame({"request_id": ["r1"], "label": [0], "model": ["churn"]}))
        later = monitor_store.get_labels("churn", arrived_after=first)
        assert later["request_id"].tolist() == ["r1"] and later["label"].tolist() == [0]
        some = monitor_store.get_labels("churn", request_ids=["r2", "r9"])
        assert some["request_id"].tolist() == ["r2"]
        assert len(monitor_store.get_labels("churn", request_ids=[])) == 0

    def test_many_labels_by_request_id(self, monitor_store: MonitorStore) -> None:
        ids = [f"req-{i}" for i in range(3000)]
        monitor_store.put_labels(pd.DataFrame({"request_id": ids, "label": [i % 2 for i in range(3000)],
                                               "model": ["churn"] * 3000}))
        got = monitor_store.get_labels("churn", request_ids=ids[1000:2500])
        assert sorted(got["request_id"]) == sorted(ids[1000:2500])

    @pytest.mark.parametrize("frame, field", [
        ({"request_id": ["bad id!"], "label": [1]}, "request_id"),
        ({"request_id": ["r1"], "label": [[1, 2]]}, "label"),
        ({"request_id": ["r1"], "label": [1], "row": [-2]}, "row"),
        ({"request_id": ["r1"]}, "label"),
        ({"request_id": ["r1"], "label": [1], "model": ["a/b"]}, "model"),
    ])
    def test_bad_labels_are_refused_naming_the_field(self, monitor_store: MonitorStore, frame: dict,
                                                     field: str) -> None:
        with pytest.raises(InvalidInput) as info:
            monitor_store.put_labels(pd.DataFrame(frame))
        assert info.value.field == field  # type: ignore[attr-defined]
        assert len(monitor_store.get_labels("churn")) == 0

    def test_segment_spans_are_remembered_by_digest_and_never_change(self, monitor_store: MonitorStore) -> None:
        a, b = "a" * 64, "b" * 64
        assert monitor_store.segment_spans([a, b]) == {}
        monitor_store.record_segment_spans({a: (T0, T0 + 5, 10)})
        monitor_store.record_segment_spans({a: (0, 1, 2), b: (T0 + H, T0 + 2 * H, 7)})  # a keeps its span
        assert monitor_store.segment_spans([a, b, "c" * 64]) == {a: (T0, T0 + 5, 10), b: (T0 + H, T0 + 2 * H, 7)}
        monitor_store.record_segment_spans({})
