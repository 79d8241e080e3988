"""The real mlflow client's tracking calls against shipyard server (plain and under /mlflow)."""

from __future__ import annotations

import math
import re
import time
from typing import Any

import pytest
from mlflow.entities import Metric, RunStatus
from mlflow.exceptions import MlflowException

from tests.server.mlflow.conftest import MlflowServer


def test_set_experiment_creates_it_once_and_a_duplicate_name_is_resource_already_exists(
    ml: Any, client: Any, exp_name: str
) -> None:
    exp = ml.set_experiment(exp_name)
    assert ml.set_experiment(exp_name).experiment_id == exp.experiment_id
    assert exp.artifact_location == f"mlflow-artifacts:/{exp.experiment_id}"
    assert client.get_experiment_by_name(exp_name).experiment_id == exp.experiment_id
    with pytest.raises(MlflowException) as caught:
        client.create_experiment(exp_name)
    assert caught.value.error_code == "RESOURCE_ALREADY_EXISTS"
    assert client.get_experiment_by_name(f"{exp_name}-missing") is None


def test_default_experiment_zero_exists(client: Any) -> None:
    assert client.get_experiment("0").name == "Default"


def test_create_experiment_with_tags_and_search_by_name_and_tag(client: Any, exp_name: str) -> None:
    exp_id = client.create_experiment(exp_name, tags={"team": "growth"})
    found = client.search_experiments(filter_string=f"name = '{exp_name}' and tags.team = 'growth'")
    assert [e.experiment_id for e in found] == [exp_id]
    assert found[0].tags == {"team": "growth"}
    assert client.search_experiments(filter_string=f"name LIKE '{exp_name}%' and tags.team = 'other'") == []


def test_a_run_has_status_times_user_and_system_tags(ml: Any, client: Any, exp_name: str) -> None:
    ml.set_experiment(exp_name)
    before = int(time.time() * 1000)
    with ml.start_run(run_name="first") as run:
        running = client.get_run(run.info.run_id)
    after = int(time.time() * 1000)
    done = client.get_run(run.info.run_id)
    assert re.fullmatch(r"[0-9a-f]{32}", run.info.run_id)
    assert running.info.status == "RUNNING" and running.info.end_time is None
    assert done.info.status == "FINISHED"
    assert before <= done.info.start_time <= done.info.end_time <= after + 1000
    assert done.info.run_name == "first"
    assert done.info.artifact_uri == f"mlflow-artifacts:/{run.info.experiment_id}/{run.info.run_id}/artifacts"
    tags = done.data.tags
    assert tags["mlflow.runName"] == "first"
    assert tags["mlflow.source.type"] == "LOCAL" and "mlflow.user" in tags and "mlflow.source.name" in tags
    assert done.info.user_id == tags["mlflow.user"]


def test_failed_and_killed_status_and_renaming_through_the_run_name_tag(ml: Any, client: Any) -> None:
    run = client.create_run("0", run_name="a")
    client.set_tag(run.info.run_id, "mlflow.runName", "renamed")
    client.set_terminated(run.info.run_id, status="FAILED")
    stored = client.get_run(run.info.run_id)
    assert stored.info.run_name == "renamed" and stored.info.status == "FAILED"
    assert stored.data.tags["mlflow.runName"] == "renamed"
    client.update_run(run.info.run_id, status=RunStatus.to_string(RunStatus.KILLED))
    assert client.get_run(run.info.run_id).info.status == "KILLED"


def test_metrics_keep_steps_nan_and_infinities(ml: Any, client: Any) -> None:
    with ml.start_run() as run:
        for step, value in enumerate([0.5, math.nan, math.inf, -math.inf, 0.25]):
            ml.log_metric("loss", value, step=step)
    history = client.get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in history] == [0, 1, 2, 3, 4]
    values = [m.value for m in history]
    assert values[0] == 0.5 and math.isnan(values[1]) and values[2:4] == [math.inf, -math.inf]
    assert client.get_run(run.info.run_id).data.metrics == {"loss": 0.25}


def test_metric_history_spans_page_boundaries(ml: Any, client: Any) -> None:
    run_id = client.create_run("0").info.run_id
    now = int(time.time() * 1000)
    points = 25_003  # the client pages metric history 25,000 points at a time
    for start in range(0, points, 1000):
        batch = [Metric("m", float(s), now, s) for s in range(start, min(start + 1000, points))]
        client.log_batch(run_id, metrics=batch)
    history = client.get_metric_history(run_id, "m")
    assert [m.step for m in history] == list(range(points))
    # The same pages one level down: small pages, a token on each but the last.
    store = client._tracking_client.store
    seen, token, pages = [], None, 0
    while True:
        page = store.get_metric_history(run_id, "m", max_results=10_000, page_token=token)
        seen += [m.step for m in page]
        pages += 1
        token = page.token
        if token is None:
            break
    assert pages == 3 and seen == list(range(points))


def test_log_metrics_with_2500_keys_and_log_params_with_150_are_split_by_the_client(ml: Any, client: Any) -> None:
    with ml.start_run() as run:
        ml.log_metrics({f"m{i}": float(i) for i in range(2500)}, step=3)
        ml.log_params({f"p{i}": i for i in range(150)})
    data = client.get_run(run.info.run_id).data
    assert len(data.metrics) == 2500 and data.metrics["m2499"] == 2499.0
    assert len(data.params) == 150 and data.params["p149"] == "149"


