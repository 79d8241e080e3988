"""Running monitors: each closed window once, its series, empty windows, late labels, races."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard import Client
from shipyard.monitoring.entities import MonitorWindow
from tests.monitoring.conftest import T0, H, feedback_frame, log_frame, reference_frame, truth, write_segments

DELAY = 60_000


def values(client: Client, name: str, series: str, **labels: str) -> list[float | None]:
    return [p.value for p in client.query_series(name, series, labels=labels or None)]


@pytest.fixture
def monitored(client: Client) -> tuple[Client, list[pd.DataFrame]]:
    """A reference, and a log of three hours: normal, ``age`` shifted by +15, and nothing."""
    client.register_dataset("churn-train", reference_frame())
    hours = [log_frame(T0, 2000, seed=1), log_frame(T0 + H, 2000, seed=2, shift=15.0, latency_ms=40.0)]
    write_segments(client, pd.concat(hours, ignore_index=True), rows_per_segment=700)
    client.create_monitor("churn@production", reference="ds:churn-train@1", window="1h", start=T0,
                          label_column="churned", task="classification", delay_s=60)
    return client, hours


def test_each_closed_window_is_computed_once_with_its_drift(monitored: tuple[Client, list[pd.DataFrame]]) -> None:
    client, _ = monitored
    [run] = client.run_monitors(now=T0 + 3 * H + DELAY)
    assert [w.rows for w in run.windows] == [2000, 2000, 0]
    assert [w.status for w in run.windows] == ["ok", "ok", "empty"]
    assert run.windows[0].version == "1" and client.get_monitor("churn@production").cursor == T0 + 3 * H
    age = values(client, "churn@production", "feature_drift_score", feature="age")
    assert age[0] is not None and age[1] is not None and age[1] > 5 * age[0] and age[2] is None
    share = values(client, "churn@production", "drift_share")
    assert share[0] < 0.5 and share[1] > 0 and share[2] is None
    assert values(client, "churn@production", "dataset_drift")[2] is None
    assert values(client, "churn@production", "rows") == [2000.0, 2000.0, 0.0]
    plan = values(client, "churn@production", "feature_drift_score", feature="plan")
    assert plan[0] is not None and plan[0] < 0.1 and plan[1] < 0.1  # the category mix did not change
    again = client.run_monitors(now=T0 + 3 * H + DELAY)
    assert again[0].windows == () and len(values(client, "churn@production", "rows")) == 3


def test_latency_errors_predictions_and_estimated_performance(monitored: tuple[Client, list[pd.DataFrame]]) -> None:
    client, _ = monitored
    client.run_monitors(now=T0 + 2 * H + DELAY)
    assert values(client, "churn@production", "p99_latency_ms") == [5.0, 40.0]
    assert values(client, "churn@production", "error_rate") == [0.0, 0.0]
    prediction = values(client, "churn@production", "prediction_drift_score")
    assert prediction[0] is not None and prediction[1] > prediction[0]
    estimated = values(client, "churn@production", "estimated_accuracy")
    assert all(v is not None and 0.5 < v <= 1 for v in estimated)
    assert values(client, "churn@production", "accuracy") == [None, None]  # no labels yet
    assert values(client, "churn@production", "unlabelled_rows") == [2000.0, 2000.0]
    assert values(client, "churn@production", "labelled_rows") == [0.0, 0.0]


def test_late_labels_recompute_the_windows_they_fall_in(monitored: tuple[Client, list[pd.DataFrame]]) -> None:
    client, hours = monitored
    client.run_monitors(now=T0 + 2 * H + DELAY)
    client.log_labels(truth(hours[0], flip=0.1), model="churn")  # uploaded in a batch
    write_segments(client, feedback_frame(truth(hours[1]).iloc[:500], T0 + 2 * H + 2 * DELAY),
                   kind="feedback")  # posted to /v1/feedback
    [run] = client.run_monitors(now=T0 + 3 * H + DELAY)
    assert [w.window_start for w in run.windows] == [T0 + 2 * H]
    assert sorted(run.relabelled) == [T0, T0 + H]
    accuracy = values(client, "churn@production", "accuracy")
    assert accuracy[0] == pytest.approx(0.9, abs=0.03) and accuracy[1] == pytest.approx(1.0) and accuracy[2] is None
    assert values(client, "churn@production", "labelled_rows") == [2000.0, 500.0, 0.0]
    assert values(client, "churn@production", "unlabelled_rows") == [0.0, 1500.0, 0.0]
    estimated = values(client, "churn@production", "estimated_accuracy")
    assert estimated[0] is not None  # the estimate stays beside the realised value
    # Other series of a relabelled window are untouched, and labels seen are not applied twice.
    [quiet] = client.run_monitors(now=T0 + 3 * H + 2 * DELAY)
    assert quiet.relabelled == () and quiet.windows == ()


def test_labels_known_before_a_window_is_computed_are_joined_at_once(client: Client) -> None:
    frame = log_frame(T0, 300, seed=3)
    write_segments(client, frame)
    client.log_labels(truth(frame), model="churn")
    client.create_monitor("churn@production", window="1h", start=T0, delay_s=0)
    client.run_monitors(now=T0 + H)
    assert values(client, "churn@production", "accuracy") == [1.0]
    assert values(client, "churn@production", "drift_share") == [None]  # no reference: drift not computed


def test_missing_values_show_per_feature(client: Client) -> None:
    frame = log_frame(T0, 400, seed=4)
    frame.loc[:99, "in_spend"] = np.nan
    write_segments(client, frame)
    client.create_monitor("churn@production", window="1h", start=T0, delay_s=0)
    client.run_monitors(now=T0 + H)
    assert values(client, "churn@production", "missing_rate", feature="spend") == [0.25]
    assert values(client, "churn@production", "missing_rate", feature="age") == [0.0]


def test_two_runners_at_once_compute_each_window_once(monitored: tuple[Client, list[pd.DataFrame]]) -> None:
    client, _ = monitored
    written: list[list[MonitorWindow]] = []
    store = client.monitor_store
    commit = store.commit

    def counting_commit(*args: object, **kwargs: object) -> object:
        result = commit(*args, **kwargs)  # type: ignore[arg-type]
        if kwargs["windows"]:
            written.append(list(kwargs["windows"]))  # type: ignore[arg-type]
        return result

    store.commit = counting_commit  # type: ignore[method-assign]
    barrier = threading.Barrier(2)
    results = []

    def run() -> None:
        barrier.wait()
        results.append(client.run_monitor("churn@production", now=T0 + 2 * H + DELAY))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [len(w) for w in written] == [2]  # one runner's windows were stored; the other's refused
    assert sorted(len(r.windows) for r in results) == [0, 2]
    assert len(values(client, "churn@production", "rows")) == 2


def test_a_broken_monitor_does_not_stop_the_others(client: Client) -> None:
    from shipyard.monitoring.entities import Monitor

    write_segments(client, log_frame(T0, 50))
    # Its reference vanished (the client refuses a missing one at creation; the store does not check).
    client.monitor_store.create_monitor(Monitor("broken", "churn", 3600, reference="ds:gone@1", cursor=T0,
                                                options={"delay_s": 0}))
    client.create_monitor("churn@production", window="1h", start=T0, delay_s=0)
    results = {r.monitor: r for r in client.run_monitors(now=T0 + H)}
    assert results["broken"].error is not None and "gone" in results["broken"].error
    assert results["churn@production"].error is None and len(results["churn@production"].windows) == 1
    assert client.get_monitor("broken").cursor == T0  # nothing committed for it


def test_a_remote_client_runs_monitors_through_the_server(tmp_path: Path) -> None:
    from shipyard import Config
    from tests.services import running_server

    with running_server(Config(home=tmp_path / "server")) as server, \
            Client(Config(home=tmp_path / "client", url=server.url)) as remote:
        remote.register_dataset("churn-train", reference_frame())
        frame = log_frame(T0, 600, seed=5, shift=15.0)
        write_segments(remote, frame, rows_per_segment=200)
        remote.log_labels(truth(frame), model="churn")
        remote.create_monitor("churn@production", reference="ds:churn-train@1", window="1h", start=T0,
                              label_column="churned", delay_s=0)
        [run] = remote.run_monitors(now=T0 + H)
        assert run.error is None and [w.rows for w in run.windows] == [600]
        assert values(remote, "churn@production", "accuracy") == [1.0]
        assert values(remote, "churn@production", "feature_drift_score", feature="age")[0] > 0.5
        data = remote.monitor_report("churn@production", since=T0, until=T0 + H)
        assert {f.name for f in data.features} >= {"age", "plan"}
