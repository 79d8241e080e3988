"""``shipyard gc``, run as a real subprocess on SQLite and PostgreSQL, local disk and S3 (moto)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from shipyard.errors import NotFound
from shipyard.store import Database
from shipyard.store.artifacts import FsspecArtifactStore
from shipyard.tracking._sql_store import SqlTrackingStore
from tests.cli.test_cli import run_cli

_KEY, _SECRET = "testing", "testing-secret"
_AWS_ENV = {"AWS_ACCESS_KEY_ID": _KEY, "AWS_SECRET_ACCESS_KEY": _SECRET, "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass
class Home:
    """A configured home (``env`` for the command) and the stores it names, opened here."""

    path: Path
    env: dict[str, str]
    artifacts: FsspecArtifactStore
    tracking: SqlTrackingStore

    def gc(self, *args: str) -> tuple[int, str, str]:
        done = run_cli(self.path, "gc", *args, **self.env)
        return done.returncode, done.stdout, done.stderr

    def deleted_run_with(self, data: bytes) -> str:
        run = self.tracking.create_run("0")
        self.tracking.log_artifact(run.id, "model.bin", io.BytesIO(data))
        self.tracking.update_run(run.id, lifecycle_stage="deleted")
        return run.id

    def age_blobs(self) -> None:
        if self.artifacts.uri.startswith("s3://"):
            time.sleep(1.1)  # S3 keeps whole seconds
            return
        old = time.time() - 3600
        for folder, _, files in os.walk(Path(self.artifacts.root, "objects")):
            for name in files:
                os.utime(Path(folder, name), (old, old))


@pytest.fixture(scope="module")
def s3_bucket(s3_server: str) -> str:
    name = f"shipyard-gc-cli-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_server, aws_access_key_id=_KEY, aws_secret_access_key=_SECRET,
                 region_name="us-east-1").create_bucket(Bucket=name)
    return name


@pytest.fixture(params=["local", "s3"])
def home(request: pytest.FixtureRequest, db_url: str, tmp_path: Path) -> Iterator[Home]:
    env = {"SHIPYARD_DB": db_url}
    if request.param == "local":
        artifacts = FsspecArtifactStore.local(tmp_path / "artifacts")
        env["SHIPYARD_ARTIFACTS"] = artifacts.root
    else:
        endpoint = request.getfixturevalue("s3_server")
        uri = f"s3://{request.getfixturevalue('s3_bucket')}/{uuid.uuid4().hex}"
        artifacts = FsspecArtifactStore.s3(uri, endpoint_url=endpoint, storage_options={
            "key": _KEY, "secret": _SECRET, "client_kwargs": {"region_name": "us-east-1"}})
        env |= {"SHIPYARD_ARTIFACTS": uri, "SHIPYARD_S3_ENDPOINT_URL": endpoint, **_AWS_ENV}
    db = Database(db_url)
    db.ensure_schema()
    yield Home(tmp_path, env, artifacts, SqlTrackingStore(db, artifacts))
    db.dispose()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_gc_purges_a_deleted_run_and_removes_its_blob(home: Home) -> None:
    run_id = home.deleted_run_with(b"weights of a deleted run")
    home.age_blobs()

    status, out, err = home.gc("--older-than", "0s", "--grace", "0s")

    assert status == 0, err
    assert "purged 1 run; removed 1 blob, freed 24 B" in out
    with pytest.raises(NotFound):
        home.tracking.get_run(run_id)
    assert not home.artifacts.exists(digest(b"weights of a deleted run"))


def test_gc_keeps_a_run_deleted_more_recently_than_the_default_retention(home: Home) -> None:
    run_id = home.deleted_run_with(b"deleted today")
    home.age_blobs()

    status, out, err = home.gc("--grace", "0s")

    assert status == 0, err
    assert "purged 0 runs; removed 0 blobs" in out
    assert home.tracking.get_run(run_id).lifecycle_stage == "deleted"
    assert home.artifacts.exists(digest(b"deleted today"))


def test_dry_run_lists_what_would_go_and_removes_nothing(home: Home) -> None:
    run_id = home.deleted_run_with(b"would be removed")
    home.age_blobs()

    status, out, err = home.gc("--dry-run", "--older-than", "0s", "--grace", "0s")
    assert status == 0, err
    assert run_id in out and digest(b"would be removed") in out
    assert "would purge 1 run; would remove 1 blob" in out
    status, out, err = home.gc("--dry-run", "--older-than", "0s", "--grace", "0s", "--json")
    assert status == 0, err
    assert json.loads(out) == {"dry_run": True, "runs": [run_id],
                               "blobs": [{"digest": digest(b"would be removed"), "size": 16}],
                               "bytes_freed": 16, "kept_young": 0}

    assert home.tracking.get_run(run_id).lifecycle_stage == "deleted"
    assert home.artifacts.exists(digest(b"would be removed"))


def test_a_blob_younger_than_the_grace_period_is_kept_and_counted(home: Home) -> None:
    home.deleted_run_with(b"deleted and written just now")

    status, out, err = home.gc("--older-than", "0s")  # default grace: a day

    assert status == 0, err
    assert "purged 1 run; removed 0 blobs" in out and "kept 1 unreferenced blob younger" in out
    assert home.artifacts.exists(digest(b"deleted and written just now"))


@pytest.mark.parametrize(("option", "value"), [
    ("--older-than", "30x"), ("--older-than", "-1d"), ("--older-than", "1.5h"), ("--older-than", ""),
    ("--grace", "soon"),
])
def test_a_malformed_duration_is_a_usage_error_naming_the_option(tmp_path: Path, option: str, value: str) -> None:
    done = run_cli(tmp_path, "gc", option, value)
    assert done.returncode == 2
    assert option in done.stderr and "30d" in done.stderr and repr(value) in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "shipyard.db").exists()


def test_gc_refuses_a_configuration_that_points_at_a_server(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "gc", SHIPYARD_URL="http://127.0.0.1:9")
    assert done.returncode == 1
    assert "ConfigError" in done.stderr and "server" in done.stderr
    assert not (tmp_path / "shipyard.db").exists()


def test_gc_help_says_what_is_safe_without_pointing_at_private_modules(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "gc", "--help")
    text = " ".join(done.stdout.split())
    assert done.returncode == 0 and "shipyard.store" not in text and "_gc" not in text
    assert "--grace" in text and "--dry-run first" in text and "belong to this database alone" in text
