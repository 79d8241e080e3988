"""What the real MLflow client sees of the server's size limits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shipyard import Config
from tests.server.mlflow.conftest import mlflow, start_server


@pytest.fixture
def ml(tmp_path: Path, client_env: None) -> Iterator[Any]:
    """The ``mlflow`` module on a server whose uploads may be 1 MiB and params 100 characters at most."""
    thread, server = start_server(Config(home=tmp_path / "server", max_upload_bytes=1 << 20, max_param_length=100))
    previous = mlflow.get_tracking_uri() if mlflow.is_tracking_uri_set() else None
    mlflow.set_tracking_uri(server.uri)
    mlflow.set_experiment(experiment_id="0")
    try:
        yield mlflow
    finally:
        while mlflow.active_run():
            mlflow.end_run()
        mlflow.set_tracking_uri(previous)
        thread.stop()


def test_a_param_over_the_configured_limit_raises_invalid_parameter_value_naming_it(ml: Any) -> None:
    with ml.start_run() as run:
        with pytest.raises(ml.exceptions.MlflowException) as caught:
            ml.log_param("prompt", "p" * 101)
        ml.log_param("short", "p" * 100)
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "prompt" in caught.value.message and "100" in caught.value.message
    assert ml.get_run(run.info.run_id).data.params == {"short": "p" * 100}


def test_an_artifact_over_the_upload_limit_is_refused_with_413(ml: Any, tmp_path: Path) -> None:
    big, small = tmp_path / "weights.bin", tmp_path / "config.json"
    big.write_bytes(b"w" * (2 << 20))
    small.write_text("{}")
    with ml.start_run() as run:
        with pytest.raises(Exception, match="413") as caught:
            ml.log_artifact(str(big))
        ml.log_artifact(str(small))
    assert "limit is 1048576" in str(caught.value)
    listed = ml.MlflowClient().list_artifacts(run.info.run_id)
    assert [f.path for f in listed] == ["config.json"]
