"""The explicit client and the fluent API, in embedded and remote mode."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import shipyard
from shipyard import Client, Conflict, InvalidInput, NotFound, RunStatus


def test_fluent_run_logs_params_metrics_tags_and_artifacts(client: Client, tmp_path: Path) -> None:
    plot = tmp_path / "confusion.png"
    plot.write_bytes(b"\x89PNG fake")
    with shipyard.start_run(experiment="churn", tags={"team": "growth"}, client=client) as run:
        shipyard.log_params({"lr": 0.1, "depth": 6})
        for step in range(500):
            shipyard.log_metric("loss", 1.0 / (step + 1), step=step)
        shipyard.set_tag("stage", "dev")
        shipyard.log_artifact(plot)
    stored = client.get_run(run.id)
    assert stored.status is RunStatus.FINISHED and stored.end_time is not None
    assert stored.params == {"lr": "0.1", "depth": "6"}
    assert stored.tags == {"team": "growth", "stage": "dev"}
    assert stored.metrics["loss"].step == 499
    assert len(client.get_metric_history(run.id, "loss")) == 500
    assert [a.path for a in client.list_artifacts(run.id)] == ["confusion.png"]
    assert stored.environment and stored.environment["python"] and "packages" in stored.environment


def test_run_that_raises_is_marked_failed(client: Client) -> None:
    with pytest.raises(ZeroDivisionError), shipyard.start_run(client=client) as run:
        shipyard.log_metric("x", 1.0)
        1 / 0  # noqa: B018
    assert client.get_run(run.id).status is RunStatus.FAILED
    assert shipyard.active_run() is None


def test_nested_runs_need_nested_and_record_their_parent(client: Client) -> None:
    with shipyard.start_run(client=client) as parent:
        with pytest.raises(Conflict):
            shipyard.start_run(client=client)
        with shipyard.start_run(nested=True, client=client) as child:
            assert shipyard.active_run() is child
        assert shipyard.active_run() is parent
    assert client.get_run(child.id).parent_run_id == parent.id


def test_nan_and_infinities_survive_the_round_trip(client: Client) -> None:
    run = client.create_run("e")
    for step, value in enumerate([math.nan, math.inf, -math.inf, 1.5]):
        client.log_metric(run.id, "v", value, step=step)
    client.end_run(run.id)
    values = [m.value for m in client.get_metric_history(run.id, "v")]
    assert math.isnan(values[0]) and values[1:] == [math.inf, -math.inf, 1.5]


@pytest.mark.parametrize("key", ["bad key!", "a" * 251, "", "../up"])
def test_illegal_metric_key_is_rejected_at_the_call(client: Client, key: str) -> None:
    run = client.create_run("e")
    with pytest.raises(InvalidInput):
        client.log_metric(run.id, key, 1.0)


def test_non_numeric_metric_value_is_rejected_at_the_call(client: Client) -> None:
    run = client.create_run("e")
    with pytest.raises(InvalidInput):
        client.log_metric(run.id, "loss", "high")  # type: ignore[arg-type]


def test_relogging_a_param_with_another_value_is_a_conflict(client: Client) -> None:
    run = client.create_run("e")
    client.log_param(run.id, "lr", 0.1)
    client.log_param(run.id, "lr", 0.1)
    with pytest.raises(Conflict):
        client.log_param(run.id, "lr", 0.2)
    client.end_run(run.id)
    assert client.get_run(run.id).params == {"lr": "0.1"}


def test_param_conflict_with_a_value_stored_by_another_client_is_caught(client_config: shipyard.Config) -> None:
    first, second = Client(client_config), Client(client_config)
    run = first.create_run("e")
    first.log_param(run.id, "lr", 0.1)
    first.flush()
    with pytest.raises(Conflict):
        second.log_param(run.id, "lr", 0.2)
    first.close()
    second.close()


def test_logging_to_a_finished_run_is_a_conflict(client: Client) -> None:
    run = client.create_run("e")
    client.end_run(run.id)
    with pytest.raises(Conflict):
        client.log_metric(run.id, "loss", 1.0)
    # Also for a client that did not end it itself.
    other = Client(client.config)
    with pytest.raises(Conflict):
        other.log_metric(run.id, "loss", 1.0)
    other.close()


def test_logging_to_an_unknown_run_is_not_found(client: Client) -> None:
    with pytest.raises(NotFound):
        client.log_metric("0" * 32, "loss", 1.0)
    with pytest.raises(NotFound):
        client.get_run("0" * 32)
    with pytest.raises(NotFound):
        client.search_runs("no-such-experiment")


def test_search_runs_by_metric_and_param_with_pagination(client: Client) -> None:
    ids = []
    for depth in range(6):
        with shipyard.start_run("sweep", client=client) as run:
            shipyard.log_params({"depth": depth})
            shipyard.log_metric("auc", 0.5 + depth / 10)
        ids.append(run.id)
    page = client.search_runs("sweep", filter="metrics.auc > 0.65 and params.depth != '5'",
                              order_by=["metrics.auc DESC"], max_results=2)
    assert [r.id for r in page] == [ids[4], ids[3]]
    rest = client.search_runs("sweep", filter="metrics.auc > 0.65 and params.depth != '5'",
                              order_by=["metrics.auc DESC"], max_results=2, page_token=page.next_page_token)
    assert [r.id for r in rest] == [ids[2]] and rest.next_page_token is None
    with pytest.raises(InvalidInput):
        client.search_runs("sweep", filter="metrics.auc >")


def test_metric_history_downsamples_long_curves(client: Client) -> None:
    run = client.create_run("e")
    for step in range(10_000):
        client.log_metric(run.id, "loss", float(step), step=step)
    client.end_run(run.id)
    points = client.get_metric_history(run.id, "loss", max_points=200)
    assert 100 <= len(points) <= 201 and points[0].step == 0 and points[-1].step == 9999


def test_compare_runs_lines_up_params_and_final_metrics(client: Client) -> None:
    a = client.create_run("e")
    b = client.create_run("e")
    client.log_batch(a.id, metrics={"auc": 0.8}, params={"depth": 3})
    client.log_batch(b.id, metrics={"auc": 0.9}, params={"depth": 5, "lr": 0.1})
    comparison = client.compare_runs([a.id, b.id])
    assert comparison.params == {"depth": ["3", "5"], "lr": [None, "0.1"]}
    assert comparison.metrics == {"auc": [0.8, 0.9]}
    assert comparison.differing_params == ["depth", "lr"]


def test_artifact_folders_round_trip_with_layout(client: Client, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub" / "deeper").mkdir(parents=True)
    (src / "a.txt").write_text("a")
    (src / "sub" / "b.bin").write_bytes(bytes(range(256)) * 100)
    (src / "sub" / "deeper" / "c.json").write_text("{}")
    run = client.create_run("e")
    client.log_artifacts(run.id, src, artifact_path="bundle")
    listed = [a.path for a in client.list_artifacts(run.id, "bundle/sub")]
    assert listed == ["bundle/sub/b.bin", "bundle/sub/deeper/c.json"]
    out = client.download_artifacts(run.id, "bundle", tmp_path / "out")
    assert (out / "sub" / "b.bin").read_bytes() == (src / "sub" / "b.bin").read_bytes()
    assert (out / "sub" / "deeper" / "c.json").read_text() == "{}"


def test_two_clients_side_by_side_do_not_share_active_runs(tmp_path: Path) -> None:
    one = Client(home=tmp_path / "one")
    two = Client(home=tmp_path / "two")
    with shipyard.start_run("e", client=one) as r1:
        shipyard.log_metric("x", 1.0)
    with shipyard.start_run("e", client=two) as r2:
        shipyard.log_metric("x", 2.0)
    assert one.get_run(r1.id).metrics["x"].value == 1.0
    assert two.get_run(r2.id).metrics["x"].value == 2.0
    with pytest.raises(NotFound):
        one.get_run(r2.id)
    one.close()
    two.close()
