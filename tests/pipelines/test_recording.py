"""A pipeline run is a tracked run with a child run per step; lineage links datasets in, models out."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard import Client
from shipyard.errors import NotFound
from shipyard.lineage import Node
from shipyard.pipelines import LocalExecutor, pipeline, step
from shipyard.pipelines._records import list_pipelines, load_run, step_logs
from tests.pipelines import steps


@step
def fit(n: int) -> object:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    return LogisticRegression().fit(rng.normal(size=(n, 2)), np.arange(n) % 2)


@step(register_model="pipeline-model")
def fit_and_register(n: int) -> object:
    return fit.fn(n)


@step
def score(model: object, n: int) -> float:
    rng = np.random.default_rng(1)
    return float(model.score(rng.normal(size=(n, 2)), np.arange(n) % 2))  # type: ignore[attr-defined]


@step
def rows(data: object) -> int:
    return len(data.to_pandas())  # type: ignore[attr-defined]


def test_each_executed_step_is_a_child_run_with_params_metrics_logs_and_output(client: Client) -> None:
    @pipeline
    def contextual(x: int = 3):
        return steps.with_context(x)

    result = contextual.run(client=client, executor="inline")
    parent = client.get_run(result.run_id)  # type: ignore[arg-type]
    assert parent.status.value == "FINISHED" and parent.params == {"x": "3"}
    assert parent.tags["shipyard.kind"] == "pipeline"
    assert json.loads(parent.tags["shipyard.pipeline.params"]) == {"x": 3}
    child = client.get_run(result.steps["with_context"].run_id)  # type: ignore[arg-type]
    assert child.parent_run_id == parent.id and child.status.value == "FINISHED"
    assert child.params == {"x": "3", "step.note": "ok"}
    assert child.metrics["x_squared"].value == 9 and child.metrics["duration_s"].value >= 0
    assert {a.path for a in client.list_artifacts(child.id)} == {"logs.txt", "outputs/with_context.json"}
    assert "hello from step, x=3" in step_logs(client, parent.id)["with_context"]
    assert [s.state for s in load_run(client, parent.id).steps] == ["done"]
    assert [p.name for p in list_pipelines(client)] == ["contextual"]


def test_a_cached_step_points_at_the_run_that_computed_it(client: Client) -> None:
    first = steps.frames.run(client=client, executor="inline")
    second = steps.frames.run(client=client, executor="inline")
    record = load_run(client, second.run_id)  # type: ignore[arg-type]
    assert [s.state for s in record.steps] == ["cached"] * 4
    assert [s.cached_from for s in record.steps] == [first.steps[s.node].run_id for s in record.steps]
    children = client.search_runs("frames", filter=f"tags.`shipyard.pipeline_run` = '{second.run_id}'")
    assert children.items == []  # nothing ran, so no step run


def test_a_model_output_is_a_loadable_package_and_can_be_registered_with_lineage(client: Client) -> None:
    @pipeline
    def train(n: int = 40):
        model = fit_and_register(n)
        return score(model, n)

    result = train.run(client=client, executor="inline")
    assert 0 <= result.output <= 1
    run_id = result.steps["fit_and_register"].run_id
    child = client.get_run(run_id)  # type: ignore[arg-type]
    assert child.tags["shipyard.model_uri"] == f"runs:/{run_id}/outputs/fit_and_register"
    assert child.tags["shipyard.registered_model"] == "pipeline-model/1"
    model = client.load_model("models:/pipeline-model/1")
    assert model.predict(np.zeros((1, 2))).shape == (1,)
    graph = client.lineage("models:/pipeline-model/1")
    assert any(e.src == Node("run", run_id) for e in graph.upstream)  # type: ignore[arg-type]


def test_a_dataset_read_by_a_step_is_recorded_as_its_input(client: Client, local: LocalExecutor) -> None:
    version = client.register_dataset("churn", pd.DataFrame({"a": [1, 2, 3]}))

    @pipeline
    def uses_data(data: object = None):
        return rows(data)

    # On a worker process the handle is re-opened from its reference with the run's configuration.
    result = uses_data.run({"data": client.get_dataset("churn@latest")}, client=client, executor=local)
    assert result.output == 3
    run_id = result.steps["rows"].run_id
    graph = client.dataset_lineage(f"churn@{version.version}")
    assert Node("run", run_id) in graph.nodes  # type: ignore[arg-type]
    assert Node("run", result.run_id) in graph.nodes  # type: ignore[arg-type]  # the pipeline run read it too


@step
def bump(x: int) -> int:
    return x + 1


def test_steps_finishing_in_quick_succession_are_written_in_one_transaction(client: Client) -> None:
    @pipeline
    def long_chain(x: int = 0):
        for _ in range(40):
            x = bump(x)
        return x

    store = client.tracking_store
    calls: list[int] = []
    write = store.record_runs

    def counting(records):  # type: ignore[no-untyped-def]
        calls.append(len(records))
        return write(records)

    store.record_runs = counting  # type: ignore[method-assign]
    result = long_chain.run(client=client, executor="inline")
    assert result.output == 40
    # One call creates the pipeline's run; the 40 step runs and the run's end follow in a
    # batch or two (a pause of the whole process may split one), never one call per step.
    assert calls[0] == 1 and 2 <= len(calls) <= 4 and sum(calls[1:]) >= 41
    children = client.search_runs("long_chain", filter=f"tags.`shipyard.pipeline_run` = '{result.run_id}'")
    assert len(children.items) == 40 and {r.status.value for r in children.items} == {"FINISHED"}
    assert all(r.metrics["duration_s"].value >= 0 for r in children.items)
    run = client.get_run(result.run_id)  # type: ignore[arg-type]
    assert run.status.value == "FINISHED" and run.end_time is not None
    assert len([k for k in run.tags if k.startswith("shipyard.step.")]) == 40


def test_a_step_still_running_is_recorded_running_then_completed(client: Client) -> None:
    import threading

    @pipeline
    def slow(seconds: float = 3.0):
        return steps.sleep_for(seconds, bump(1))

    done: list[object] = []
    runner = threading.Thread(target=lambda: done.append(slow.run(client=client, executor="inline")))
    runner.start()
    try:
        running = []
        deadline = time.monotonic() + 20
        while not running and runner.is_alive() and time.monotonic() < deadline:
            with contextlib.suppress(NotFound):  # the experiment is made when the run starts
                running = [r for r in client.search_runs("slow", filter="tags.`shipyard.step` = 'sleep_for'").items
                           if r.status.value == "RUNNING"]
            time.sleep(0.05)
        assert running, "the running step's run never appeared"
        assert client.get_run(running[0].parent_run_id).status.value == "RUNNING"  # type: ignore[arg-type]
    finally:
        runner.join()
    result = done[0]
    assert result.steps["sleep_for"].run_id == running[0].id  # type: ignore[attr-defined]
    child = client.get_run(running[0].id)
    assert child.status.value == "FINISHED" and child.start_time == running[0].start_time
    assert child.params == {"seconds": "3.0"} and "outputs/sleep_for.json" in {
        a.path for a in client.list_artifacts(child.id)}


def test_through_a_server_the_outputs_travel_as_bytes(tmp_path: Path) -> None:
    from shipyard import Config
    from tests.services import running_server

    with running_server(Config(home=tmp_path / "server")) as server, \
            Client(Config(home=tmp_path / "client", url=server.url)) as remote:
        result = steps.frames.run({"n": 4}, client=remote, executor="inline")
        run_id = result.steps["column_sum"].run_id
        [info] = remote.list_artifacts(run_id, "outputs")  # type: ignore[arg-type]
        assert info.path == "outputs/column_sum.json"
        assert b"".join(remote.tracking_store.open_artifact(run_id, info.path)) == b"6.0"  # type: ignore[arg-type]
        assert remote.get_run(result.run_id).status.value == "FINISHED"  # type: ignore[arg-type]


def test_without_a_client_the_configured_default_client_records_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shipyard
    from shipyard import Config

    monkeypatch.setenv("SHIPYARD_HOME", str(tmp_path / "configured"))
    shipyard.set_client(None)
    plain = shipyard.pipeline(lambda x=2: steps.total([x, x]), name="plain")  # the fluent default client
    try:
        result = plain.run(executor="inline")
        assert result.output == 4 and result.run_id is not None
        assert shipyard.get_client().config.home == tmp_path / "configured"
    finally:
        shipyard.get_client().close()
        shipyard.set_client(None)
    with Client(Config(home=tmp_path / "configured")) as reader:
        assert reader.get_run(result.run_id).status.value == "FINISHED"
    # Given an artifact store and no client, a run stays untracked.
    untracked = plain.run(executor="inline", artifacts=str(tmp_path / "loose"))
    assert untracked.run_id is None and untracked.output == 4


def test_a_pipeline_with_no_client_nor_artifact_store_says_so_before_running() -> None:
    from shipyard.errors import InvalidInput
    from shipyard.pipelines import Pipeline

    bare = Pipeline(lambda x=2: steps.total([x, x]), name="bare")  # no client_factory: nothing to record with
    with pytest.raises(InvalidInput, match="no client to record its run") as refused:
        bare.run(executor="inline")
    assert refused.value.field == "client"


@pytest.mark.parametrize("limit", [50, 9000])
def test_long_step_params_are_cut_to_the_clients_param_limit(tmp_path: Path, limit: int) -> None:
    from shipyard import Config

    @pipeline
    def long_params(x: str = "y" * 8000):
        return steps.with_context(len(x))

    with Client(Config(home=tmp_path / "home", max_param_length=limit)) as client:
        result = long_params.run(client=client, executor="inline")
        parent = client.get_run(result.run_id)  # type: ignore[arg-type]
        assert parent.status.value == "FINISHED"
        assert len(parent.params["x"]) == min(limit, 8000)
        assert parent.params["x"].endswith("..." if limit < 8000 else "y")
        # Their JSON is longer than the tag limit (8,000): the run finishes but cannot be resumed.
        with pytest.raises(NotFound, match="cannot be resumed: its parameters were not recorded"):
            long_params.run(client=client, executor="inline", resume=result.run_id)
