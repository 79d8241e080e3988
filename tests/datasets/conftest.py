"""Fixtures: a client in every mode the issue asks for, over local disk and the S3 API.

Modes: embedded on SQLite or PostgreSQL, or remote through a real server; the
artifact store on local disk or on a moto S3 server. S3 credentials are fake and
set with monkeypatch (botocore reads them from the environment), so nothing leaks
between tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from shipyard import Client, Config
from shipyard.datasets import DatasetStore
from shipyard.tracking import TrackingStore
from tests.services import running_server

MODES = ["sqlite-disk", "postgres-disk", "remote-disk", "sqlite-s3", "remote-s3"]


@pytest.fixture
def s3_env(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket on the moto server; returns ``s3://bucket/prefix``."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bucket = f"ds-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1").create_bucket(Bucket=bucket)
    return f"s3://{bucket}/artifacts"


def _config(request: pytest.FixtureRequest, mode: str, tmp_path: Path, home: str) -> Config:
    db, store = mode.split("-")
    extra: dict[str, object] = {}
    if store == "s3":
        extra = {"artifacts": request.getfixturevalue("s3_env"),
                 "s3_endpoint_url": request.getfixturevalue("s3_server")}
    url = request.getfixturevalue("pg_url") if db == "postgres" else f"sqlite:///{tmp_path / home / 'meta.db'}"
    return Config(home=tmp_path / home, db=url, flush_interval=0.2, **extra)  # type: ignore[arg-type]


@pytest.fixture(params=MODES)
def ds_config(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Config]:
    """A client configuration in each mode (remote ones keep their server up for the test)."""
    mode: str = request.param
    if mode.startswith("remote"):
        server_config = _config(request, mode.replace("remote", "sqlite"), tmp_path, "server")
        with running_server(server_config) as server:
            yield Config(home=tmp_path / "client", url=server.url, flush_interval=0.2,
                         s3_endpoint_url=server_config.s3_endpoint_url)
        return
    yield _config(request, mode, tmp_path, "home")


@pytest.fixture
def ds_client(ds_config: Config) -> Iterator[Client]:
    client = Client(ds_config)
    yield client
    client.close()


@pytest.fixture
def stores(ds_client: Client) -> tuple[TrackingStore, DatasetStore]:
    return ds_client.tracking_store, ds_client.dataset_store
