"""A shorter pass of the mlflow client against shipyard server on PostgreSQL."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LogisticRegression

from shipyard import Config
from tests.server.mlflow.conftest import MlflowServer, mlflow, start_server

pytestmark = pytest.mark.filterwarnings("ignore:.*type hint is inferred as AnyType.*:UserWarning")


@pytest.fixture
def pg_ml(pg_url: str, tmp_path: Path, client_env: None) -> Iterator[tuple[Any, MlflowServer]]:
    thread, server = start_server(Config(home=tmp_path / "home", db=pg_url))
    mlflow.set_tracking_uri(server.uri)
    mlflow.set_experiment(experiment_id="0")
    try:
        yield mlflow, server
    finally:
        while mlflow.active_run():
            mlflow.end_run()
        mlflow.set_tracking_uri(None)
        thread.stop()


def test_tracking_search_artifacts_and_registry_on_postgres(pg_ml: tuple[Any, MlflowServer], tmp_path: Path) -> None:
    ml, server = pg_ml
    client = ml.MlflowClient(server.uri)
    name = f"pg-{uuid.uuid4().hex[:8]}"
    ml.set_experiment(name)
    with pytest.raises(MlflowException) as caught:
        client.create_experiment(name)
    assert caught.value.error_code == "RESOURCE_ALREADY_EXISTS"
    x = np.random.default_rng(1).normal(size=(40, 3))
    y = (x[:, 0] > 0).astype(int)
    estimator = LogisticRegression().fit(x, y)
    ids = []
    for i in range(3):
        with ml.start_run(run_name=f"r{i}") as run:
            ml.log_params({"i": i, "lr": 0.1})
            ml.log_metric("loss", math.nan, step=0)
            ml.log_metric("loss", 1.0 / (i + 1), step=1)
            ml.log_text("hello", "notes/a.txt")
            if i == 2:
                info = ml.sklearn.log_model(estimator, name="model", pip_requirements=["scikit-learn"])
        ids.append(run.info.run_id)
    with pytest.raises(MlflowException):
        client.log_param(ids[0], "lr", 0.2)
    found = client.search_runs([run.info.experiment_id], "metrics.loss < 0.9", order_by=["metrics.loss ASC"],
                               max_results=1)
    assert [r.info.run_id for r in found] == [ids[2]] and found.token
    rest = client.search_runs([run.info.experiment_id], "metrics.loss < 0.9", order_by=["metrics.loss ASC"],
                              page_token=found.token)
    assert [r.info.run_id for r in rest] == [ids[1]]
    history = client.get_metric_history(ids[0], "loss")
    assert math.isnan(history[0].value) and history[1].value == 1.0
    assert [f.path for f in client.list_artifacts(ids[0], "notes")] == ["notes/a.txt"]
    version = ml.register_model(info.model_uri, name)
    client.set_registered_model_alias(name, "prod", version.version)
    loaded = ml.pyfunc.load_model(f"models:/{name}@prod")
    assert (loaded.predict(x[:5]) == estimator.predict(x[:5])).all()
    with server.shipyard() as sy:
        assert (sy.load_model(f"models:/{name}@prod").predict(x[:5]) == estimator.predict(x[:5])).all()
