"""Running monitors: each closed window once, its series, empty windows, late labels, races."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard import Client
from shipyard.monitoring._entities import MonitorWindow
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
    from shipyard.monitoring._entities import Monitor

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


# -- what waits, and the window still open ----------------------------------------------------


def test_rows_waiting_for_their_window_are_reported_with_when_it_is_computed(client: Client) -> None:
    write_segments(client, log_frame(T0, 300, span_ms=H // 2))
    client.create_monitor("churn@production", window="1h", start=T0, delay_s=60)  # the README's monitor
    [run] = client.run_monitors(now=T0 + 40 * 60_000)
    assert run.windows == () and run.backlog == 0 and run.pending_rows == 300
    [waiting] = run.pending
    assert (waiting.window_start, waiting.window_end, waiting.rows, waiting.due_at) == (T0, T0 + H, 300,
                                                                                        T0 + H + DELAY)
    assert "300 rows waiting" in run.summary() and "01:01" in run.summary()
    [done] = client.run_monitors(now=T0 + H + DELAY)
    assert [w.rows for w in done.windows] == [300] and done.pending == ()


def test_closed_windows_beyond_the_run_limit_are_counted_as_left(client: Client) -> None:
    write_segments(client, log_frame(T0 + 4 * H, 50, span_ms=H // 4))
    client.create_monitor("churn@production", window="1h", start=T0, delay_s=0)
    run = client.run_monitor("churn@production", now=T0 + 4 * H + H // 2, max_windows=2)
    assert len(run.windows) == 2 and run.backlog == 2
    assert [(p.window_start, p.rows) for p in run.pending] == [(T0 + 4 * H, 50)]
    assert "2 closed window(s) left" in run.summary()


def test_the_open_window_is_computed_on_request_marked_partial_and_never_stored(client: Client) -> None:
    client.register_dataset("churn-train", reference_frame())
    client.registry_store.create_registered_model("churn")  # registered, nothing logged yet
    client.create_monitor("churn@production", reference="ds:churn-train@1", window="1h", start=T0,
                          label_column="churned", delay_s=60)
    write_segments(client, log_frame(T0, 400, seed=8, shift=15.0, span_ms=H // 4))
    now = T0 + 20 * 60_000
    run = client.run_monitor("churn@production", now=now, include_partial=True)
    assert run.windows == () and run.points == 0
    [partial] = run.partial
    assert partial.window.status == "partial" and partial.window.rows == 400 and partial.through == now
    assert (partial.window.window_start, partial.window.window_end) == (T0, T0 + H)
    assert partial.values["rows"] == 400.0 and partial.values["drift_share"] > 0
    age = [p.value for p in partial.points if p.series == "feature_drift_score" and p.labels == {"feature": "age"}]
    assert age and age[0] > 0.3
    assert [(p.rows, p.due_at) for p in run.pending] == [(400, T0 + H + DELAY)]
    assert "partial window" in run.summary()
    # Nothing of it was stored, and the monitor has not moved on.
    assert client.list_monitor_windows("churn@production") == []
    assert client.query_series("churn@production") == []
    assert client.get_monitor("churn@production").cursor == T0
    # Recomputed next time, with the rows logged since.
    write_segments(client, log_frame(T0 + H // 4, 100, seed=9, span_ms=H // 4))
    [again] = client.run_monitors(now=T0 + 40 * 60_000, include_partial=True)
    assert [p.window.rows for p in again.partial] == [500]
    # Once closed, the window is computed for good; the next one is the partial one.
    [closed] = client.run_monitors(now=T0 + H + DELAY, include_partial=True)
    assert [(w.rows, w.status) for w in closed.windows] == [(500, "ok")]
    assert [(p.window.window_start, p.window.rows) for p in closed.partial] == [(T0 + H, 0)]
    assert [w.status for w in client.list_monitor_windows("churn@production")] == ["ok"]


def test_a_partial_window_is_never_stored(client: Client) -> None:
    from shipyard.errors import InvalidInput

    client.registry_store.create_registered_model("churn")
    client.create_monitor("churn@production", window="1h", start=T0)
    partial = MonitorWindow("churn@production", T0, T0 + H, 10, "partial")
    with pytest.raises(InvalidInput) as caught:
        client.monitor_store.commit("churn@production", expect=(T0, None), windows=[partial], points=[],
                                    cursor=T0 + H, label_watermark=None)
    assert caught.value.context["field"] == "windows"
    assert client.get_monitor("churn@production").cursor == T0


# -- alerts in the run's result ---------------------------------------------------------------


def test_a_run_says_which_alerts_fired_and_which_notifications_failed(tmp_path: Path) -> None:
    from shipyard import Config
    from shipyard.testing.alerts import webhook_receiver

    with webhook_receiver() as hook:
        hook.status = 500  # the notifier's endpoint fails
        alerts = {"notifiers": {"hook": {"type": "webhook", "url": hook.url, "timeout": 5}}}
        with Client(Config(home=tmp_path / "home", alerts=alerts)) as client:
            write_segments(client, log_frame(T0, 300, latency_ms=900.0))
            client.create_monitor("churn@production", window="1h", start=T0, delay_s=0)
            client.create_alert_rule("p99_latency_ms > 500", name="slow", monitor="churn@production",
                                     notify=["hook", "log"])
            [run] = client.run_monitors(now=T0 + H)
        assert len(hook.received) == 1
    [alert] = run.alerts
    assert (alert.kind, alert.rule.name, alert.value) == ("firing", "slow", 900.0)
    assert {(d.notifier, d.ok) for d in alert.deliveries} == {("hook", False), ("log", True)}
    [(event, notifier, why)] = run.failed_deliveries
    assert event is alert and notifier == "hook" and "500" in (why or "")
    assert "alert slow firing" in run.summary() and "NOT delivered to hook" in run.summary()
