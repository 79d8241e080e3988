"""Bytes that do not hash to the digest they are stored under are refused, and nothing of them is kept."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import httpx
import pytest

from shipyard import Client, Config
from shipyard.errors import IntegrityError
from tests.services import running_server

DATA = os.urandom(3 << 20)  # past the server's in-memory spool, so the upload goes through a file
DIGEST = hashlib.sha256(DATA).hexdigest()
WRONG = hashlib.sha256(b"something else").hexdigest()


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.fixture(params=["disk", "s3"])
def server(request: pytest.FixtureRequest, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Callable[[], list[str]]]]:
    """A server over a local or an S3 artifact store, and what that store holds now."""
    config = Config(home=tmp_path / "server")
    staging = tmp_path / "tmp"  # where puts to an object store stage their bytes: the temporary folder
    staging.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(staging))
    if request.param == "s3":
        uri, endpoint = request.getfixturevalue("s3_env"), request.getfixturevalue("s3_server")
        config = config.with_(artifacts=uri, s3_endpoint_url=endpoint)
        bucket, prefix = uri.removeprefix("s3://").split("/", 1)
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")

        def held() -> list[str]:
            listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
            return sorted(o["Key"] for o in listed) + [str(p) for p in _files(staging)]
    else:
        def held() -> list[str]:
            return [str(p) for p in _files(config.home / "artifacts")]
    with running_server(config) as running:
        yield running.url, held


def test_an_upload_that_misses_its_digest_is_400_naming_both_digests_and_keeps_nothing(server) -> None:
    url, held = server
    before = held()
    for _ in range(3):  # a client that tries again does not pile up copies either
        answer = httpx.put(f"{url}/api/v1/datasets/objects/{WRONG}", content=DATA, timeout=60)
        assert answer.status_code == 400
        error = answer.json()["error"]
        assert (error["code"], error["field"]) == ("IntegrityError", "digest")
        assert (error["expected"], error["actual"]) == (WRONG, DIGEST)
        assert WRONG in error["message"] and DIGEST in error["message"]
    assert held() == before
    stored = httpx.put(f"{url}/api/v1/datasets/objects/{DIGEST}", content=DATA, timeout=60)
    assert stored.status_code == 200 and len(held()) == len(before) + 1


def test_a_file_that_changed_since_it_was_hashed_is_refused_and_not_stored(tmp_path: Path) -> None:
    source = tmp_path / "part-0.parquet"
    source.write_bytes(DATA)
    with Client(Config(home=tmp_path / "home")) as client:
        store = client.dataset_store
        store.put_object(tmp_path / "part-0.parquet", DIGEST)
        objects = _files(tmp_path / "home" / "artifacts")
        source.write_bytes(DATA + b"appended after hashing")
        with pytest.raises(IntegrityError) as caught:
            store.put_object(source, DIGEST)
        assert caught.value.expected == DIGEST  # type: ignore[attr-defined]
        assert _files(tmp_path / "home" / "artifacts") == objects
