"""Artifacts through MLflow's proxy (``mlflow-artifacts:/``) into Shipyard's artifact store."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import requests
from mlflow.store.artifact.mlflow_artifacts_repo import MlflowArtifactsRepository

from tests.server.mlflow.conftest import MlflowServer


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_nested_folders_round_trip_and_a_sub_path_lists_its_children(ml: Any, client: Any, scratch: Path) -> None:
    src = scratch / "src"
    (src / "a" / "b").mkdir(parents=True)
    (src / "top.txt").write_text("top")
    (src / "a" / "one.txt").write_text("one")
    (src / "a" / "b" / "two.json").write_text('{"x": 2}')
    with ml.start_run() as run:
        ml.log_artifacts(str(src), "bundle")
        ml.log_text("note", "notes/readme.md")
    run_id = run.info.run_id
    assert [(f.path, f.is_dir) for f in client.list_artifacts(run_id)] == [("bundle", True), ("notes", True)]
    listed = client.list_artifacts(run_id, "bundle/a")
    assert [(f.path, f.is_dir, f.file_size) for f in listed] == [
        ("bundle/a/b", True, None), ("bundle/a/one.txt", False, 3)]
    out = Path(client.download_artifacts(run_id, "bundle", str(scratch / "out")))
    assert (out / "a" / "b" / "two.json").read_text() == '{"x": 2}' and (out / "top.txt").read_text() == "top"
    assert ml.artifacts.load_text(f"runs:/{run_id}/notes/readme.md") == "note"


def test_a_5_mb_binary_round_trips_byte_for_byte(ml: Any, client: Any, scratch: Path) -> None:
    blob = scratch / "weights.bin"
    blob.write_bytes(os.urandom(5 * 1024 * 1024))
    with ml.start_run() as run:
        ml.log_artifact(str(blob), "model")
    got = Path(client.download_artifacts(run.info.run_id, "model/weights.bin", str(scratch / "dl")))
    assert _sha256(got) == _sha256(blob)
    [info] = client.list_artifacts(run.info.run_id, "model")
    assert info.file_size == 5 * 1024 * 1024


def test_artifacts_written_by_mlflow_are_the_runs_shipyard_artifacts(
    ml: Any, mlflow_server: MlflowServer, scratch: Path
) -> None:
    with ml.start_run() as run:
        ml.log_text("hello", "d/x.txt")
    with mlflow_server.shipyard() as sy:
        [info] = sy.list_artifacts(run.info.run_id)
        assert info.path == "d/x.txt" and info.digest == hashlib.sha256(b"hello").hexdigest()
        sy.log_bytes(run.info.run_id, b"from shipyard", "d/y.txt")
    assert ml.artifacts.load_text(f"runs:/{run.info.run_id}/d/y.txt") == "from shipyard"


def test_deleting_a_folder_removes_everything_under_it(ml: Any, client: Any) -> None:
    with ml.start_run() as run:
        ml.log_text("1", "keep/a.txt")
        ml.log_text("2", "drop/b.txt")
        ml.log_text("3", "drop/c/d.txt")
    repo = MlflowArtifactsRepository(run.info.artifact_uri)
    repo.delete_artifacts("drop")
    repo.delete_artifacts("drop")  # already gone: not an error, as on MLflow's server
    assert [f.path for f in client.list_artifacts(run.info.run_id)] == ["keep"]


def test_listing_a_missing_folder_is_empty_and_a_missing_file_is_404(client: Any, mlflow_server: MlflowServer) -> None:
    run = client.create_run("0")
    assert client.list_artifacts(run.info.run_id, "nothing/here") == []
    root = f"{mlflow_server.uri}/api/2.0/mlflow-artifacts/artifacts"
    resp = requests.get(f"{root}/0/{run.info.run_id}/artifacts/nothing.txt", timeout=10)
    assert resp.status_code == 404 and resp.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    escape = requests.put(f"{root}/0/{run.info.run_id}/artifacts/a/%2E%2E/%2E%2E/x", data=b"x", timeout=10)
    assert escape.status_code == 400 and escape.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_server_info_says_multipart_is_not_enabled(mlflow_server: MlflowServer) -> None:
    info = requests.get(f"{mlflow_server.uri}/api/3.0/mlflow/server-info", timeout=10).json()
    assert info["multipart_uploads_enabled"] is False and info["multipart_downloads_enabled"] is False