def test_a_batch_over_mlflows_limits_is_invalid_parameter_value(client: Any) -> None:
    run_id = client.create_run("0").info.run_id
    store = client._tracking_client.store
    with pytest.raises(MlflowException) as caught:
        store.log_batch(run_id, metrics=[Metric(f"m{i}", 1.0, 1, 0) for i in range(1001)], params=[], tags=[])
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"


def test_logging_a_param_again_with_another_value_is_refused(ml: Any, client: Any) -> None:
    with ml.start_run() as run:
        ml.log_param("lr", 0.1)
        ml.log_param("lr", 0.1)  # the same value again is fine
        with pytest.raises(MlflowException) as caught:
            ml.log_param("lr", 0.2)
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    assert client.get_run(run.info.run_id).data.params == {"lr": "0.1"}


def test_tags_set_and_deleted(client: Any) -> None:
    run_id = client.create_run("0").info.run_id
    client.set_tag(run_id, "team", "a")
    client.set_tag(run_id, "team", "b")
    assert client.get_run(run_id).data.tags["team"] == "b"
    client.delete_tag(run_id, "team")
    assert "team" not in client.get_run(run_id).data.tags


def _seed(ml: Any, client: Any, exp_name: str, n: int = 7) -> tuple[str, list[str]]:
    exp_id = client.create_experiment(exp_name)
    ids = []
    for i in range(n):
        run = client.create_run(exp_id, run_name=f"r{i}", start_time=1_000_000 + i)
        client.log_batch(run.info.run_id, metrics=[Metric("auc", 0.5 + i / 20, 1, 0)],
                         params=[ml.entities.Param("depth", str(i % 3))],
                         tags=[ml.entities.RunTag("team", "a" if i % 2 else "b")])
        client.set_terminated(run.info.run_id)
        ids.append(run.info.run_id)
    return exp_id, ids


def test_search_runs_with_filter_order_and_paging_to_the_last_page(ml: Any, client: Any, exp_name: str) -> None:
    exp_id, ids = _seed(ml, client, exp_name)
    found = client.search_runs([exp_id], "metrics.auc > 0.6 and params.depth != '0'", order_by=["metrics.auc DESC"])
    assert [r.info.run_id for r in found] == [ids[5], ids[4]]
    by_name = client.search_runs([exp_id], "tags.mlflow.runName = 'r3'")
    assert [r.info.run_id for r in by_name] == [ids[3]]
    assert [r.info.run_id for r in client.search_runs([exp_id], "attributes.run_name LIKE 'r%' and tags.team = 'a'",
                                                       order_by=["tags.mlflow.runName ASC"])] == ids[1::2]
    # Pages of 3 over 7 runs: 3 + 3 + 1, and the last page has no token.
    pages, token = [], None
    while True:
        page = client.search_runs([exp_id], max_results=3, order_by=["attributes.start_time ASC"], page_token=token)
        pages.append([r.info.run_id for r in page])
        token = page.token
        if not token:
            break
    assert pages == [ids[0:3], ids[3:6], ids[6:7]]
    assert len(ml.search_runs([exp_id], output_format="list")) == 7


def test_delete_and_restore_a_run(ml: Any, client: Any, exp_name: str) -> None:
    exp_id, ids = _seed(ml, client, exp_name, n=2)
    client.delete_run(ids[0])
    assert client.get_run(ids[0]).info.lifecycle_stage == "deleted"
    assert [r.info.run_id for r in client.search_runs([exp_id])] == [ids[1]]
    deleted = client.search_runs([exp_id], run_view_type=ml.entities.ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [ids[0]]
    client.restore_run(ids[0])
    assert len(client.search_runs([exp_id], run_view_type=ml.entities.ViewType.ALL)) == 2


def test_a_run_logged_by_mlflow_is_a_shipyard_run_and_the_reverse(
    ml: Any, client: Any, mlflow_server: MlflowServer, exp_name: str
) -> None:
    ml.set_experiment(exp_name)
    with ml.start_run(run_name="from-mlflow") as run:
        ml.log_param("lr", "0.1")
        ml.log_metric("loss", 0.3, step=2)
    with mlflow_server.shipyard() as sy:
        seen = sy.get_run(run.info.run_id)
        assert seen.name == "from-mlflow" and seen.params == {"lr": "0.1"} and seen.status.value == "FINISHED"
        assert seen.metrics["loss"].value == 0.3 and seen.metrics["loss"].step == 2
        native = sy.create_run(exp_name, name="from-shipyard", capture_env=False)
        sy.log_metric(native.id, "acc", 0.9, step=1)
        sy.log_param(native.id, "depth", 6)
        sy.end_run(native.id)
    other = client.get_run(native.id)
    assert other.info.run_name == "from-shipyard" and other.data.params == {"depth": "6"}
    assert other.data.metrics == {"acc": 0.9} and other.info.status == "FINISHED"
    names = {r.info.run_name for r in client.search_runs([run.info.experiment_id])}
    assert names == {"from-mlflow", "from-shipyard"}


def test_a_finished_run_still_takes_tags_and_metrics_as_on_mlflow(ml: Any, client: Any) -> None:
    with ml.start_run() as run:
        ml.log_metric("train_loss", 0.2)
    client.set_tag(run.info.run_id, "best", "yes")
    client.log_metric(run.info.run_id, "test_auc", 0.93)
    stored = client.get_run(run.info.run_id)
    assert stored.info.status == "FINISHED"
    assert stored.data.tags["best"] == "yes" and stored.data.metrics["test_auc"] == 0.93
