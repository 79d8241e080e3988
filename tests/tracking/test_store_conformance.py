"""Every tracking backend passes the same conformance suite."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.config import Config
from shipyard.remote import RemoteTrackingStore
from shipyard.store import Database
from shipyard.store.artifacts import FsspecArtifactStore, open_artifact_store
from shipyard.testing.tracking import TrackingStoreConformance
from shipyard.tracking import RunStatus, TrackingStore
from shipyard.tracking._sql_store import SqlTrackingStore
from tests.services import running_server


def _s3_artifacts(endpoint: str) -> FsspecArtifactStore:
    import boto3

    bucket = f"shipyard-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing-secret",
                 region_name="us-east-1").create_bucket(Bucket=bucket)
    return FsspecArtifactStore.s3(f"s3://{bucket}/runs", endpoint_url=endpoint, storage_options={
        "key": "testing", "secret": "testing-secret", "client_kwargs": {"region_name": "us-east-1"}})


@pytest.fixture(params=["sqlite", "postgres", "remote", "postgres+s3"])
def tracking_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TrackingStore]:
    if request.param == "remote":
        config = Config(home=tmp_path / "server", db=request.getfixturevalue("sqlite_url"))
        with running_server(config) as server:
            store = RemoteTrackingStore(server.url)
            yield store
            store.close()
        return
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    db = Database(url)
    db.ensure_schema()
    if request.param == "postgres+s3":  # the scale-out stack: PostgreSQL metadata, S3 artifacts
        artifacts = _s3_artifacts(request.getfixturevalue("s3_server"))
    else:
        artifacts = open_artifact_store(str(tmp_path / "artifacts"))
    store = SqlTrackingStore(db, artifacts)
    yield store
    store.close()
    db.dispose()  # the store leaves the database to whoever opened it


class TestTrackingStore(TrackingStoreConformance):
    def test_update_run_records_the_environment_captured_after_creation(self, tracking_store: TrackingStore) -> None:
        run = tracking_store.create_run("0")
        assert tracking_store.get_run(run.id).environment is None
        environment = {"python": "3.11.7", "packages": {"numpy": "2.1.0"}, "git": None}
        updated = tracking_store.update_run(run.id, environment=environment)
        assert updated.environment == environment and updated.status is RunStatus.RUNNING
        assert tracking_store.get_run(run.id).environment == environment
