"""A pipeline run is a tracked run with a child run per step; lineage links datasets in, models out."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from shipyard import Client
from shipyard.pipelines import LocalExecutor, pipeline, step
from shipyard.pipelines.records import list_pipelines, load_run, step_logs
from shipyard.types import Node
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
