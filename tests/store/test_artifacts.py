"""The artifact store: the conformance suite on local disk and on a real S3 server (moto)."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

import shipyard.store.artifacts as artifacts
from shipyard.errors import InvalidInput, MissingExtra, NotFound, StorageError, Unavailable
from shipyard.store.artifacts import FsspecArtifactStore, ObjectRef, open_artifact_store
from shipyard.testing import ArtifactStoreConformance

# Fake credentials for moto, passed explicitly so the environment is never written.
_CREDENTIALS = {"key": "testing", "secret": "testing-secret"}
_S3_OPTIONS: dict[str, Any] = {**_CREDENTIALS, "client_kwargs": {"region_name": "us-east-1"}}


@pytest.fixture(scope="module")
def s3_bucket(s3_server: str) -> str:
    name = f"shipyard-{uuid.uuid4().hex[:12]}"
    boto3.client(
        "s3",
        endpoint_url=s3_server,
        aws_access_key_id=_CREDENTIALS["key"],
        aws_secret_access_key=_CREDENTIALS["secret"],
        region_name="us-east-1",
    ).create_bucket(Bucket=name)
    return name


class BackendExtras:
    """Behaviour of FsspecArtifactStore beyond the shared contract, on every backend."""

    def test_a_truncated_object_is_repaired_by_the_next_put(
        self, artifact_store: FsspecArtifactStore
    ) -> None:
        ref = artifact_store.put_bytes(b"complete content")
        artifact_store.fs.pipe_file(artifact_store.object_path(ref.digest), b"compl")
        assert artifact_store.put_bytes(b"complete content") == ref
        assert artifact_store.get_bytes(ref.digest) == b"complete content"

    def test_objects_fan_out_on_the_first_two_hex_characters(
        self, artifact_store: FsspecArtifactStore
    ) -> None:
        ref = artifact_store.put_bytes(b"where am i")
        path = artifact_store.object_path(ref.digest).replace(os.sep, "/")
        assert path.endswith(f"/objects/{ref.digest[:2]}/{ref.digest[2:]}")
        assert artifact_store.fs.cat_file(artifact_store.object_path(ref.digest)) == b"where am i"

    def test_put_file_of_a_missing_file_raises_not_found(
        self, artifact_store: FsspecArtifactStore, tmp_path: Path
    ) -> None:
        with pytest.raises(NotFound) as info:
            artifact_store.put_file(tmp_path / "absent")
        assert info.value.context["resource"] == "file"


class TestLocalStore(ArtifactStoreConformance, BackendExtras):
    @pytest.fixture
    def artifact_store(self, tmp_path: Path) -> FsspecArtifactStore:
        return FsspecArtifactStore.local(tmp_path / "artifacts")

    def test_no_temporary_files_remain_after_puts(
        self, artifact_store: FsspecArtifactStore, tmp_path: Path
    ) -> None:
        source = tmp_path / "src"
        source.write_bytes(b"x" * 1000)
        artifact_store.put_bytes(b"a")
        artifact_store.put_file(source)
        artifact_store.put_file(source)
        assert os.listdir(tmp_path / "artifacts" / "tmp") == []

    def test_putting_stored_content_does_not_rewrite_it(
        self, artifact_store: FsspecArtifactStore, tmp_path: Path
    ) -> None:
        ref = artifact_store.put_bytes(b"once")
        before = os.stat(artifact_store.object_path(ref.digest))
        (tmp_path / "same").write_bytes(b"once")
        artifact_store.put_bytes(b"once")
        artifact_store.put_file(tmp_path / "same")
        after = os.stat(artifact_store.object_path(ref.digest))
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)

    def test_construction_does_no_io(self, tmp_path: Path) -> None:
        FsspecArtifactStore.local(tmp_path / "later")
        assert not (tmp_path / "later").exists()

    def test_a_root_that_is_a_file_raises_storage_error(self, tmp_path: Path) -> None:
        (tmp_path / "file").write_bytes(b"")
        store = FsspecArtifactStore.local(tmp_path / "file")
        with pytest.raises(StorageError):
            store.put_bytes(b"data")


class TestS3Store(ArtifactStoreConformance, BackendExtras):
    @pytest.fixture
    def artifact_store(self, s3_server: str, s3_bucket: str) -> FsspecArtifactStore:
        # A fresh prefix per test keeps tests independent on the shared bucket.
        return FsspecArtifactStore.s3(
            f"s3://{s3_bucket}/{uuid.uuid4().hex}",
            endpoint_url=s3_server,
            storage_options=_S3_OPTIONS,
        )

    def test_multipart_sized_object_round_trips(
        self, artifact_store: FsspecArtifactStore, tmp_path: Path
    ) -> None:
        data = os.urandom(40 * 2**20)  # > 2 parts of 16 MiB: uploaded as multipart
        source = tmp_path / "big"
        source.write_bytes(data)
        ref = artifact_store.put_file(source)
        assert artifact_store.size(ref.digest) == len(data)
        assert artifact_store.get_file(ref.digest, tmp_path / "back").read_bytes() == data

    def test_unreachable_endpoint_raises_unavailable(self) -> None:
        store = FsspecArtifactStore.s3(
            "s3://bucket/prefix",
            endpoint_url="http://127.0.0.1:9",  # discard port: nothing listens
            storage_options={**_S3_OPTIONS, "config_kwargs": {"retries": {"max_attempts": 1}}},
        )
        store.fs.retries = 1  # s3fs's own retry loop, on our private instance
        with pytest.raises(Unavailable):
            store.get_bytes("0" * 64)
        with pytest.raises(Unavailable):
            store.put_bytes(b"data")

    def test_a_missing_bucket_on_write_raises_storage_error(self, s3_server: str) -> None:
        store = FsspecArtifactStore.s3(
            f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}",
            endpoint_url=s3_server,
            storage_options=_S3_OPTIONS,
        )
        with pytest.raises(StorageError):
            store.put_bytes(b"data")

    def test_repr_names_the_bucket_and_no_credentials(self, artifact_store: FsspecArtifactStore) -> None:
        assert artifact_store.uri in repr(artifact_store)
        assert _CREDENTIALS["secret"] not in repr(artifact_store)


class TestOpenArtifactStore:
    def test_s3_uri_opens_s3_with_the_endpoint_and_ambient_credentials(
        self, s3_server: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", _CREDENTIALS["key"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", _CREDENTIALS["secret"])
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        store = open_artifact_store(f"s3://{s3_bucket}/opened/", s3_endpoint_url=s3_server)
        assert store.uri == f"s3://{s3_bucket}/opened"
        ref = store.put_bytes(b"via uri")
        assert store.get_bytes(ref.digest) == b"via uri"

    def test_plain_path_and_file_url_open_the_same_local_store(self, tmp_path: Path) -> None:
        by_path = open_artifact_store(str(tmp_path))
        by_url = open_artifact_store((tmp_path).as_uri())
        assert isinstance(by_path, FsspecArtifactStore) and by_path.uri == by_url.uri
        ref = by_path.put_bytes(b"shared")
        assert by_url.get_bytes(ref.digest) == b"shared"

    def test_s3_without_s3fs_raises_missing_extra(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setitem(sys.modules, "s3fs", None)  # makes `import s3fs` fail
        with pytest.raises(MissingExtra) as info:
            open_artifact_store("s3://bucket/prefix")
        assert info.value.context == {"module": "s3fs", "extra": "s3"}

    @pytest.mark.parametrize("uri", ["", "gs://bucket", "s3://", "file://remote-host/x"])
    def test_unsupported_uris_are_rejected(self, uri: str) -> None:
        with pytest.raises(InvalidInput) as info:
            open_artifact_store(uri)
        assert info.value.context["field"] == "uri"


def test_public_names_are_pinned() -> None:
    assert artifacts.__all__ == sorted(artifacts.__all__)
    assert set(artifacts.__all__) == {
        "ArtifactStore",
        "FsspecArtifactStore",
        "ObjectReader",
        "ObjectRef",
        "check_digest",
        "open_artifact_store",
        "safe_relpath",
    }


def test_object_ref_is_a_frozen_value() -> None:
    ref = ObjectRef("0" * 64, 1)
    with pytest.raises(AttributeError):
        ref.size = 2  # type: ignore[misc]
    assert ref == ObjectRef("0" * 64, 1) and hash(ref) == hash(ObjectRef("0" * 64, 1))
