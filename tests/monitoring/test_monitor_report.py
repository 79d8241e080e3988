"""A monitor's report: stored windows merged against the reference, series over time, bounded size."""

from __future__ import annotations

from pathlib import Path

import orjson
import pandas as pd

from shipyard import Client
from shipyard.monitoring import ReportData, render_html
from tests.monitoring.conftest import T0, H, log_frame, reference_frame, truth, write_segments


def monitored_report(home: Path, rows: int) -> ReportData:
    with Client(home=home) as client:
        client.register_dataset("churn-train", reference_frame())
        hours = [log_frame(T0, rows, seed=1), log_frame(T0 + H, rows, seed=2, shift=15.0)]
        write_segments(client, pd.concat(hours, ignore_index=True), rows_per_segment=50_000)
        client.log_labels(truth(hours[0]), model="churn")
        client.create_monitor("churn@production", reference="ds:churn-train@1", window="1h", start=T0,
                              label_column="churned", delay_s=0)
        client.run_monitors(now=T0 + 3 * H)
        return client.monitor_report("churn@production", since=T0, until=T0 + 3 * H)


def test_the_report_merges_windows_and_charts_series(tmp_path: Path) -> None:
    data = monitored_report(tmp_path / "home", 2000)
    assert data.period == (T0, T0 + 3 * H)
    features = {f.name: f for f in data.features}
    assert set(features) == {"age", "spend", "plan", "churned"}
    assert features["age"].drifted and not features["plan"].drifted
    assert [v is None for _, v in features["age"].drift] == [False, False, True]  # the empty hour is a gap
    assert len(features["churned"].drift) == 3  # prediction drift over time
    assert features["age"].reference.edges == features["age"].current.edges
    assert features["plan"].current.total == 4000
    assert [v for _, v in data.performance["accuracy"]][:2] == [1.0, None]
    assert "estimated_accuracy" in data.performance and "labelled_share" in data.performance
    assert [v for _, v in data.drift_share][2] is None
    assert data.quality["rows"] == 4000 and data.quality["windows"] == {"ok": 2, "empty": 1, "failed": 0}
    assert data.summary["monitor"] == "churn@production" and data.summary["current_rows"] == 4000
    again = ReportData.from_json(orjson.loads(orjson.dumps(data.to_json(), option=orjson.OPT_SERIALIZE_NUMPY)))
    assert again.features == data.features and again.performance == data.performance


def test_the_html_is_self_contained_and_its_size_does_not_follow_the_rows(tmp_path: Path) -> None:
    small = render_html(monitored_report(tmp_path / "small", 1_000))
    large = render_html(monitored_report(tmp_path / "large", 100_000))
    for page in (small, large):
        assert page.startswith("<!DOCTYPE html>") and "<script" not in page
        assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page
    assert len(large) < 1.2 * len(small)
