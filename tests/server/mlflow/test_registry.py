"""Models logged and registered through the mlflow client, served back by both clients."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LogisticRegression

from tests.server.mlflow.conftest import MlflowServer

# MLflow's pyfunc wrapper warns that it cannot check inputs of an untyped predict.
pytestmark = pytest.mark.filterwarnings("ignore:.*type hint is inferred as AnyType.*:UserWarning")
# Given requirements, log_model skips inferring them in a subprocess (tens of seconds).
REQS = {"pip_requirements": ["scikit-learn"]}


@pytest.fixture
def fitted() -> tuple[LogisticRegression, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    return LogisticRegression().fit(x, y), x


@pytest.fixture
def model_name(exp_name: str) -> str:
    return exp_name.replace("exp", "model")


def test_log_model_registers_twice_as_versions_1_and_2_and_loads_by_alias(
    ml: Any, client: Any, fitted: tuple[LogisticRegression, np.ndarray], model_name: str, scratch: Path
) -> None:
    estimator, x = fitted
    with ml.start_run() as run:
        info = ml.sklearn.log_model(estimator, name="model", input_example=x[:3], **REQS)
    assert info.model_id.startswith("m-")
    v1 = ml.register_model(info.model_uri, model_name)
    v2 = ml.register_model(f"runs:/{run.info.run_id}/model", model_name)
    assert (v1.version, v2.version) == ("1", "2")
    assert v1.status == "READY" and v1.source == info.model_uri and v1.run_id == run.info.run_id
    client.set_registered_model_alias(model_name, "champion", "2")
    assert client.get_model_version_by_alias(model_name, "champion").version == "2"
    assert client.get_registered_model(model_name).aliases == {"champion": "2"}
    assert client.get_model_version(model_name, "2").aliases == ["champion"]

    downloaded = Path(ml.artifacts.download_artifacts(f"models:/{model_name}@champion", dst_path=str(scratch)))
    assert (downloaded / "MLmodel").is_file()
    loaded = ml.pyfunc.load_model(f"models:/{model_name}@champion")
    assert (loaded.predict(x[:10]) == estimator.predict(x[:10])).all()

    client.delete_registered_model_alias(model_name, "champion")
    with pytest.raises(MlflowException) as caught:
        client.get_model_version_by_alias(model_name, "champion")
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_the_logged_model_is_searchable_and_tagged_with_its_versions(
    ml: Any, client: Any, fitted: tuple[LogisticRegression, np.ndarray], model_name: str, exp_name: str
) -> None:
    estimator, _ = fitted
    exp = ml.set_experiment(exp_name)
    with ml.start_run() as run:
        info = ml.sklearn.log_model(estimator, name="clf", serialization_format="cloudpickle", **REQS)
    ml.register_model(info.model_uri, model_name)
    model = client.get_logged_model(info.model_id)
    assert model.status.to_int() == ml.entities.LoggedModelStatus.READY.to_int()
    assert model.source_run_id == run.info.run_id and model.name == "clf"
    assert model_name in model.tags["mlflow.modelVersions"]
    found = client.search_logged_models([exp.experiment_id], filter_string="name = 'clf'")
    assert [m.model_id for m in found] == [info.model_id]
    assert [o.model_id for o in client.get_run(run.info.run_id).outputs.model_outputs] == [info.model_id]


def test_a_model_logged_outside_a_run_registers_and_stays_out_of_run_searches(
    ml: Any, client: Any, fitted: tuple[LogisticRegression, np.ndarray], model_name: str, exp_name: str
) -> None:
    estimator, x = fitted
    exp = ml.set_experiment(exp_name)
    info = ml.sklearn.log_model(estimator, name="loose", registered_model_name=model_name, **REQS)
    assert str(info.registered_model_version) == "1"
    assert client.search_runs([exp.experiment_id]) == []
    loaded = ml.pyfunc.load_model(f"models:/{model_name}/1")
    assert (loaded.predict(x[:5]) == estimator.predict(x[:5])).all()


def test_shipyard_loads_and_sees_what_mlflow_registered(
    ml: Any, client: Any, fitted: tuple[LogisticRegression, np.ndarray], model_name: str,
    mlflow_server: MlflowServer,
) -> None:
    estimator, x = fitted
    with ml.start_run() as run:
        ml.log_metric("auc", 0.91)
        info = ml.sklearn.log_model(estimator, name="model", registered_model_name=model_name, **REQS)
    client.set_registered_model_alias(model_name, "production", str(info.registered_model_version))
    with mlflow_server.shipyard() as sy:
        version = sy.resolve_model(f"models:/{model_name}@production")
        assert version.run_id == run.info.run_id and version.flavor == "mlflow"
        assert version.metrics == {"auc": 0.91}
        model = sy.load_model(f"models:/{model_name}@production")
        assert model.flavor == "sklearn" and (model.predict(x[:20]) == estimator.predict(x[:20])).all()
        assert np.allclose(model.predict_proba(x[:5]), estimator.predict_proba(x[:5]))
        assert (sy.load_model(f"runs:/{run.info.run_id}/model").predict(x[:3]) == estimator.predict(x[:3])).all()
        assert [e.action for e in sy.model_history(model_name)] == ["create_model", "register", "set_alias"]


def test_registered_model_and_version_crud_and_search(
    ml: Any, client: Any, fitted: tuple[LogisticRegression, np.ndarray], model_name: str
) -> None:
    estimator, _ = fitted
    with ml.start_run() as run:
        ml.sklearn.log_model(estimator, name="model", **REQS)
    client.create_registered_model(model_name, tags={"team": "growth"}, description="first")
    with pytest.raises(MlflowException) as caught:
        client.create_registered_model(model_name)
    assert caught.value.error_code == "RESOURCE_ALREADY_EXISTS"
    mv = client.create_model_version(model_name, f"runs:/{run.info.run_id}/model", run.info.run_id,
                                     tags={"stage": "candidate"})
    assert mv.version == "1" and mv.tags == {"stage": "candidate"}
    client.update_registered_model(model_name, description="second")
    client.update_model_version(model_name, "1", description="v1")
    client.set_model_version_tag(model_name, "1", "checked", "yes")
    got = client.get_registered_model(model_name)
    assert got.description == "second" and got.tags == {"team": "growth"}
    assert [v.version for v in got.latest_versions] == ["1"]
    assert [m.name for m in client.search_registered_models(f"name = '{model_name}'")] == [model_name]
    assert [m.name for m in client.search_registered_models("tags.team = 'growth'") if m.name == model_name]
    versions = client.search_model_versions(f"name = '{model_name}'")
    assert [(v.version, v.description, v.tags["checked"]) for v in versions] == [("1", "v1", "yes")]
    assert client.search_model_versions(f"run_id = '{run.info.run_id}'")[0].name == model_name
    uri = client.get_model_version_download_uri(model_name, "1")
    assert uri == f"mlflow-artifacts:/registered-models/{model_name}/1"
    with pytest.warns(FutureWarning, match="deprecated"):  # stages: deprecated, still served
        assert [v.version for v in client.get_latest_versions(model_name)] == ["1"]
    client.delete_model_version(model_name, "1")
    assert client.search_model_versions(f"name = '{model_name}'") == []
    client.delete_registered_model(model_name)
    with pytest.raises(MlflowException) as caught:
        client.get_registered_model(model_name)
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_a_source_outside_shipyard_is_refused(client: Any, model_name: str) -> None:
    client.create_registered_model(model_name)
    with pytest.raises(MlflowException) as caught:
        client.create_model_version(model_name, "s3://bucket/model")
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"


def test_shipyard_serve_serves_a_model_registered_through_mlflow(
    ml: Any, client: Any, fitted: tuple[LogisticRegression, np.ndarray], model_name: str,
    mlflow_server: MlflowServer,
) -> None:
    import httpx

    from shipyard.serving import ServeConfig, create_app
    from tests.services import ServerThread

    estimator, x = fitted
    with ml.start_run():
        info = ml.sklearn.log_model(estimator, name="model", registered_model_name=model_name, input_example=x[:2],
                                    **REQS)
    client.set_registered_model_alias(model_name, "production", str(info.registered_model_version))
    with mlflow_server.shipyard() as sy:
        config = ServeConfig.for_uri(f"models:/{model_name}@production").with_(gc_freeze=False, access_log=False)
        server = ServerThread(create_app(config, sy)).start()
        try:
            r = httpx.post(f"{server.url}/invocations", json={"inputs": x[:4].tolist()}, timeout=30)
        finally:
            server.stop()
    assert r.status_code == 200, r.text
    assert r.json()["predictions"] == estimator.predict(x[:4]).tolist()
